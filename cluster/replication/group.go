package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
)

var (
	// ErrOverloaded: the proposal queue is full (Config.QueueMax). Nothing
	// was proposed; back off and retry, or shed the request.
	ErrOverloaded = errors.New("replication: overloaded: the proposal queue is full")
	// ErrClosed: the group is closed, or was closed while the proposal
	// waited. If the proposal had reached the log its outcome is unknown; a
	// retry with the same command id after reopening is safe.
	ErrClosed = errors.New("replication: group closed")
	// ErrNotLeader: this node is not the group's Raft leader. Nothing was
	// proposed.
	ErrNotLeader = errors.New("replication: not the leader of the group")
	// ErrInvalid: the command is nil, too large or does not encode. Nothing
	// was proposed; retrying it is pointless.
	ErrInvalid = errors.New("replication: invalid command")
)

// Group is one Raft group hosting one ledger. Its methods are safe for
// concurrent use.
type Group struct {
	cfg     Config
	log     *slog.Logger
	fsm     *fsm
	raft    *raft.Raft
	storage *storage
	net     *network
	metrics *metrics
	leader  *leadership

	// queue holds proposals waiting to be batched.
	// Invariant: len(queue) <= cfg.QueueMax (it is the channel's capacity).
	queue chan *proposal
	// bulk hands ProposeAll's ready-made entries to the batcher, so one
	// goroutine alone calls raft.Apply.
	bulk chan *chunk
	// slots holds one token per log entry in flight.
	// Invariant: len(slots) <= cfg.InFlightMax.
	slots chan struct{}

	stop        chan struct{} // closed by Close: the batcher stops
	batcherDone chan struct{}
	raftDown    chan struct{} // closed by Close as soon as raft.Shutdown returns
	raftStopped chan struct{} // closed by Close after raft has shut down and every entry is answered
	watcherDone chan struct{}
	// entries counts the goroutines awaiting in-flight futures. Only the
	// batcher adds to it, and Close waits for batcherDone before Wait.
	entries sync.WaitGroup
	// barriers counts the goroutines that make a new leader readable. Only
	// watchLeadership adds to it, and Close waits for watcherDone before
	// Wait.
	barriers sync.WaitGroup

	mu     sync.RWMutex
	closed bool // guarded by mu; once set, nothing enters the queue

	closeOnce sync.Once
	closeErr  error
}

// OpenSingle opens (or creates) a group in cfg.Dir with this node as its only
// voter, on raft's in-memory transport. It returns once the node is the
// leader and has applied everything in its log (a raft.Barrier), so the
// ledger it serves is complete; or when ctx ends.
func OpenSingle(ctx context.Context, cfg Config) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return open(ctx, cfg, singleInmem(cfg.NodeID), true)
}

// open starts a group on the given network. It owns net from here on. With
// waitLeader it returns only once this node leads and has applied its whole
// log (OpenSingle); without, as soon as Raft runs (a Host's replica, which
// may never lead).
func open(ctx context.Context, cfg Config, net *network, waitLeader bool) (*Group, error) {
	start := time.Now()
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("group_dir", cfg.Dir, "node", cfg.NodeID)
	hcl := newHCLogger(logger, hclog.Warn)

	g := &Group{
		cfg:         cfg,
		log:         logger,
		net:         net,
		leader:      newLeadership(),
		queue:       make(chan *proposal, cfg.QueueMax),
		bulk:        make(chan *chunk),
		slots:       make(chan struct{}, cfg.InFlightMax),
		stop:        make(chan struct{}),
		batcherDone: make(chan struct{}),
		raftDown:    make(chan struct{}),
		raftStopped: make(chan struct{}),
		watcherDone: make(chan struct{}),
	}
	var err error
	if g.metrics, err = newMetrics(cfg.Registerer, func() int { return len(g.queue) }); err != nil {
		return nil, errors.Join(err, net.close())
	}
	// abort undoes what was opened before raft runs.
	abort := func(err error) error {
		g.metrics.unregister()
		errs := []error{err}
		if g.storage != nil {
			errs = append(errs, g.storage.close())
		}
		return errors.Join(append(errs, net.close())...)
	}
	if g.fsm, err = newFSM(cfg.Ledger, logger, g.metrics); err != nil {
		return nil, abort(err)
	}
	if g.storage, err = openStorage(cfg.Dir, hcl); err != nil {
		return nil, abort(err)
	}
	notify := make(chan bool, 1)
	rc := raftConfig(cfg, hcl.Named("raft"), notify)
	if err := bootstrapIfNew(rc, g.storage, net); err != nil {
		return nil, abort(err)
	}
	// Raft reads every entry back from the log store after writing it: a
	// follower to apply it, the leader to send it to the followers. The
	// cache answers those reads from memory for the newest entries.
	logs, err := raft.NewLogCache(logCacheEntries, g.storage.wal)
	if err != nil {
		return nil, abort(err)
	}
	// NewRaft restores the newest snapshot into the FSM before it returns.
	if g.raft, err = raft.NewRaft(rc, g.fsm, logs, g.storage.wal, g.storage.snaps, net.trans); err != nil {
		return nil, abort(fmt.Errorf("replication: start raft: %w", err))
	}
	go g.watchLeadership(notify)
	go g.runBatcher()

	if waitLeader {
		if err := g.waitReady(ctx); err != nil {
			return nil, errors.Join(err, g.Close())
		}
	}
	g.log.Info("replication: group open", "applied_index", g.raft.AppliedIndex(),
		"ledger_sequence", g.sequence(), "took", time.Since(start).Round(time.Millisecond))
	return g, nil
}

func (g *Group) sequence() (seq uint64) {
	g.fsm.read(func(s *ledger.State) { seq = s.Sequence() })
	return seq
}

// waitReady waits until this node leads and has applied its whole log.
func (g *Group) waitReady(ctx context.Context) error {
	for {
		if err := g.leader.wait(ctx); err != nil {
			return fmt.Errorf("replication: waiting to become leader: %w", err)
		}
		err := g.barrier(ctx)
		if err == nil {
			g.metrics.appliedIndex.Set(float64(g.raft.AppliedIndex()))
			return nil
		}
		if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) {
			return fmt.Errorf("replication: waiting to apply the log: %w", err)
		}
		// Lost leadership in between: wait for it again.
	}
}

func (g *Group) barrier(ctx context.Context) error {
	f := g.raft.Barrier(g.cfg.ApplyTimeout)
	done := make(chan error, 1)
	// The goroutine ends when the barrier does, at the latest when raft
	// shuts down.
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readyForReads waits until a barrier proposed in this leadership term has
// been applied: then the ledger holds every entry committed by an earlier
// leader, which raft does not promise on election alone.
func (g *Group) readyForReads(term uint64) {
	defer g.barriers.Done()
	if err := g.raft.Barrier(g.cfg.ApplyTimeout).Error(); err != nil {
		// Lost leadership or shut down; a new term starts over.
		return
	}
	g.leader.setReadable(term)
}

// leaderRead runs fn on the ledger after checking that this node still
// leads (a round of heartbeats to a quorum, raft.VerifyLeader) and that its
// ledger holds everything committed before its term: what it reads is at
// least as new as every answer Propose gave anywhere before leaderRead was
// called. ErrNotLeader: this node does not lead, or not yet readably.
func (g *Group) leaderRead(ctx context.Context, fn func(*ledger.State)) error {
	if g.isClosed() {
		return ErrClosed
	}
	if !g.leader.isReadable() {
		return ErrNotLeader
	}
	f := g.raft.VerifyLeader()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	g.fsm.read(fn)
	return nil
}

// watchLeadership drains raft's leadership notifications (raft blocks on
// them) until raft has stopped.
func (g *Group) watchLeadership(notify <-chan bool) {
	defer close(g.watcherDone)
	for {
		select {
		case leader := <-notify:
			term := g.leader.set(leader)
			if leader {
				g.metrics.leader.Set(1)
				g.barriers.Add(1)
				go g.readyForReads(term)
			} else {
				g.metrics.leader.Set(0)
			}
		case <-g.raftStopped:
			return
		}
	}
}

// Propose proposes one command and returns the ledger's Result once the log
// entry holding it is committed and applied: an answer is never given for a
// command that a crash could still lose. The Result is shared with the
// ledger's idempotency record and must not be mutated; nor may cmd be
// mutated after the call.
//
// Concurrent proposals are batched into log entries (see the package
// documentation). An error means no Result: ErrOverloaded, ErrNotLeader and
// ErrInvalid mean nothing was proposed; after ErrClosed, a context error or a
// wrapped raft error (raft.ErrLeadershipLost, raft.ErrEnqueueTimeout, ...)
// the outcome is unknown, and the caller retries with the same command id,
// which is safe: an applied id answers with its first result, replayed.
func (g *Group) Propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	res, err := g.propose(ctx, cmd)
	g.metrics.count(res, err)
	return res, err
}

func (g *Group) propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	size, err := checkCommand(cmd)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &proposal{ctx: ctx, cmd: cmd, size: size, done: make(chan outcome, 1)}
	if err := g.enqueue(p); err != nil {
		return nil, err
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		// The command may still be applied; it is only not waited for.
		return nil, fmt.Errorf("replication: stopped waiting, outcome unknown: %w", ctx.Err())
	}
}

func (g *Group) enqueue(p *proposal) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return ErrClosed
	}
	if g.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	select {
	case g.queue <- p:
		return nil
	default:
		return ErrOverloaded
	}
}

// ProposeAll proposes cmds in order, in log entries of at most BatchMax
// commands, and returns their Results in the same order once all are
// committed and applied. It is meant for bulk loads: it does not go through
// the proposal queue, so it neither fails with ErrOverloaded nor crowds out
// Propose beyond taking its turn for in-flight slots.
//
// On an error no Results are returned and any prefix of cmds may have been
// applied: call it again with the same commands (same ids), which is safe.
func (g *Group) ProposeAll(ctx context.Context, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error) {
	res, err := g.proposeAll(ctx, cmds)
	for i := range cmds {
		if err != nil {
			g.metrics.count(nil, err)
		} else {
			g.metrics.count(res[i], nil)
		}
	}
	return res, err
}

func (g *Group) proposeAll(ctx context.Context, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error) {
	if len(cmds) == 0 {
		return []*ledgerv1.Result{}, nil
	}
	chunks, err := splitChunks(cmds, g.cfg.BatchMax)
	if err != nil {
		return nil, err
	}
	results := make([]*ledgerv1.Result, len(cmds))
	// Buffered for every chunk, so no awaiter blocks if we return early.
	done := make(chan error, len(chunks))
	pending := 0
	for _, c := range chunks {
		c.results, c.done = results[c.first:c.first+len(c.cmds)], done
		if err := g.handOver(ctx, c); err != nil {
			return nil, err
		}
		pending++
		// Stop handing over as soon as an earlier entry failed.
		select {
		case err := <-done:
			pending--
			if err != nil {
				return nil, err
			}
		default:
		}
	}
	for ; pending > 0; pending-- {
		select {
		case err := <-done:
			if err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("replication: stopped waiting, outcome unknown: %w", ctx.Err())
		}
	}
	return results, nil
}

func (g *Group) handOver(ctx context.Context, c *chunk) error {
	if g.isClosed() {
		return ErrClosed
	}
	if g.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	select {
	case g.bulk <- c:
		return nil
	case <-g.stop:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("replication: stopped proposing, outcome unknown: %w", ctx.Err())
	}
}

// Ready reports whether the group takes proposals: nil while it is open and
// this node is its Raft leader, else ErrClosed or ErrNotLeader. It does no
// I/O, so a health check may call it on every probe.
func (g *Group) Ready() error {
	if g.isClosed() {
		return ErrClosed
	}
	if g.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return nil
}

// Read runs fn with the ledger under a read lock: proposals wait while it
// runs, so keep it short, and keep no pointer into the state after it
// returns (values the ledger returns as copies, like Card's, are fine). fn
// must not call back into the Group: a Propose from inside it would wait for
// itself.
//
// It reads this node's ledger: everything that Propose answered before Read
// was called is in it. It keeps working after Close, on the last state.
func (g *Group) Read(fn func(*ledger.State)) {
	g.fsm.read(fn)
}

// Digest returns the digest of the ledger's current state: replicas, and a
// node before and after a restart, agree on it exactly when their ledgers are
// equal.
func (g *Group) Digest() [32]byte {
	return g.fsm.freeze().Digest()
}

// Close stops the batcher (queued proposals get ErrClosed), shuts Raft down
// (proposals in flight get ErrClosed unless they already committed), and
// closes the log, the stable store and the transport. It is safe to call
// more than once; later calls return the first call's error.
func (g *Group) Close() error {
	g.closeOnce.Do(func() { g.closeErr = g.close() })
	return g.closeErr
}

func (g *Group) close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	close(g.stop)
	<-g.batcherDone

	var errs []error
	if err := g.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("replication: shut down raft: %w", err))
	}
	close(g.raftDown)
	g.entries.Wait()
	close(g.raftStopped)
	<-g.watcherDone
	g.barriers.Wait()
	g.metrics.leader.Set(0)
	g.metrics.unregister()

	errs = append(errs, g.storage.close(), g.net.close())
	return errors.Join(errs...)
}

func (g *Group) isClosed() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.closed
}

// raftError turns an error of raft.Apply's future into the caller's error.
func (g *Group) raftError(err error) error {
	switch {
	case g.isClosed():
		return fmt.Errorf("%w, outcome unknown: %w", ErrClosed, err)
	case errors.Is(err, raft.ErrNotLeader):
		// Raft refused it before it reached the log.
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	default:
		return fmt.Errorf("replication: outcome unknown: %w", err)
	}
}

// checkCommand returns the encoded size of a command that may be proposed.
func checkCommand(cmd *ledgerv1.Command) (int, error) {
	if cmd == nil {
		return 0, fmt.Errorf("%w: nil", ErrInvalid)
	}
	size := proto.Size(cmd)
	if size > commandBytesMax {
		return 0, fmt.Errorf("%w: encodes to %d bytes, more than %d", ErrInvalid, size, commandBytesMax)
	}
	return size, nil
}

// leadership is whether this node leads, with a way to wait for it, and
// whether the ledger it leads with is complete enough for linearizable reads.
type leadership struct {
	mu     sync.Mutex
	leader bool
	// term counts the changes of leader; readable is true once a barrier
	// proposed in the current term (as leader) has been applied.
	// Invariant: readable implies leader.
	term     uint64
	readable bool
	changed  chan struct{} // closed, and replaced, on every change
}

func newLeadership() *leadership {
	return &leadership{changed: make(chan struct{})}
}

// set records a change and returns the count of changes so far, which
// names this leadership term.
func (l *leadership) set(leader bool) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leader != leader {
		l.leader = leader
		l.term++
		l.readable = false
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return l.term
}

// setReadable marks the leadership of the given term readable, if it still
// holds.
func (l *leadership) setReadable(term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term == term && l.leader {
		l.readable = true
	}
}

func (l *leadership) isReadable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.readable
}

func (l *leadership) wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		leader, changed := l.leader, l.changed
		l.mu.Unlock()
		if leader {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
