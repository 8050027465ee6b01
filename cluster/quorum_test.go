package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestQuorumWatch(t *testing.T) {
	peers := []Peer{
		{Name: "n1", Actor: "10.0.0.1:7101", Raft: "10.0.0.1:7201"},
		{Name: "n2", Actor: "10.0.0.2:7101", Raft: "10.0.0.2:7201"},
		{Name: "n3", Actor: "10.0.0.3:7101", Raft: "10.0.0.3:7201"},
	}
	all := []string{"10.0.0.1:7101", "10.0.0.2:7101", "10.0.0.3:7101"}
	alone := []string{"10.0.0.1:7101"}
	// look is what the member list shows at a time after the start.
	type look struct {
		at      time.Duration
		members []string
	}
	tests := []struct {
		name  string
		looks []look
		// failsAt is the look that must fail (-1: none).
		failsAt int
		// readyAfter is whether the node is ready after the last look.
		readyAfter bool
	}{
		{"never saw a quorum: still starting, never fails", []look{{0, nil}, {time.Minute, alone}, {time.Hour, alone}}, -1, false},
		{"every node seen", []look{{0, all}, {time.Hour, all}}, -1, true},
		{"a follower lost: two of three are a quorum", []look{{0, all}, {time.Second, all[:2]}, {time.Hour, all[1:]}}, -1, true},
		{"cut off, but not for longer than lossMax", []look{{0, all}, {time.Second, alone}, {4 * time.Second, alone}}, -1, false},
		{"cut off for longer than lossMax", []look{{0, all}, {time.Second, alone}, {4*time.Second + time.Millisecond, alone}}, 2, false},
		{"a quorum again resets the clock", []look{{0, all}, {time.Second, alone}, {3 * time.Second, all[1:]}, {4 * time.Second, alone}, {7 * time.Second, alone}}, -1, false},
		{"members that are not nodes (gateways) and repeats do not count",
			[]look{{0, all}, {time.Second, []string{"10.0.0.1:7101", "10.0.0.1:7101", "10.0.0.9:7101"}}, {5 * time.Second, []string{"10.0.0.1:7101", "10.0.0.9:7101"}}}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newQuorumWatch(peers, 3*time.Second)
			start := time.Unix(1_700_000_000, 0)
			failedAt := -1
			for i, l := range tt.looks {
				err := w.observe(start.Add(l.at), l.members)
				if err != nil {
					if !errors.Is(err, ErrRestartRequired) {
						t.Fatalf("look %d: %v does not say a restart is required", i, err)
					}
					failedAt = i
					break
				}
			}
			if failedAt != tt.failsAt {
				t.Fatalf("failed at look %d, want %d", failedAt, tt.failsAt)
			}
			if ready := w.ready() == nil; ready != tt.readyAfter {
				t.Fatalf("ready = %v, want %v (%v)", ready, tt.readyAfter, w.ready())
			}
		})
	}
}

func TestQuorumWatchRunSendsOneFailure(t *testing.T) {
	w := newQuorumWatch([]Peer{{Name: "a", Actor: "a:1"}, {Name: "b", Actor: "b:1"}, {Name: "c", Actor: "c:1"}}, time.Second)
	tick := make(chan time.Time)
	failed := make(chan error, 1)
	done := make(chan struct{})
	looks := 0 // counted by run's goroutine alone
	members := func() []string {
		looks++
		if looks == 1 {
			return []string{"a:1", "b:1"}
		}
		return []string{"a:1"}
	}
	go func() {
		w.run(context.Background(), tick, members, func(err error) { failed <- err })
		close(done)
	}()
	clock := time.Unix(0, 0)
	tick <- clock
	for range 11 {
		clock = clock.Add(quorumTick)
		tick <- clock
	}
	select {
	case err := <-failed:
		t.Fatalf("failed before lossMax: %v", err)
	default:
	}
	tick <- clock.Add(time.Second)
	<-done
	if err := <-failed; !errors.Is(err, ErrRestartRequired) {
		t.Fatalf("failure %v, want ErrRestartRequired", err)
	}
}

// A cluster that added nodes and removed founding ones counts the nodes it
// has now: the last founding node, with two newcomers around it, sees a
// quorum; a node that joined counts nobody until it has the list.
func TestQuorumWatchCountsTheNodeList(t *testing.T) {
	w := newQuorumWatch([]Peer{{Name: "a", Actor: "a:1"}, {Name: "b", Actor: "b:1"}, {Name: "c", Actor: "c:1"}}, time.Second)
	start := time.Unix(0, 0)
	if err := w.observe(start, []string{"a:1", "b:1", "c:1"}); err != nil || w.ready() != nil {
		t.Fatalf("all founders seen: %v, ready %v", err, w.ready())
	}
	w.setNodes([]string{"c:1", "d:1", "e:1"})
	for i := range 30 {
		if err := w.observe(start.Add(time.Duration(i)*quorumTick), []string{"c:1", "d:1", "e:1"}); err != nil {
			t.Fatalf("look %d: %v", i, err)
		}
	}
	if err := w.ready(); err != nil {
		t.Fatalf("c among d and e: %v", err)
	}

	joined := newQuorumWatch(nil, time.Second)
	for i := range 30 {
		if err := joined.observe(start.Add(time.Duration(i)*quorumTick), nil); err != nil {
			t.Fatalf("joined, look %d: %v", i, err)
		}
	}
	if err := joined.ready(); err != nil {
		t.Fatalf("a node that joined, before the list: %v", err)
	}
	joined.setNodes([]string{"c:1", "d:1", "e:1"})
	if err := joined.observe(start.Add(4*time.Second), []string{"d:1"}); err != nil || joined.ready() == nil {
		t.Fatalf("with the list, seeing 1 of 3: %v, ready %v; want unready", err, joined.ready())
	}
}
