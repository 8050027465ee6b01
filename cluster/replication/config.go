package replication

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"civicard/domain/ledger"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures one Raft group and the ledger it hosts. Start from
// DefaultConfig and set Dir and NodeID. Every replica of a group must run with
// the same Ledger config: its limits decide outcomes.
type Config struct {
	// Dir is this group's data directory, created if missing. It holds wal/
	// (the Raft log and Raft's term and vote, in raft-wal) and snapshots/ (the
	// ledger snapshots of raft's FileSnapshotStore), and a LOCK file that keeps
	// a second process, or a second OpenSingle in this one, out while it is
	// open.
	Dir string
	// NodeID is this node's Raft ServerID. It must not change for a Dir: the
	// group's membership, stored in the log, names it.
	NodeID string
	// Ledger configures the state machine.
	Ledger ledger.Config

	// BatchMax is how many commands one log entry carries at most. Default
	// 1024: one fsync per entry is amortised over up to this many commands.
	BatchMax int
	// InFlightMax is how many log entries may be proposed and not yet
	// committed and applied. While all are in flight, proposals queue and the
	// next entry takes everything queued (up to BatchMax). Default 2: one
	// entry is being written while the next one fills.
	InFlightMax int
	// QueueMax is how many proposals may wait to be batched. Beyond it Propose
	// fails at once with ErrOverloaded rather than letting latency grow
	// without bound. Default 65536.
	QueueMax int
	// ApplyTimeout is how long one raft.Apply may wait for its log entry to be
	// enqueued by the Raft leader loop. It does not bound the commit itself;
	// the caller's context bounds how long Propose waits. Default 5s.
	ApplyTimeout time.Duration

	// SnapshotThreshold is how many log entries (not commands) must have been
	// applied since the last snapshot before Raft takes the next one. A
	// snapshot writes the whole ledger, every stored result included
	// (measured: 150,000 cards and 1.3 million results are 182 MB, 2.3 s of
	// CPU to write, 3.7 s to restore), while replaying an entry costs about
	// 2 us per command. Default 16384: at a city's peak (~1,000 small entries
	// a second) a snapshot every ~16 s at most, and at most ~16 million
	// commands (~35 s) to replay after a crash under a sustained bulk load
	// of full entries; usually far fewer.
	SnapshotThreshold uint64
	// SnapshotInterval is how often Raft checks SnapshotThreshold (randomised
	// up to twice that). Default 2 minutes, raft's own.
	SnapshotInterval time.Duration
	// TrailingLogs is how many log entries are kept behind a snapshot, so a
	// follower that is a little behind catches up from the log instead of
	// receiving a whole snapshot. Default 10240, raft's own: a few MB of
	// small entries, at worst ~1.5 GB of full ones.
	TrailingLogs uint64

	// Logger receives Raft's, raft-wal's and the snapshot store's logs at
	// warn level and above, and this package's own. Nil discards them.
	Logger *slog.Logger
	// Registerer is where the group's metrics (civicard_replication_*) are
	// registered; never pass the global default registry. To host several
	// groups in one process, wrap it with prometheus.WrapRegistererWith and a
	// label that tells them apart. Nil keeps the metrics unexported. Close
	// unregisters them.
	Registerer prometheus.Registerer
}

// Defaults and the bounds Validate holds a Config to.
const (
	defaultBatchMax          = 1024
	defaultInFlightMax       = 2
	defaultQueueMax          = 65536
	defaultApplyTimeout      = 5 * time.Second
	defaultSnapshotThreshold = 16384
	defaultSnapshotInterval  = 2 * time.Minute
	defaultTrailingLogs      = 10240

	// batchMaxLimit bounds how long one entry holds the ledger's write lock
	// (a few microseconds per command) and the results it returns.
	batchMaxLimit = 16384
	// inFlightMaxLimit: more entries in flight only make each one smaller.
	inFlightMaxLimit = 64
	// queueMaxLimit bounds the memory the queue may pin (proposals and their
	// commands).
	queueMaxLimit = 1 << 22
	// applyTimeoutMax: waiting longer than this to enqueue means the group is
	// stuck, and the caller should hear about it.
	applyTimeoutMax = 5 * time.Minute
	// snapshotIntervalMin is raft's own lower bound.
	snapshotIntervalMin = 5 * time.Millisecond
	// nodeIDBytesMax bounds a ServerID, which is stored in every
	// configuration entry.
	nodeIDBytesMax = 256
	// commandBytesMax bounds one encoded command. A tap encodes to about 150
	// bytes; anything near this is a bug or an attack.
	commandBytesMax = 64 << 10
	// entryBytesMax bounds one log entry whatever BatchMax says, so an entry
	// stays far inside a raft-wal segment (64 MiB). At ~150 bytes a command,
	// BatchMax bites first.
	entryBytesMax = 4 << 20
)

// DefaultConfig returns a configuration for a group on a LAN or loopback. Dir
// and NodeID are left empty: they name one group on one node.
func DefaultConfig() Config {
	return Config{
		Ledger:            ledger.DefaultConfig(),
		BatchMax:          defaultBatchMax,
		InFlightMax:       defaultInFlightMax,
		QueueMax:          defaultQueueMax,
		ApplyTimeout:      defaultApplyTimeout,
		SnapshotThreshold: defaultSnapshotThreshold,
		SnapshotInterval:  defaultSnapshotInterval,
		TrailingLogs:      defaultTrailingLogs,
		Logger:            slog.Default(),
	}
}

// Validate rejects missing, contradictory or absurd settings, so a bad
// configuration fails at start and not under load.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("data directory is empty"))
	}
	if c.NodeID == "" {
		errs = append(errs, errors.New("node id is empty"))
	}
	if len(c.NodeID) > nodeIDBytesMax {
		errs = append(errs, fmt.Errorf("node id of %d bytes is longer than %d", len(c.NodeID), nodeIDBytesMax))
	}
	if err := c.Ledger.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.BatchMax < 1 || c.BatchMax > batchMaxLimit {
		errs = append(errs, fmt.Errorf("batch maximum %d is outside [1, %d]", c.BatchMax, batchMaxLimit))
	}
	if c.InFlightMax < 1 || c.InFlightMax > inFlightMaxLimit {
		errs = append(errs, fmt.Errorf("in-flight maximum %d is outside [1, %d]", c.InFlightMax, inFlightMaxLimit))
	}
	if c.QueueMax < 1 || c.QueueMax > queueMaxLimit {
		errs = append(errs, fmt.Errorf("queue maximum %d is outside [1, %d]", c.QueueMax, queueMaxLimit))
	}
	if c.ApplyTimeout <= 0 || c.ApplyTimeout > applyTimeoutMax {
		errs = append(errs, fmt.Errorf("apply timeout %v is outside (0, %v]", c.ApplyTimeout, applyTimeoutMax))
	}
	if c.SnapshotThreshold < 1 {
		errs = append(errs, errors.New("snapshot threshold is 0"))
	}
	if c.SnapshotInterval < snapshotIntervalMin {
		errs = append(errs, fmt.Errorf("snapshot interval %v is below %v", c.SnapshotInterval, snapshotIntervalMin))
	}
	if c.Registerer == prometheus.DefaultRegisterer {
		errs = append(errs, errors.New("metrics registerer is the global default registry; pass one of the process's own"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replication config: %w", err)
	}
	return nil
}
