package sim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// NodeFaultKind is what is done to a node.
type NodeFaultKind uint8

const (
	// FaultKill is kill -9, then a restart on the same data.
	FaultKill NodeFaultKind = iota + 1
	// FaultPause is SIGSTOP, then SIGCONT. A node paused longer than the
	// cluster's failure detector allows stops itself when it wakes, and is
	// started again, as a supervisor would.
	FaultPause
)

func (k NodeFaultKind) String() string {
	switch k {
	case FaultKill:
		return "kill -9"
	case FaultPause:
		return "SIGSTOP"
	}
	return fmt.Sprintf("NodeFaultKind(%d)", k)
}

// NodeFault is one fault injected into a node of a cluster.
type NodeFault struct {
	// At is wall time since the start of the run.
	At   time.Duration
	Kind NodeFaultKind
	Node int
	// Down is how long the node stays killed or paused.
	Down time.Duration
}

// Spacing of node faults: one every faultEvery after the first faultQuiet,
// none in the last faultEvery of a run (so that the run ends on a cluster
// that has recovered).
const (
	faultEvery = 15 * time.Second
	faultQuiet = 5 * time.Second
)

// streamFaults is the PCG stream of the fault plan.
const streamFaults = 0x6661756c74 // "fault"

// PlanNodeFaults returns the node faults of a run of the given length on a
// cluster of nodes nodes, alternating kills and pauses of nodes drawn from
// seed. Faults do not overlap: one node at most is down at a time, so a
// three-node cluster keeps its quorum. Pure: the same arguments give the
// same plan.
func PlanNodeFaults(seed uint64, nodes int, run time.Duration) []NodeFault {
	if nodes < 2 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, streamFaults))
	var out []NodeFault
	kind := FaultKill
	for at := faultQuiet; at+faultEvery <= run; at += faultEvery {
		f := NodeFault{At: at + time.Duration(r.Int64N(int64(faultEvery/3))).Truncate(time.Millisecond), Kind: kind, Node: r.IntN(nodes)}
		switch kind {
		case FaultKill:
			f.Down, kind = time.Duration(1000+r.IntN(2000))*time.Millisecond, FaultPause
		case FaultPause:
			f.Down, kind = time.Duration(3000+r.IntN(2000))*time.Millisecond, FaultKill
		}
		out = append(out, f)
	}
	return out
}
