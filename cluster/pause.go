package cluster

import (
	"context"
	"fmt"
	"time"
)

// A member that stops answering for long enough (SIGSTOP, a VM frozen, a
// swap storm) is declared dead by the others, and the actor library then
// blocks its identity for good: when it wakes up it still believes it is a
// member, but no other member will route to it or accept its connections,
// so it would only serve errors. The ledger is safe either way (Raft and the
// card versions guard it); the node must not linger as such a zombie. It
// watches for pauses, and after one that long it fails, so that its
// supervisor (systemd, Kubernetes) starts it again as a new member.

const (
	// pauseTick is how often the watch looks at the clock.
	pauseTick = 100 * time.Millisecond
	// pauseMax is the longest gap between two looks that cannot have got
	// this member declared dead: below the automanaged provider's 2 s health
	// timeout plus one refresh.
	pauseMax = 2 * time.Second
)

// watchPauses calls fail once when two ticks (a time.Ticker's, which carry
// the time they fired: after a pause, the time of waking) are more than
// pauseMax apart, and returns; or returns when ctx ends. start is the time
// before the first tick.
func watchPauses(ctx context.Context, start time.Time, tick <-chan time.Time, fail func(error)) {
	last := start
	for {
		var current time.Time
		select {
		case <-ctx.Done():
			return
		case current = <-tick:
		}
		if gap := current.Sub(last); gap > pauseMax {
			fail(fmt.Errorf("cluster: %w: this process did not run for %v (paused or starved): the cluster has likely declared it dead and blocks its identity; stopping so it can be started again as a new member", ErrRestartRequired, gap.Round(time.Millisecond)))
			return
		}
		last = current
	}
}

// newPauseWatch is the watch as a node's component: it runs from Start to
// Stop and calls fail once.
func newPauseWatch(fail func(error)) *loop {
	return &loop{run: func(ctx context.Context) {
		ticker := time.NewTicker(pauseTick)
		defer ticker.Stop()
		watchPauses(ctx, time.Now(), ticker.C, fail)
	}}
}
