package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clusterFault is one fault the cluster must survive.
type clusterFault struct {
	name string
	// stallMax is the longest an operation sent just after the fault may
	// wait; 0 only reports it (a paused or cut-off node is not a crash: it
	// is noticed only by timeouts, and a client's attempts that reach it
	// or its grains time out first).
	stallMax time.Duration
	// resumeMax, if set, is the longest the cluster may acknowledge nothing
	// after the fault: the time until taps resume.
	resumeMax time.Duration
	// inject returns when the fault is over (or has been made).
	inject func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome
}

// faultOutcome is what a fault did.
type faultOutcome struct {
	// at are the moments a node failed or stopped.
	at []time.Time
	// alive are the nodes alive afterwards.
	alive []bool
}

func TestClusterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 civicard nodes per fault")
	}
	faults := []clusterFault{
		{name: "kill -9 of a follower", stallMax: 3 * time.Second, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
			victim := c.pick(t, false)
			at := time.Now()
			c.nodes[victim].Kill()
			return faultOutcome{at: []time.Time{at}, alive: c.aliveWithout(victim)}
		}},
		{name: "kill -9 of the node leading the most groups", stallMax: 3 * time.Second, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
			victim := c.pick(t, true)
			at := time.Now()
			c.nodes[victim].Kill()
			return faultOutcome{at: []time.Time{at}, alive: c.aliveWithout(victim)}
		}},
		{name: "SIGSTOP of the leader for 10 s, then SIGCONT", stallMax: 0, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
			victim := c.pick(t, true)
			at := time.Now()
			if err := c.nodes[victim].Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			l.waitAcked(t, 300)
			// The fault is a pause of 10 s: what the test waits for is
			// its length, not a condition.
			time.Sleep(10*time.Second - time.Since(at))
			if err := c.nodes[victim].Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			// Declared dead while paused, it must not linger as a member
			// nobody routes to: it stops, and its supervisor (here, the
			// test) starts it again.
			waitExit(t, c.nodes[victim], 15*time.Second, fmt.Sprintf("n%d (woken from a 10 s pause, declared dead meanwhile)", victim+1))
			c.expectRestartRequired(t, victim)
			c.restart(t, victim)
			return faultOutcome{at: []time.Time{at}, alive: c.aliveWithout(-1)}
		}},
		{name: "rolling restart of every node", stallMax: 5 * time.Second, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
			var stops []time.Time
			for i, node := range c.nodes {
				stops = append(stops, time.Now())
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := node.Stop(ctx)
				cancel()
				if err != nil {
					t.Fatalf("stop n%d: %v", i+1, err)
				}
				c.restart(t, i)
				l.waitAcked(t, 200)
			}
			return faultOutcome{at: stops, alive: c.aliveWithout(-1)}
		}},
	}
	for _, fault := range faults {
		t.Run(fault.name, func(t *testing.T) { fault.run(t, startCluster(t, 3)) })
	}
}

// run drives taps and top-ups through every gateway of c, injects the
// fault under load, keeps the load going, and checks the outcome against
// the record of what was acknowledged.
func (fault clusterFault) run(t *testing.T, c *testCluster) {
	t.Helper()
	l := startClusterLoad(t, c, 24, 4, 300, 0)
	l.waitAcked(t, 600)
	outcome := fault.inject(t, c, l)
	l.waitAcked(t, 600)
	var stall, gap time.Duration
	for _, at := range outcome.at {
		stall = max(stall, l.stall(at, 2*time.Second))
		gap = max(gap, l.gap(at, 10*time.Second))
	}
	l.finish()
	l.verify(t, slices.Index(outcome.alive, true))
	c.checkReplicas(t, outcome.alive, l)
	t.Logf("%s: %d operations acknowledged, %d sent; an operation sent in the 2 s after the fault waited at most %v; no operation was acknowledged for %v at most",
		fault.name, len(l.acked), len(l.tried), stall.Round(time.Millisecond), gap.Round(time.Millisecond))
	if fault.stallMax > 0 && stall > fault.stallMax {
		t.Errorf("an operation sent after the fault waited %v, want taps to resume within %v", stall, fault.stallMax)
	}
	if fault.resumeMax > 0 && gap > fault.resumeMax {
		t.Errorf("nothing was acknowledged for %v after the fault, want taps to resume within %v", gap, fault.resumeMax)
	}
}

// pick returns the alive node leading the most groups (leader) or a node
// leading none (a follower).
func (c *testCluster) pick(t *testing.T, leader bool) int {
	t.Helper()
	leaders := c.leaders(t, c.aliveWithout(-1))
	// Shards hold the money: leading one weighs more than the registry.
	weight := func(i int) int {
		w := 0
		for _, g := range leaders[i] {
			w++
			if strings.HasPrefix(g, "shard-") {
				w += 10
			}
		}
		return w
	}
	best := -1
	for i := range c.nodes {
		switch {
		case leader && (best < 0 || weight(i) > weight(best)):
			best = i
		case !leader && weight(i) == 0:
			return i
		}
	}
	if !leader {
		t.Fatalf("every node leads a group: %v", leaders)
	}
	return best
}
