// Package settlement runs a Raft group (hashicorp/raft) that hosts one
// ledger (package ledger): the imperative shell around the pure state
// machine. The ledger decides; this package makes its decisions durable,
// ordered and replicated, and answers callers only when they are.
//
// # Using it
//
//	cfg := settlement.DefaultConfig()
//	cfg.Dir, cfg.NodeID = "/var/lib/civicard/settlement/shard-0", "node-1"
//	cfg.Registerer = registry // never prometheus.DefaultRegisterer
//	g, err := settlement.OpenSingle(ctx, cfg) // leader, log applied
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
package settlement
