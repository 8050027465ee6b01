package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// events records what the fake components did, in order.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// fake is a component that records its calls; stuck makes its Stop block
// (past any bound) until the channel closes.
type fake struct {
	name     string
	ev       *events
	startErr error
	readyErr error
	stuck    chan struct{}
}

func (f *fake) Start(context.Context) error { f.ev.add("start " + f.name); return f.startErr }
func (f *fake) Ready() error                { return f.readyErr }
func (f *fake) Stop(context.Context) error {
	if f.stuck != nil {
		<-f.stuck
	}
	f.ev.add("stop " + f.name)
	return nil
}

// handing is a fake with a hand-over.
type handing struct{ fake }

func (h *handing) HandOver(context.Context) { h.ev.add("hand over " + h.name) }

// stopWithin runs p.stop and fails the test unless it returns within
// limit.
func stopWithin(t *testing.T, p *parts, handOver bool, deadline time.Time, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.stop(handOver, deadline) }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("stop still runs after %v", limit)
		return nil
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPartsStartInOrderAndStopInReverse(t *testing.T) {
	ev := &events{}
	p := parts{logger: quietLogger(), list: []part{
		{name: "a", c: &handing{fake{name: "a", ev: ev}}, stopMax: time.Second},
		{name: "b", c: &fake{name: "b", ev: ev}, stopMax: time.Second},
		{name: "c", c: &handing{fake{name: "c", ev: ev}}, stopMax: time.Second},
	}}
	if err := p.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"start a", "start b", "start c", "hand over a", "hand over c", "stop c", "stop b", "stop a"}
	if got := ev.get(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// A component that fails to start stops those before it, in the reverse
// order, without a hand-over; the ones after it never start.
func TestPartsFailedStartStopsThoseStarted(t *testing.T) {
	ev := &events{}
	broken := errors.New("port in use")
	p := parts{logger: quietLogger(), list: []part{
		{name: "a", c: &handing{fake{name: "a", ev: ev}}, stopMax: time.Second},
		{name: "b", c: &fake{name: "b", ev: ev}, stopMax: time.Second},
		{name: "c", c: &fake{name: "c", ev: ev, startErr: broken}, stopMax: time.Second},
		{name: "d", c: &fake{name: "d", ev: ev}, stopMax: time.Second},
	}}
	err := p.start(context.Background())
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "starting the c") {
		t.Fatalf("start = %v, want the error of c", err)
	}
	want := []string{"start a", "start b", "start c", "stop b", "stop a"}
	if got := ev.get(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// A stuck component is given its own bound, logged, and left behind; the
// components before it in start order still stop.
func TestPartsStuckStopIsSkippedPast(t *testing.T) {
	ev := &events{}
	stuck := make(chan struct{})
	defer close(stuck)
	const bound = 200 * time.Millisecond
	p := parts{logger: quietLogger(), list: []part{
		{name: "a", c: &fake{name: "a", ev: ev}, stopMax: time.Second},
		{name: "b", c: &fake{name: "b", ev: ev, stuck: stuck}, stopMax: bound},
		{name: "c", c: &fake{name: "c", ev: ev}, stopMax: time.Second},
	}}
	if err := p.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err := stopWithin(t, &p, true, time.Time{}, bound+time.Second)
	took := time.Since(began)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stopping the b") {
		t.Fatalf("stop = %v, want b named as stuck", err)
	}
	if took < bound || took > bound+time.Second {
		t.Fatalf("stop took %v, want about b's bound %v", took, bound)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop a"}
	if got := ev.get(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// A node taken for dead hands nothing over, and its whole stop ends by the
// deadline even when every component is stuck with a long bound of its
// own.
func TestPartsLostStopIsBoundedAsAWhole(t *testing.T) {
	ev := &events{}
	stuck := make(chan struct{})
	defer close(stuck)
	var list []part
	for _, name := range []string{"a", "b", "c"} {
		list = append(list, part{name: name, c: &handing{fake{name: name, ev: ev, stuck: stuck}}, stopMax: time.Minute})
	}
	p := parts{logger: quietLogger(), list: list}
	if err := p.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const whole = 300 * time.Millisecond
	err := stopWithin(t, &p, false, time.Now().Add(whole), whole+time.Second)
	for _, name := range []string{"a", "b", "c"} {
		if !strings.Contains(err.Error(), "stopping the "+name) {
			t.Errorf("stop = %v, want %s named as stuck", err, name)
		}
	}
	for _, e := range ev.get() {
		if strings.HasPrefix(e, "hand over") {
			t.Fatalf("a node taken for dead handed over: %q", ev.get())
		}
	}
}

// The node is ready when every component is; otherwise it says why, every
// reason.
func TestPartsReadinessIsTheJoin(t *testing.T) {
	ev := &events{}
	noLeader, draining := errors.New("group shard-0 has no leader"), errors.New("node n1 is draining")
	a := &fake{name: "a", ev: ev}
	b := &fake{name: "b", ev: ev}
	p := parts{logger: quietLogger(), list: []part{{name: "a", c: a, stopMax: time.Second}, {name: "b", c: b, stopMax: time.Second}}}
	if err := p.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.ready(); err != nil {
		t.Fatalf("ready = %v, want nil", err)
	}
	a.readyErr, b.readyErr = noLeader, draining
	if err := p.ready(); !errors.Is(err, noLeader) || !errors.Is(err, draining) {
		t.Fatalf("ready = %v, want both reasons", err)
	}
}
