// DistroCore under a fake clock: merging, batching, retry with backoff, verify, ownership.
#include "distro/distro_core.h"

#include <gtest/gtest.h>

namespace dnsd::distro {
namespace {

const std::string kA = "127.0.0.1:8848";
const std::string kB = "127.0.0.2:8848";
const std::string kC = "127.0.0.3:8848";

DistroOptions Options() {
  DistroOptions o;
  o.sync_delay_ms = 10;
  o.verify_interval_ms = 5000;
  o.retry_min_ms = 100;
  o.retry_max_ms = 800;
  o.lost_owner_grace_ms = 15'000;
  o.max_batch_clients = 3;
  return o;
}

class DistroCoreTest : public ::testing::Test {
 protected:
  DistroCoreTest() : core_(kA, {kA, kB, kC}, Options()) { core_.SetUpPeers({kB, kC}, 0); }
  DistroCore core_;
};

TEST_F(DistroCoreTest, ChangesWithinTheDelayAreMergedIntoOneSend) {
  core_.OnLocalChange("conn-1", 1000);
  core_.OnLocalChange("conn-1", 1004);
  core_.OnLocalChange("conn-1", 1009);
  EXPECT_TRUE(core_.Poll(1009).sync.empty()) << "not before the first change + delay";
  auto work = core_.Poll(1010);
  ASSERT_EQ(work.sync.size(), 2u);
  EXPECT_EQ(work.sync[kB], std::vector<std::string>{"conn-1"});
  EXPECT_EQ(work.sync[kC], std::vector<std::string>{"conn-1"});
  EXPECT_EQ(core_.revision("conn-1"), 1009u) << "the owner's clock at the last change";
  EXPECT_TRUE(core_.Poll(2000).sync.empty());
}

TEST_F(DistroCoreTest, OneCallInFlightPerPeerAndBatchesAreBounded) {
  for (int i = 0; i < 5; ++i) core_.OnLocalChange("conn-" + std::to_string(i), 0);
  auto work = core_.Poll(10);
  EXPECT_EQ(work.sync[kB].size(), 3u);
  EXPECT_TRUE(core_.Poll(11).sync.empty()) << "the first call is still in flight";
  core_.OnSyncDone(kB, work.sync[kB], true, 12);
  core_.OnSyncDone(kC, work.sync[kC], true, 12);
  work = core_.Poll(13);
  EXPECT_EQ(work.sync[kB].size(), 2u);
  EXPECT_EQ(core_.pending(kB), 0u);
}

TEST_F(DistroCoreTest, AFailedCallIsRetriedWithGrowingBackoffAndNewestData) {
  core_.OnLocalChange("conn-1", 0);
  auto work = core_.Poll(10);
  core_.OnSyncDone(kC, work.sync[kC], true, 11);
  int64_t now = 11;
  std::vector<int64_t> retries;
  for (int attempt = 0; attempt < 5; ++attempt) {
    core_.OnSyncDone(kB, {"conn-1"}, false, now);
    int64_t t = now + 1;
    while (core_.Poll(t).sync.empty()) ++t;
    retries.push_back(t - now);
    now = t;
  }
  EXPECT_EQ(retries, (std::vector<int64_t>{100, 200, 400, 800, 800}));
  EXPECT_EQ(core_.lag_ms(now), now - 10) << "B has waited for the change since it was first sent";
  EXPECT_EQ(core_.peer_lag_ms(kB, now), now - 10);
  EXPECT_EQ(core_.peer_lag_ms(kC, now), 0) << "C has everything";
  EXPECT_EQ(core_.peer_lag_ms("10.9.9.9:8848", now), 0) << "not a peer";
  EXPECT_EQ(core_.syncs_failed(), 5u);
  // A change meanwhile is sent once, with the newer revision.
  core_.OnLocalChange("conn-1", now);
  core_.OnSyncDone(kB, {"conn-1"}, true, now);
  work = core_.Poll(now + 10);
  EXPECT_EQ(work.sync[kB], std::vector<std::string>{"conn-1"});
  EXPECT_GT(core_.revision("conn-1"), 10u);
  core_.OnSyncDone(kB, work.sync[kB], true, now + 11);
  core_.OnSyncDone(kC, work.sync[kC], true, now + 11);
  core_.Poll(now + 12);
  EXPECT_EQ(core_.lag_ms(now + 12), 0);
}

TEST_F(DistroCoreTest, APeerThatIsDownGetsNothingUntilItIsBack) {
  core_.SetUpPeers({kC}, 0);
  core_.OnLocalChange("conn-1", 0);
  auto work = core_.Poll(10);
  EXPECT_FALSE(work.sync.contains(kB));
  EXPECT_EQ(core_.pending(kB), 1u);
  core_.SetUpPeers({kB, kC}, 20);
  work = core_.Poll(21);
  EXPECT_EQ(work.sync[kB], std::vector<std::string>{"conn-1"});
}

TEST_F(DistroCoreTest, ReceiverTakesNewerCopiesRefusesItsOwnAndVerifiesByDigest) {
  DistroCore b(kB, {kA, kB, kC}, Options());
  b.SetUpPeers({kA, kC}, 0);
  EXPECT_EQ(b.OnRemote(kA, "conn-0", 3, false, 0), DistroCore::Accept::kApply);
  EXPECT_EQ(b.OnRemote(kA, "conn-0", 2, false, 0), DistroCore::Accept::kStale);
  b.CompareList(kA, {});  // A no longer has conn-0: B drops it
  EXPECT_EQ(b.clients(), 0u);
  b.OnLocalChange("conn-9", 0);
  EXPECT_EQ(b.OnRemote(kA, "conn-9", 1, false, 0), DistroCore::Accept::kRefused);

  core_.OnLocalChange("conn-1", 0);
  core_.OnLocalChange("conn-2", 0);
  core_.Poll(10);  // revisions 1 and 1
  auto summary = core_.LocalSummary(false);
  EXPECT_EQ(summary.count, 2u);
  EXPECT_FALSE(b.SummaryMatches(kA, summary.count, summary.digest));
  auto listed = core_.LocalSummary(true).clients;
  auto answer = b.CompareList(kA, listed);
  EXPECT_EQ(answer.resend, (std::vector<std::string>{"conn-1", "conn-2"}));
  b.OnRemote(kA, "conn-1", core_.revision("conn-1"), false, 0);
  b.OnRemote(kA, "conn-2", core_.revision("conn-2"), false, 0);
  EXPECT_TRUE(b.SummaryMatches(kA, summary.count, summary.digest));

  // The owner deleted conn-2 and the deletion was lost: the list drops it.
  core_.MarkGone("conn-2", 20);
  answer = b.CompareList(kA, core_.LocalSummary(true).clients);
  EXPECT_TRUE(answer.resend.empty());
  EXPECT_EQ(answer.drop, std::vector<std::string>{"conn-2"});
}

TEST_F(DistroCoreTest, VerifyIsSentEveryIntervalToEachPeer) {
  EXPECT_TRUE(core_.Poll(0).verify.empty()) << "the first summary goes one interval after start";
  auto work = core_.Poll(5000);
  EXPECT_EQ(work.verify.size(), 2u);
  core_.OnVerifyDone(kB, true, 5001);
  core_.OnVerifyDone(kC, false, 5001);
  work = core_.Poll(7000);
  EXPECT_EQ(work.verify, std::vector<std::string>{kC}) << "a failed verify is retried soon";
  core_.OnVerifyDone(kC, true, 7001);
  EXPECT_TRUE(core_.Poll(9999).verify.empty());
  EXPECT_EQ(core_.Poll(10'000).verify, std::vector<std::string>{kB});
}

TEST_F(DistroCoreTest, HttpClientsMoveWithTheRingAndGrpcClientsOfALostOwnerAreDropped) {
  // Find HTTP clients the ring gives to B and to A.
  std::string of_b, of_a;
  for (int i = 0; of_b.empty() || of_a.empty(); ++i) {
    const std::string id = "10.1.0.1:" + std::to_string(1000 + i) + "#true";
    if (core_.ring().OwnerOf(id) == kB && of_b.empty()) of_b = id;
    if (core_.ring().OwnerOf(id) == kA && of_a.empty()) of_a = id;
  }
  EXPECT_EQ(core_.OnRemote(kB, of_b, 7, false, 0), DistroCore::Accept::kApply);
  core_.OnLocalChange(of_a, 0);
  core_.Poll(10);
  EXPECT_EQ(core_.OnRemote(kB, "conn-b", 1, false, 0), DistroCore::Accept::kApply);

  // B goes down: its HTTP client is re-owned (here or by C), its gRPC client waits for the grace.
  auto change = core_.SetUpPeers({kC}, 100);
  const bool adopted_here = core_.ring().OwnerOf(of_b) == kA;
  EXPECT_EQ(change.adopted.size(), adopted_here ? 1u : 0u);
  EXPECT_EQ(core_.OwnerOf(of_b), adopted_here ? kA : kC);
  if (adopted_here) {
    EXPECT_EQ(core_.revision(of_b), 7u) << "the copy's data, at its revision";
  }
  EXPECT_TRUE(core_.Poll(15'099).drop.empty());
  EXPECT_TRUE(core_.Poll(15'100).drop.empty()) << "the timers are swept once a second";
  EXPECT_EQ(core_.Poll(16'099).drop, std::vector<std::string>{"conn-b"});

  // B comes back: the clients the ring gives B again are released to it.
  change = core_.SetUpPeers({kB, kC}, 20'000);
  EXPECT_EQ(change.released.size(), adopted_here ? 1u : 0u);
  EXPECT_EQ(core_.OwnerOf(of_b), kB);
  EXPECT_EQ(core_.OwnerOf(of_a), kA);
}

TEST_F(DistroCoreTest, AReleasedClientIsHandedToItsNewOwnerWhichAdoptsIt) {
  // While A saw no peer, it owned every HTTP client; one registered then belongs to B.
  core_.SetUpPeers({}, 0);
  DistroCore b(kB, {kA, kB, kC}, Options());
  b.SetUpPeers({kA, kC}, 0);
  std::string id;
  for (int i = 0; id.empty(); ++i) {
    const std::string candidate = "10.2.0.1:" + std::to_string(2000 + i) + "#true";
    if (b.ring().OwnerOf(candidate) == kB) id = candidate;
  }
  core_.OnLocalChange(id, 0);
  core_.Poll(10);
  auto change = core_.SetUpPeers({kB, kC}, 20);  // healed
  EXPECT_EQ(change.released, std::vector<std::string>{id});
  // B's summary (which cannot list it yet) does not make A drop its only copy.
  EXPECT_TRUE(core_.CompareList(kB, {}).drop.empty());
  auto work = core_.Poll(21);
  EXPECT_EQ(work.sync[kB], std::vector<std::string>{id}) << "the data goes to the new owner";
  EXPECT_EQ(work.sync[kC], std::vector<std::string>{id})
      << "and to the others, whose ring may differ";
  EXPECT_EQ(b.OnRemote(kA, id, core_.revision(id), false, 22), DistroCore::Accept::kAdopt);
  EXPECT_EQ(b.OwnerOf(id), kB);
  EXPECT_EQ(b.local_clients(), 1u);
  // A failed hand-over is retried.
  core_.OnSyncDone(kB, work.sync[kB], false, 23);
  work = core_.Poll(200);
  EXPECT_EQ(work.sync[kB], std::vector<std::string>{id});
  core_.OnSyncDone(kB, work.sync[kB], true, 201);
  EXPECT_TRUE(core_.CompareList(kB, {}).drop.empty()) << "B has not sent its own copy yet";
  // Once B's copy has come, B's summary governs A's copy.
  EXPECT_EQ(core_.OnRemote(kB, id, b.revision(id), false, 202), DistroCore::Accept::kApply);
  EXPECT_EQ(core_.CompareList(kB, {}).drop, std::vector<std::string>{id});
}

TEST_F(DistroCoreTest, AfterAPartitionTheLaterWriteOfAClientWinsAndCopiesWaitForTheirNewOwner) {
  DistroCore b(kB, {kA, kB, kC}, Options());
  DistroCore c(kC, {kA, kB, kC}, Options());
  b.SetUpPeers({kA, kC}, 0);
  c.SetUpPeers({kA, kB}, 0);
  std::string id;  // an HTTP client B owns in the whole cluster, and A while B is down
  for (int i = 0; id.empty(); ++i) {
    const std::string candidate = "10.3.0.1:" + std::to_string(3000 + i) + "#true";
    if (HashRing({kA, kB, kC}).OwnerOf(candidate) == kB &&
        HashRing({kA, kC}).OwnerOf(candidate) == kA) {
      id = candidate;
    }
  }
  // C holds B's copy.
  b.OnLocalChange(id, 0);
  b.Poll(10);
  ASSERT_EQ(c.OnRemote(kB, id, b.revision(id), false, 11), DistroCore::Accept::kApply);
  ASSERT_EQ(core_.OnRemote(kB, id, b.revision(id), false, 11), DistroCore::Accept::kApply);
  // A is cut off: it owns every client it sees, and changes this one at 5000; B at 3000.
  EXPECT_EQ(core_.SetUpPeers({}, 1000).adopted, std::vector<std::string>{id});
  EXPECT_EQ(core_.OwnerOf(id), kA);
  b.OnLocalChange(id, 3000);
  b.Poll(3010);
  core_.OnLocalChange(id, 5000);
  core_.Poll(5010);
  // Healed: A hands the client to B, whose own write is older: A's write wins.
  auto change = core_.SetUpPeers({kB, kC}, 6000);
  ASSERT_EQ(change.released, std::vector<std::string>{id});
  EXPECT_EQ(b.OnRemote(kA, id, core_.revision(id), false, 6001), DistroCore::Accept::kAdopt);
  EXPECT_EQ(b.revision(id), 5000u) << "A's write, at its revision";
  // A hand-over of an older write is refused: the owner's later write stands.
  EXPECT_EQ(b.OnRemote(kA, id, 4000, false, 6002), DistroCore::Accept::kRefused);

  // C saw A's ring change as well: a copy retargeted to an owner that has not sent it yet is
  // not removed by that owner's summary, and goes if no data comes.
  DistroCore d(kC, {kA, kB, kC}, Options());
  d.SetUpPeers({kA}, 0);  // B down: A owns the client in C's view
  ASSERT_EQ(d.OnRemote(kA, id, 5010, false, 10), DistroCore::Accept::kApply);
  d.SetUpPeers({kA, kB}, 20);
  EXPECT_EQ(d.OwnerOf(id), kB);
  EXPECT_TRUE(d.CompareList(kB, {}).drop.empty());
  EXPECT_EQ(d.CompareList(kB, {{id, 6003}}).resend, std::vector<std::string>{id});
  EXPECT_EQ(d.Poll(20 + Options().lost_owner_grace_ms).drop, std::vector<std::string>{id});
}

}  // namespace
}  // namespace dnsd::distro
