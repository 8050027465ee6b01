// Package replication runs Raft groups (hashicorp/raft), each hosting one
// ledger (domain/ledger): the imperative shell around the pure state
// machine. The ledger decides; this package makes its decisions durable,
// ordered and replicated, and answers callers only when they are.
// (Replication means Raft here and only here; settlement, the money paid
// to institutions, is domain/settlement.)
//
// There are two ways in. A Host is one node of a cluster: replicas of
// several groups (the registry and the ledger shards), one TCP listener,
// proposals and reads that reach each group's leader from any node. Every
// node runs one, `civicard up` included (cluster.StartEmbedded: a cluster
// of one node, its registry and one shard on this node alone). OpenSingle
// opens one group on its own, with this node as its only voter, on raft's
// in-memory transport: `civicard admin verify` opens a stopped node's
// groups so, and the package's tests do. Both run the same Group
// underneath: the same batcher, state machine and storage.
//
// # Using one group
//
//	cfg := replication.DefaultConfig()
//	cfg.Dir, cfg.NodeID = "/var/lib/civicard/shard-0", "node-1"
//	cfg.Registerer = registry // never prometheus.DefaultRegisterer
//	g, err := replication.OpenSingle(ctx, cfg) // leader, log applied
//	...
//	res, err := g.Propose(ctx, &ledgerv1.Command{Id: "tap/T-KAT-001/42", Kind: ...})
//	...
//	g.Read(func(s *ledger.State) { card, ok = s.Card(id) })
//	...
//	err = g.Close()
//
// # Acknowledgement after commit
//
// Propose returns a Result only after the log entry holding the command has
// been committed (written and fsynced by a quorum; with one voter, by this
// node) and applied by the ledger. A crash after the answer loses nothing:
// the entry is in the log, and a restart applies it again to the same
// result. A crash before the answer leaves either nothing or the whole
// command, never part of it: the ledger applies a command entirely or not at
// all. The FSM's answer travels in the future's Response, not its Error; an
// Error means Raft could not say whether the entry committed.
//
// # Group commit
//
// One fsync costs 0.2-16 ms here, so one entry per command would cap a group
// at a few thousand commands a second. Instead a single batcher goroutine
// packs whatever proposals are queued (up to Config.BatchMax) into one log
// entry, a ledgerv1.Batch, with at most Config.InFlightMax entries proposed
// and not yet applied. There is no linger timer: a lone proposal leaves at
// once, and under load the proposals that arrive during one fsync form the
// next entry. The FSM answers an entry with one Result per command, and each
// waiter gets its own. The queue is bounded (Config.QueueMax); beyond it
// Propose fails at once with ErrOverloaded instead of letting latency grow.
// ProposeAll (bulk loads) hands ready-made entries to the same batcher, so
// one goroutine alone calls raft.Apply and entries reach the log in the
// order they were formed.
//
// # After an unknown outcome
//
// A context that ends while Propose waits, ErrClosed, raft.ErrLeadershipLost
// or an enqueue timeout all mean the same thing: the command may or may not
// have been applied. The caller must retry with the same command id,
// unchanged (for a charge: the same expected card version). The ledger keeps
// the first result of every id, so the retry either applies the command
// once or answers with that first result, marked replayed. It must not make
// up a new id: that could charge twice. A STATUS_STALE_VERSION answer is
// different: nothing was recorded under the id, and the caller reloads the
// card, decides again and proposes with the new version.
// ErrOverloaded, ErrNotLeader and ErrInvalid mean nothing was proposed.
//
// # Where the data lives
//
// Config.Dir holds:
//
//	LOCK        flock held while the group is open (one opener at a time)
//	wal/        the Raft log and Raft's stable store (current term, vote):
//	            raft-wal segment files and wal-meta.db (bolt)
//	snapshots/  the newest two ledger snapshots (raft's FileSnapshotStore:
//	            one directory each, meta.json and state.bin)
//
// On open, a directory without Raft state is bootstrapped with this node as
// the only voter; one with state keeps its membership. Raft restores the
// newest snapshot into a fresh ledger, then, once this node leads, applies
// the log after it; OpenSingle returns when that is done (a Raft barrier),
// so the first Read already sees every acknowledged command. Raft takes a
// snapshot every Config.SnapshotThreshold entries and keeps
// Config.TrailingLogs entries behind it.
//
// # Reads
//
// Read runs a function under the ledger's read lock, on this node's state.
// With one voter that state holds every acknowledged command. Digest hashes
// the whole ledger; two replicas, or one node before and after a restart,
// have equal digests exactly when their ledgers are equal.
//
// # Using a cluster: Host
//
//	cfg := replication.DefaultHostConfig()
//	cfg.NodeID, cfg.Dir, cfg.RaftAddr = "node-1", "/var/lib/civicard", "10.0.0.1:7100"
//	cfg.Registerer = registry
//	h, err := replication.OpenHost(ctx, cfg)
//	...
//	voters := []replication.Peer{{"node-1", "10.0.0.1:7100"}, {"node-2", "10.0.0.2:7100"}, {"node-3", "10.0.0.3:7100"}}
//	err = h.Join(ctx, replication.GroupSpec{Name: replication.ShardGroup(0), Voters: voters})
//	...
//	group := replication.ShardGroup(replication.ShardOf(cardID, shards))
//	res, err := h.Propose(ctx, group, cmd)           // from any node
//	r, err := h.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_CardId{CardId: cardID}}) // linearizable, from any node
//	...
//	err = h.Close()
//
// Each group lives in Dir/<group>/, laid out as above. ShardOf (FNV-1a 64
// of the card id, modulo the shard count) is part of the on-disk contract:
// it and a cluster's shard count never change once cards are open.
//
// Bootstrap rule: GroupSpec.Voters lists a new group's voters in an order
// every node agrees on; the node named first bootstraps the group with
// exactly those voters if, and only if, its Dir/<group> holds no Raft
// state. The others start empty and wait for the leader to reach them.
// After that the membership lives in the group's log and changes only
// through AddNonvoter, AddVoter and RemoveServer (Join the new node with no
// Voters first). Moving a replica: Join on the new node, AddNonvoter, wait
// until its GroupStatus.AppliedIndex reaches the leader's CommitIndex as of
// the add, AddVoter, RemoveServer the old one, Leave on the old node.
//
// # One listener
//
// All of a node's traffic, Raft's for every group and forwarding, shares
// HostConfig.RaftAddr. Each connection starts with a one-line preamble,
// "raft <group>\n" or "forward\n" (mux.go); a custom raft.StreamLayer per
// group writes it on dial and the listener dispatches on it, so each group
// runs raft's unchanged NetworkTransport. Unknown groups and malformed
// preambles are dropped; Raft retries as it would for a peer that is down.
//
// # Forwarding and retries
//
// Propose, ProposeAll, Query and the membership changes run at the local
// replica if it leads; otherwise they go, one hop, to the leader this
// node's replica knows (or, for a group it does not replicate, one of the
// peers given to Route, which redirects). The protocol is length-prefixed
// protobuf (messages/replication/v1), pipelined over a few connections per
// peer: a writer goroutine writes every queued request and flushes once, a
// reader hands each response to its caller by id; the receiver serves each
// request in its own goroutine and batches its answers the same way. The
// leader's batcher then packs forwarded and local proposals alike into log
// entries. The receiver
// never forwards further: if it does not lead it answers NOT_LEADER and
// names the leader it knows; the sender tries there at once, once, and
// otherwise backs off (5 ms doubling to 100 ms) and tries again. After an
// unknown outcome (a leader lost mid-way, a connection cut after the
// request left) a proposal is retried unchanged: the ledger answers a
// repeated command id with its first result, marked replayed, so the
// caller gets the true result or, when its context or
// HostConfig.AttemptsMax runs out, ErrOutcomeUnknown; never a result made
// up for another attempt. ErrNoLeader means no attempt reached a leader
// and nothing was proposed.
//
// Reads: Query carries a replication.v1.Query to the leader like a
// proposal and runs it there after raft.VerifyLeader, on a ledger that has
// applied a barrier of the leader's term, so it sees every acknowledged
// proposal. The answer is the ledger's (ledger.State.Answer): this package
// knows no kind of query, and one the ledger cannot answer is ErrInvalid.
// The typed reads (a card, a statement ...) are the cluster's
// (cluster/reads.go). Read does the same with a callback at a local leader;
// ReadLocal reads this replica as it is (on a follower, milliseconds
// behind).
//
// # Timing and limits on a LAN
//
// Raft: heartbeat and election timeouts 500 ms, leader lease 250 ms
// (raft.go): a leader's loss is noticed in 0.5-1 s and a new one elected
// in about a second (measured here: proposals resume 1.0-1.3 s after the
// leader's host closes). Raft RPCs have a 5 s I/O deadline and keep 3
// connections per peer. Forwarding: connect 500 ms, a request without a
// context deadline 1 minute, the receiver stops 20 ms (or a tenth) before
// the sender would, a connection is closed after 60 s without calls
// (servers: 2 minutes without requests) or when a call gave up and nothing
// at all came back on it for 2 s (a vanished machine sends no reset).
// Bounded: requests in flight (HostConfig.ForwardInFlightMax, beyond it
// ErrOverloaded), connections per peer (ForwardConnsPerPeer), requests
// queued per connection (1,024) and in service per connection at the
// receiver (4,096), attempts per call (AttemptsMax), frames (16 MiB),
// ProposeAll pieces (8,192 commands or 4 MiB), connections waiting for a
// group's transport (64); what one query lists is bounded by the ledger
// (ledger.QueryTransactionsMax, QueryBatchesMax). Each is documented
// where it is defined (host_config.go, mux.go).
//
// # Metrics
//
// Under the registerer's "group" label, every group's metrics above, plus
// civicard_replication_raft_state, last_log_index, commit_index,
// apply_lag_entries and leader_contact_age_seconds (a follower's time since
// it heard from its leader: raft does not expose a follower's match index
// to the leader's user). civicard_replication_attempts_total{group, outcome}
// counts every attempt of a Host call, local_ outcomes at this node's
// leader and the others forwarded.
package replication
