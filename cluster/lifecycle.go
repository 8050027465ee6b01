package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// A node is an ordered list of components (doc.go, "Start and stop", has
// the list and why it is in that order). The node starts them in order and
// stops them in the reverse order; before the first stop, each component
// that can hands its work over to other nodes, in start order. Every hand-
// over and every stop has its own bound: a component still busy when it
// passes is logged as stuck and left behind, and the node goes on, so that
// one stuck part cannot hold the process.

// component is one part of a running node.
type component interface {
	// Start brings the component up. ctx bounds the start, not the
	// component's life: what it runs lasts until Stop.
	Start(ctx context.Context) error
	// Stop ends what Start began. ctx ends at the component's stop bound;
	// a Stop still running then is left behind.
	Stop(ctx context.Context) error
}

// readier is a component that can tell why the node should take no
// requests. The node is ready when every component is.
type readier interface {
	Ready() error
}

// handsOver is a component with work other nodes take over before this one
// stops (Raft leadership, the membership). A node the cluster has taken for
// dead skips hand-overs: nobody would take its work, and its stop must be
// quick.
type handsOver interface {
	HandOver(ctx context.Context)
}

// The components, and the optional parts each has: a method that drifted
// from these signatures would silently never be called.
var (
	_ component = (*raftGroups)(nil)
	_ readier   = (*raftGroups)(nil)
	_ handsOver = (*raftGroups)(nil)
	_ component = (*settlementSchedule)(nil)
	_ component = (*seeding)(nil)
	_ component = (*actorMember)(nil)
	_ handsOver = (*actorMember)(nil)
	_ component = (*scalerLoop)(nil)
	_ readier   = (*scalerLoop)(nil)
	_ component = (*loop)(nil) // the pause watch
	_ component = (*quorumLoop)(nil)
	_ readier   = (*quorumLoop)(nil)
)

// part is a component in a node's list: its name for the logs, and how
// long its hand-over and its stop may each take.
type part struct {
	name    string
	c       component
	stopMax time.Duration
}

// parts runs a node's components. Not safe for concurrent use: start, then
// stop once.
type parts struct {
	list    []part
	started int // list[:started] were started
	logger  *slog.Logger
}

// start starts the components in order. When one fails, it stops those
// already started (without hand-over) and returns the error.
func (p *parts) start(ctx context.Context) error {
	for _, pt := range p.list[p.started:] {
		if err := pt.c.Start(ctx); err != nil {
			return errors.Join(fmt.Errorf("starting the %s: %w", pt.name, err), p.stop(false, time.Time{}))
		}
		p.started++
	}
	return nil
}

// ready joins the readiness of the components, in order.
func (p *parts) ready() error {
	var errs []error
	for _, pt := range p.list[:p.started] {
		if r, ok := pt.c.(readier); ok {
			errs = append(errs, r.Ready())
		}
	}
	return errors.Join(errs...)
}

// stop hands the started components' work over (if handOver) in start
// order, then stops them in the reverse order. Each step is bounded by its
// part's stopMax and, if deadline is not zero, by deadline. It returns the
// stops' errors, stuck ones included.
func (p *parts) stop(handOver bool, deadline time.Time) error {
	whole := context.Background()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		whole, cancel = context.WithDeadline(whole, deadline)
		defer cancel()
	}
	started := p.list[:p.started]
	p.started = 0
	if handOver {
		for _, pt := range started {
			if h, ok := pt.c.(handsOver); ok {
				p.bounded(whole, pt, "hand-over", func(ctx context.Context) error { h.HandOver(ctx); return nil })
			}
		}
	}
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		pt := started[i]
		if err := p.bounded(whole, pt, "stop", pt.c.Stop); err != nil {
			errs = append(errs, fmt.Errorf("cluster: stopping the %s: %w", pt.name, err))
		}
	}
	return errors.Join(errs...)
}

// bounded runs step of pt and waits for it at most pt.stopMax (and until
// whole ends). A step that overruns keeps running, unwaited for.
func (p *parts) bounded(whole context.Context, pt part, step string, run func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(whole, pt.stopMax)
	defer cancel()
	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		p.logger.Warn("component stuck; going on without it", slog.String("component", pt.name), slog.String("step", step),
			slog.Duration("after", time.Since(began).Round(time.Millisecond)))
		return fmt.Errorf("%s did not end in time: %w", step, ctx.Err())
	}
}

// loop is a component that runs one function in its own goroutine from
// Start until Stop (the watches, the scaler, the settlement schedule).
type loop struct {
	run    func(ctx context.Context)
	cancel context.CancelFunc
	done   chan struct{}
}

func (l *loop) Start(ctx context.Context) error {
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(life)
	}()
	return nil
}

func (l *loop) Stop(ctx context.Context) error {
	l.cancel()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loopStopMax bounds the stop of a loop: each looks at its context at
// least every tick (the longest is the scaler's 500 ms) and its calls end
// with it.
const loopStopMax = time.Second
