package replication

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
)

// errCorruptEntry answers every command of a log entry that does not decode
// as a ledgerv1.Batch. Such an entry changed nothing, on every replica.
var errCorruptEntry = errors.New("replication: log entry does not decode as a ledger batch; nothing applied")

// fsm is the raft.FSM around the ledger. Raft calls Apply, Snapshot and
// Restore from one goroutine; readers (Group.Read, Group.Digest) come from
// others, hence the lock.
//
// Apply is deterministic: the same entries give the same state and results on
// every replica. Its only side effects outside the ledger are a log line for
// a corrupt entry and the applied-index gauge.
type fsm struct {
	ledgerCfg ledger.Config
	log       *slog.Logger
	metrics   *metrics

	mu    sync.RWMutex
	state *ledger.State // guarded by mu; replaced whole by Restore
}

var (
	_ raft.FSM         = (*fsm)(nil)
	_ raft.FSMSnapshot = (*fsmSnapshot)(nil)
)

func newFSM(cfg ledger.Config, log *slog.Logger, m *metrics) (*fsm, error) {
	st, err := ledger.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("replication: new ledger: %w", err)
	}
	return &fsm{ledgerCfg: cfg, log: log, metrics: m, state: st}, nil
}

// Apply applies one log entry, a ledgerv1.Batch, and returns one Result per
// command, in order, as a []*ledgerv1.Result; or an error if the entry does
// not decode, in which case nothing is applied.
func (f *fsm) Apply(l *raft.Log) any {
	defer f.metrics.appliedIndex.Set(float64(l.Index))
	var batch ledgerv1.Batch
	if err := proto.Unmarshal(l.Data, &batch); err != nil {
		f.log.Error("replication: skipped a log entry that does not decode",
			"index", l.Index, "term", l.Term, "bytes", len(l.Data), "err", err)
		return fmt.Errorf("%w (index %d: %v)", errCorruptEntry, l.Index, err)
	}
	results := make([]*ledgerv1.Result, len(batch.Commands))
	f.mu.Lock()
	for i, cmd := range batch.Commands {
		results[i] = f.state.Apply(cmd)
	}
	f.mu.Unlock()
	return results
}

// Snapshot freezes the ledger, which is quick; Persist writes it out while
// Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{frozen: f.freeze()}, nil
}

// Restore replaces the ledger with the one in the snapshot. Raft closes rc.
func (f *fsm) Restore(rc io.ReadCloser) error {
	st, err := ledger.Restore(f.ledgerCfg, rc)
	if err != nil {
		return fmt.Errorf("replication: restore ledger snapshot: %w", err)
	}
	f.mu.Lock()
	f.state = st
	f.mu.Unlock()
	return nil
}

// freeze copies the ledger's state (O(cards), a few milliseconds for the
// city's 150,000) under the read lock: Freeze only reads, so it needs Apply
// kept out, not other readers.
func (f *fsm) freeze() *ledger.Frozen {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.Freeze()
}

func (f *fsm) read(fn func(*ledger.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

type fsmSnapshot struct {
	frozen *ledger.Frozen
}

// Persist writes the frozen ledger to the sink without holding any lock. The
// file sink buffers and checksums what it is given.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.frozen.WriteTo(sink); err != nil {
		return errors.Join(fmt.Errorf("replication: write ledger snapshot: %w", err), sink.Cancel())
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("replication: close ledger snapshot: %w", err)
	}
	return nil
}

func (s *fsmSnapshot) Release() {}
