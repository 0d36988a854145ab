#include "node/raft_wire.h"

#include <gtest/gtest.h>

#include <random>

namespace dnsd::node {
namespace {

raft::Message Sample() {
  raft::Message m;
  m.type = raft::MessageType::kAppend;
  m.from = 0xfeedbeef12345678ull;
  m.to = 7;
  m.term = 9;
  m.log_term = 8;
  m.index = 41;
  m.commit = 40;
  m.entries = {raft::Entry{8, 42, std::string("a\0b", 3)}, raft::Entry{9, 43, ""}};
  m.reject_hint = 3;
  m.reject_hint_term = 2;
  m.transfer = true;
  return m;
}

bool Same(const raft::Message& a, const raft::Message& b) {
  return a.type == b.type && a.from == b.from && a.to == b.to && a.term == b.term &&
         a.log_term == b.log_term && a.index == b.index && a.commit == b.commit &&
         a.reject == b.reject && a.reject_hint == b.reject_hint &&
         a.reject_hint_term == b.reject_hint_term && a.transfer == b.transfer &&
         a.entries == b.entries;
}

TEST(RaftWireTest, RoundTrips) {
  auto decoded = DecodeRaftBatch(EncodeRaftBatch({Sample(), Sample()}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_TRUE(Same((*decoded)[0], Sample()));
}

// A snapshot at (term 3, index 100) from node 1 to node 2, with three voters.
raft::Message SnapshotMessage(std::string data) {
  raft::Message m;
  m.type = raft::MessageType::kSnapshot;
  m.from = 1;
  m.to = 2;
  m.term = 4;
  m.index = 100;
  m.log_term = 3;
  m.conf = raft::ConfState{{1, 2, 3}, {}, {}};
  m.snapshot = std::make_shared<const std::string>(std::move(data));
  return m;
}

TEST(RaftWireTest, SnapshotsTravel) {
  raft::Message m = SnapshotMessage(std::string(100000, 's'));
  m.conf = raft::ConfState{{1, 2, 4}, {5}, {{4, "10.0.0.4:8848"}, {5, "10.0.0.5:8848"}}};
  auto decoded = DecodeRaftBatch(EncodeRaftBatch({m}));
  ASSERT_TRUE(decoded.ok());
  ASSERT_TRUE((*decoded)[0].snapshot);
  EXPECT_EQ(*(*decoded)[0].snapshot, *m.snapshot);
  EXPECT_EQ((*decoded)[0].conf, m.conf) << "the configuration travels with the snapshot";
  m.conf = {};
  EXPECT_FALSE(DecodeRaftBatch(EncodeRaftBatch({m})).ok()) << "a snapshot without voters";
}

TEST(RaftWireTest, SnapshotsTravelInChunksAndAreAssembledInOrderOnly) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data += std::to_string(i);
  const raft::Message m = SnapshotMessage(data);
  auto chunks = ToWireMessages(m, 4096);
  ASSERT_EQ(chunks.size(), (data.size() + 4095) / 4096);
  EXPECT_EQ(ToWireMessages(m, 1 << 20).size(), 1u) << "small enough: one message";

  SnapshotAssembler assembler;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    auto partial = assembler.Add(chunks[i]);
    ASSERT_TRUE(partial.ok());
    EXPECT_FALSE(partial->has_value());
  }
  auto whole = assembler.Add(chunks.back());
  ASSERT_TRUE(whole.ok() && whole->has_value());
  dnsd::peer::RaftBatch batch;
  *batch.add_messages() = **whole;
  auto decoded = FromRaftBatch(batch);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*(*decoded)[0].snapshot, data);
  EXPECT_EQ((*decoded)[0].conf, m.conf);

  // A lost chunk: nothing is delivered until the snapshot starts again.
  SnapshotAssembler gappy;
  ASSERT_TRUE(gappy.Add(chunks[0]).ok());
  auto after_gap = gappy.Add(chunks[2]);
  ASSERT_TRUE(after_gap.ok());
  EXPECT_FALSE(after_gap->has_value());
  for (size_t i = 1; i < chunks.size(); ++i) EXPECT_FALSE(gappy.Add(chunks[i])->has_value());
  // A chunk on its own never reaches the core, and bounds are checked.
  dnsd::peer::RaftBatch lone;
  *lone.add_messages() = chunks[1];
  EXPECT_FALSE(FromRaftBatch(lone).ok());
  dnsd::peer::RaftMessage bad = chunks[1];
  bad.set_chunk_offset(bad.snapshot_size());
  EXPECT_FALSE(SnapshotAssembler().Add(bad).ok());
}

TEST(RaftWireTest, ReadsCarryTheirContext) {
  raft::Message m;
  m.type = raft::MessageType::kReadIndexResponse;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.index = 42;
  m.context = "17";
  auto decoded = DecodeRaftBatch(EncodeRaftBatch({m}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)[0].type, raft::MessageType::kReadIndexResponse);
  EXPECT_EQ((*decoded)[0].context, "17");
  EXPECT_EQ((*decoded)[0].index, 42u);
  m.context = std::string(65, 'x');
  EXPECT_FALSE(DecodeRaftBatch(EncodeRaftBatch({m})).ok()) << "contexts are short";
}

TEST(RaftWireTest, MalformedBatchesAreErrorsNeverCrashes) {
  raft::Message no_sender = Sample();
  no_sender.from = 0;
  EXPECT_FALSE(DecodeRaftBatch(EncodeRaftBatch({no_sender})).ok());
  raft::Message zero_entry = Sample();
  zero_entry.entries[0].term = 0;
  EXPECT_FALSE(DecodeRaftBatch(EncodeRaftBatch({zero_entry})).ok());
  EXPECT_FALSE(DecodeRaftBatch("\xff\xff\xff").ok());
  // Every truncation and many random byte flips of a valid batch either decode or fail
  // cleanly.
  const std::string good = EncodeRaftBatch({Sample()});
  for (size_t cut = 0; cut < good.size(); ++cut) DecodeRaftBatch(good.substr(0, cut)).IgnoreError();
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; ++i) {
    std::string bad = good;
    bad[rng() % bad.size()] = static_cast<char>(rng());
    auto d = DecodeRaftBatch(bad);
    if (d.ok()) {
      for (const auto& m : *d) EXPECT_NE(m.from, 0u);
    }
  }
}

}  // namespace
}  // namespace dnsd::node
