package replication

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Raft timing for a LAN or loopback. A round trip there is well under a
// millisecond and an fsync on this class of machine is at most ~16 ms; what
// the timeouts must survive is a saturated 2-core machine (scheduling delays,
// GC) without spurious elections, while still failing over in about a second.
const (
	// raftHeartbeatTimeout: a follower that hears nothing from the leader for
	// this long (randomised up to 2x) starts an election; the leader sends
	// heartbeats every tenth of it (50 ms). It is also how long a lone node
	// waits before electing itself after a start, so it sets OpenSingle's
	// latency (0.5-1 s). Raft's default of 1 s is meant for WANs.
	raftHeartbeatTimeout = 500 * time.Millisecond
	// raftElectionTimeout: how long a candidate waits for votes before it
	// tries again (randomised up to 2x). Raft requires it >= the heartbeat
	// timeout.
	raftElectionTimeout = 500 * time.Millisecond
	// raftLeaderLeaseTimeout: a leader that cannot reach a quorum for this
	// long steps down, so a partitioned leader stops answering within it.
	// Five heartbeat intervals; raft requires it <= the heartbeat timeout.
	raftLeaderLeaseTimeout = 250 * time.Millisecond
	// raftCommitTimeout: with no new entries, the leader still sends an
	// AppendEntries this often so followers learn the commit index and
	// apply. It does not delay commits (new entries trigger replication at
	// once). Raft's default.
	raftCommitTimeout = 50 * time.Millisecond
	// raftMaxAppendEntries: entries per AppendEntries RPC and per batch taken
	// from the apply channel. Measured 2.5-2.8x throughput over the default 64
	// at high concurrency (notes/raft.md); raft allows at most 1024.
	raftMaxAppendEntries = 512
	// logCacheEntries: the newest log entries kept in memory, so that raft
	// reads them back from there (a follower to apply them, the leader to
	// send each to every follower) and not from the log on disk with a copy
	// and a decode each time. With InFlightMax entries proposed at a time
	// a few suffice; an entry holds at most entryBytesMax, so this bounds
	// the cache at 64 MiB a group, reached only while big batches flow (a
	// demo load).
	logCacheEntries = 16
	// snapshotsRetained: the newest snapshot and one before it, in case the
	// newest turns out unreadable.
	snapshotsRetained = 2
)

// raftConfig is the one place raft.Config is filled in.
func raftConfig(cfg Config, logger hclog.Logger, notify chan<- bool) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = raftHeartbeatTimeout
	rc.ElectionTimeout = raftElectionTimeout
	rc.LeaderLeaseTimeout = raftLeaderLeaseTimeout
	rc.CommitTimeout = raftCommitTimeout
	rc.MaxAppendEntries = raftMaxAppendEntries
	// BatchApplyCh lets raft.Apply calls queue up to MaxAppendEntries deep, so
	// the leader writes them to the log in one fsync.
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	// On start, restore the newest snapshot into the ledger, then the log
	// after it is applied once this node (as leader) commits again; Open's
	// barrier waits for that.
	rc.NoSnapshotRestoreOnStart = false
	// NotifyCh feeds the leader gauge and Open's wait for leadership. Raft
	// blocks on it, so the group drains it until shutdown.
	rc.NotifyCh = notify
	// A replica removed from its group stays up as a silent follower until
	// its Host leaves the group, instead of raft shutting itself down under
	// the batcher's feet: a raft.Apply racing with raft's own shutdown can
	// leave its future unanswered forever.
	rc.ShutdownOnRemove = false
	rc.Logger = logger
	// Raft's go-metrics go to its global sink, which nothing here reads; skip
	// the per-peer duplicates at least.
	rc.NoLegacyTelemetry = true
	return rc
}

// network is how a node reaches its peers, and which servers form the group
// when it is bootstrapped on an empty directory. OpenSingle uses the
// in-memory transport with one voter; a TCP variant for several nodes takes
// its place without touching the rest of the package.
type network struct {
	trans raft.Transport
	// bootstrap is the configuration a brand-new group starts with; none
	// (no servers) for a replica that waits for a leader to contact it.
	bootstrap raft.Configuration
	close     func() error
}

// singleInmem is a one-voter group on raft's in-memory transport: the
// embedded, one-process default. The address is the node id, so it is the
// same across restarts, as is the bootstrap configuration naming it.
func singleInmem(nodeID string) *network {
	addr, trans := raft.NewInmemTransport(raft.ServerAddress(nodeID))
	return &network{
		trans: trans,
		bootstrap: raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(nodeID),
			Address:  addr,
		}}},
		close: trans.Close,
	}
}

// bootstrapIfNew writes the network's initial configuration into an empty
// directory. A directory with any Raft state (term, log or snapshot) keeps
// the membership it has: bootstrapping again would fork the group's history.
func bootstrapIfNew(rc *raft.Config, st *storage, net *network) error {
	existing, err := raft.HasExistingState(st.wal, st.wal, st.snaps)
	if err != nil {
		return fmt.Errorf("replication: inspect raft state: %w", err)
	}
	if existing || len(net.bootstrap.Servers) == 0 {
		return nil
	}
	if err := raft.BootstrapCluster(rc, st.wal, st.wal, st.snaps, net.trans, net.bootstrap); err != nil {
		return fmt.Errorf("replication: bootstrap group: %w", err)
	}
	return nil
}
