package actors

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// A blocked mailbox must not hold up another: the second piece of work
// unblocks the first, so with any queueing this never ends.
func TestWorkerDispatcherNeverQueuesBehindBlockedWork(t *testing.T) {
	d := newWorkerDispatcher(time.Minute)
	release := make(chan struct{})
	done := make(chan struct{})
	d.Schedule(func() { <-release; close(done) })
	d.Schedule(func() { close(release) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocked work was never released: the second piece waited behind it")
	}
}

func TestWorkerDispatcherRunsEverythingOnce(t *testing.T) {
	d := newWorkerDispatcher(time.Minute)
	const n = 10_000
	var mu sync.Mutex
	ran := make(map[int]int)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		d.Schedule(func() {
			mu.Lock()
			ran[i]++
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	for i := range n {
		if ran[i] != 1 {
			t.Fatalf("work %d ran %d times", i, ran[i])
		}
	}
}

// Work scheduled one after another goes to the same kept worker, and the
// workers leave once idle.
func TestWorkerDispatcherKeepsWorkersThenLetsThemGo(t *testing.T) {
	before := runtime.NumGoroutine()
	d := newWorkerDispatcher(200 * time.Millisecond)
	for range 1000 {
		done := make(chan struct{})
		d.Schedule(func() { close(done) })
		<-done
	}
	// A few workers run them all: one that has just closed done may not
	// be back waiting when the next work comes.
	if n := d.started.Load(); n > 100 {
		t.Errorf("%d workers started for 1000 pieces of work done one at a time, want a few", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still there after the idle time, want %d", runtime.NumGoroutine(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
