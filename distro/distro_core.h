// DistroCore is the Distro protocol's bookkeeping for one node, as a pure state machine: no
// clock, thread or I/O (time comes in as `now_ms`), so the merge, retry and ownership rules
// run under a fake clock in unit tests. The Distro shell (distro/distro.h) turns its Work into
// calls to peers and registry changes.
//
// The unit of replication is a client (registry/registry.h): its owner sends the client's whole
// publication, so a copy is replaced, never patched, and any later copy repairs any earlier loss.
// - Owner side: a local change marks the client dirty; changes within `sync_delay_ms` of the
//   first are merged into one send (the data is read when it is sent). Each peer has a set of
//   clients to send (bounded by the number of clients, however long the peer is away), at most
//   one call in flight, and exponential backoff after a failed call. Every
//   `verify_interval_ms` each peer gets a summary (count + digest of id and revision) of this
//   node's clients.
// - Receiver side: a copy is taken unless this node owns the client itself or it is older than
//   the copy held from the same owner. A summary that does not match the copies held from that
//   owner asks for the list, then for what differs; copies of clients the owner no longer lists
//   are dropped.
// - Ownership: a gRPC client is owned by the node holding its connection; an HTTP client by its
//   place on the hash ring of this node and the peers that are up. When the ring changes, HTTP
//   clients move (adopted here, or released to their new owner, which is sent the client's data
//   once: after a partition it may never have seen it); a gRPC client whose owner is
//   down for `lost_owner_grace_ms` is dropped (it reconnects to another node and registers
//   again there).
//
// Thread-safety: none; the shell serialises calls.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "distro/hash_ring.h"

namespace dnsd::distro {

struct DistroOptions {
  int64_t sync_delay_ms = 10;
  int64_t verify_interval_ms = 5000;
  int64_t retry_min_ms = 100;
  int64_t retry_max_ms = 5000;
  int64_t lost_owner_grace_ms = 15'000;
  size_t max_batch_clients = 512;
  // A deleted client's record is kept this long, so a late copy from before the deletion
  // is not taken for new data.
  int64_t tombstone_ms = 600'000;
};

class DistroCore {
 public:
  // `self` and `peers`: addresses (ip:port of the HTTP port) of this node and the others.
  DistroCore(std::string self, std::vector<std::string> peers, DistroOptions options);

  // ---- Membership
  struct OwnershipChange {
    std::vector<std::string> adopted;   // HTTP clients this node owns now
    std::vector<std::string> released;  // HTTP clients another node owns now
  };
  // The peers that are up (reachable); one not known yet (added at run time) becomes a peer.
  // Recomputes the ring and moves HTTP clients.
  OwnershipChange SetUpPeers(const std::set<std::string>& up, int64_t now_ms);
  const HashRing& ring() const { return ring_; }
  const std::set<std::string>& up_peers() const { return up_; }
  const std::string& self() const { return self_; }
  // The node that writes this client: the ring's choice for an HTTP client, else its record's.
  std::string OwnerOf(const std::string& client_id) const;
  // The member the hash ring gives `key` among the members up (other work split the same way:
  // which member checks a service's health).
  std::string RingOwnerOf(std::string_view key) const { return ring_.OwnerOf(key); }

  // ---- Owner side
  // A local client changed (it is this node's from now on).
  void OnLocalChange(const std::string& client_id, int64_t now_ms);
  struct Work {
    std::map<std::string, std::vector<std::string>> sync;  // peer -> clients to send now
    std::vector<std::string> verify;                       // peers to send a summary now
    std::vector<std::string> drop;      // copies to remove here (their owner was lost)
    std::vector<std::string> released;  // written here, but the ring gives them to another
  };
  Work Poll(int64_t now_ms);
  // How long until Poll has something to do (at most a second: timers of lost owners).
  int64_t MsUntilWork(int64_t now_ms) const;
  // Shutting down: every change is due now and every peer may be tried at once.
  void FlushAll(int64_t now_ms);
  // Changes not yet delivered to a peer that is up.
  size_t undelivered() const;
  uint64_t revision(const std::string& client_id) const;
  // The shell found no instances when reading a client to send: it is deleted.
  void MarkGone(const std::string& client_id, int64_t now_ms);
  void OnSyncDone(const std::string& peer, const std::vector<std::string>& clients, bool delivered,
                  int64_t now_ms);
  void OnVerifyDone(const std::string& peer, bool delivered, int64_t now_ms);
  // A peer asked for these clients again.
  void Resend(const std::string& peer, const std::vector<std::string>& clients);
  struct Summary {
    uint64_t count = 0;
    uint64_t digest = 0;
    std::vector<std::pair<std::string, uint64_t>> clients;  // with_list only, sorted
  };
  Summary LocalSummary(bool with_list) const;

  // ---- Receiver side
  // kAdopt: apply, and the client is this node's from now on (the ring gives it to this node,
  // or this node owns it and the copy is a later write than its own).
  enum class Accept { kApply, kAdopt, kStale, kRefused };
  // A copy of `client_id` at `revision` sent by `from` (`gone`: it has no instances). A
  // released client's data is a copy like any other: the later write wins.
  Accept OnRemote(const std::string& from, const std::string& client_id, uint64_t revision,
                  bool gone, int64_t now_ms);
  bool SummaryMatches(const std::string& from, uint64_t count, uint64_t digest) const;
  struct VerifyAnswer {
    std::vector<std::string> resend;  // ask the owner for these
    std::vector<std::string> drop;    // remove these copies here
  };
  VerifyAnswer CompareList(const std::string& from,
                           const std::vector<std::pair<std::string, uint64_t>>& listed);

  // ---- Snapshot
  struct Held {
    std::string client_id;
    std::string owner;
    uint64_t revision = 0;
  };
  std::vector<Held> HeldClients() const;  // every live client, own and copies

  // ---- Observability
  size_t clients() const;
  size_t local_clients() const;
  size_t pending(const std::string& peer) const;
  size_t pending_total() const;
  // Replication lag: how long the oldest undelivered change has waited for a peer that is up
  // (as of the last Poll); 0 when every up peer has everything.
  int64_t lag_ms(int64_t now_ms) const;
  // The same toward one peer (whether it is up or not); 0 when it has everything.
  int64_t peer_lag_ms(const std::string& peer, int64_t now_ms) const;
  bool IsKnownPeer(const std::string& node) const;
  uint64_t syncs_failed() const { return syncs_failed_; }

 private:
  // A member's address, interned: 8 bytes in each of the (many) records instead of 32, and
  // compared like the string it names.
  class Member {
   public:
    Member() : name_(&Intern("")) {}
    Member& operator=(const std::string& name) {
      name_ = &Intern(name);
      return *this;
    }
    operator const std::string&() const { return *name_; }  // NOLINT: reads as the string
    bool operator==(const std::string& other) const { return *name_ == other; }
    bool operator==(const Member& other) const { return name_ == other.name_; }

   private:
    static const std::string& Intern(const std::string& name);
    const std::string* name_;
  };
  struct Record {
    Member owner;
    uint64_t revision = 0;
    bool gone = false;
    int64_t gone_ms = 0;
    int64_t owner_lost_ms = 0;  // when its (gRPC) owner was last seen going down; 0: up
    // Released to `owner` by a ring change; its data goes there once, since the new owner may
    // never have had it (it was written here while the two could not talk).
    bool handoff = false;
    // Who sent the data held. A copy whose owner changed with the ring before the new owner
    // sent anything (source != owner) is not removed by that owner's summaries, and is
    // dropped if no data comes within lost_owner_grace_ms.
    Member source;
    int64_t retargeted_ms = 0;
  };
  // Gives a client this node wrote to `target`, whose data it is sent once.
  void Release(const std::string& client_id, Record& record, const std::string& target,
               int64_t now_ms);
  void Retarget(Record& record, const std::string& owner, int64_t now_ms);
  // A revision is the owner's clock (ms) at the client's last change, or one more than the
  // previous revision: when two members wrote the same client during a partition, the later
  // write wins. A change of owner keeps the revision (the data did not change).
  static uint64_t NextRevision(uint64_t revision, int64_t now_ms);
  struct PeerState {
    std::set<std::string> pending;
    bool in_flight = false;
    int64_t retry_at_ms = 0;
    int64_t backoff_ms = 0;
    int64_t next_verify_ms = 0;
    int64_t waiting_since_ms = 0;  // since when it has had changes not yet delivered (0: none)
  };
  static uint64_t DigestOf(const std::string& client_id, uint64_t revision);
  bool IsUp(const std::string& node) const { return node == self_ || up_.contains(node); }

  const std::string self_;
  const DistroOptions options_;
  HashRing ring_;
  std::set<std::string> up_;
  absl::flat_hash_map<std::string, Record> records_;
  std::map<std::string, int64_t> dirty_;  // client -> when its first unsent change happened
  std::map<std::string, PeerState> peers_;
  uint64_t syncs_failed_ = 0;
  int64_t last_sweep_ms_ = 0;
};

}  // namespace dnsd::distro
