package cluster

import (
	"context"
	"testing"
	"time"
)

func TestWatchPausesFailsAfterALongGap(t *testing.T) {
	clock := time.Unix(0, 0)
	tick := make(chan time.Time)
	failed := make(chan error, 1)
	done := make(chan struct{})
	start := clock
	go func() {
		watchPauses(context.Background(), start, tick, func(err error) { failed <- err })
		close(done)
	}()
	for range 50 { // five seconds of regular ticks: nothing
		clock = clock.Add(pauseTick)
		tick <- clock
	}
	select {
	case err := <-failed:
		t.Fatalf("failed without a pause: %v", err)
	default:
	}
	clock = clock.Add(pauseMax + time.Millisecond) // woken after a SIGSTOP
	tick <- clock
	<-done
	if err := <-failed; err == nil {
		t.Fatal("no failure after a pause")
	}
}

func TestWatchPausesStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		watchPauses(ctx, time.Now(), make(chan time.Time), func(error) {})
		close(done)
	}()
	cancel()
	<-done
}
