package actors

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Two nodes in one process each make their kinds with their own Deps; every
// grain a node's kinds activate must reach that node's Deps, not those of
// the node that made its kinds last.
func TestKindsReachTheirOwnDeps(t *testing.T) {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	t.Cleanup(system.Shutdown)
	// A kind's actors read the cluster of their actor system when they
	// start; this one is never started and listens nowhere.
	protocluster.New(system, protocluster.Configure("kinds", nil, nil, remote.Configure("127.0.0.1", 0)))

	depsA := newTestDeps(t, newTestLedger(t))
	depsB := newTestDeps(t, newTestLedger(t))
	kindsA := Kinds(depsA)
	kindsB := Kinds(depsB) // made last: with a global factory, every grain would get depsB
	for _, tc := range []struct {
		kinds []*protocluster.Kind
		deps  *Deps
		name  string
	}{{kindsA, depsA, "A"}, {kindsB, depsB, "B"}} {
		for _, kind := range tc.kinds {
			activate(t, system, kind, testCard)
		}
		for _, label := range []string{"card", "terminal", "institution"} {
			if got := testutil.ToFloat64(tc.deps.Metrics.activations.WithLabelValues(label)); got != 1 {
				t.Errorf("node %s: %s grains activated with its deps: %v, want 1", tc.name, label, got)
			}
		}
	}
}

// activate starts a grain of kind as the cluster would, and waits for its
// answer to a request: by then the grain was made and initialised.
func activate(t *testing.T, system *actor.ActorSystem, kind *protocluster.Kind, identity string) {
	t.Helper()
	props := protocluster.WithClusterIdentity(kind.Props, protocluster.NewClusterIdentity(identity, kind.Kind))
	pid := system.Root.Spawn(props)
	t.Cleanup(func() { system.Root.Stop(pid) })
	// Method 0 with bytes that do not decode: answered before the grain's
	// method runs, after its Init.
	res, err := system.Root.RequestFuture(pid, &protocluster.GrainRequest{MethodIndex: 0, MessageData: []byte{0xff}}, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("%s grain: %v", kind.Kind, err)
	}
	if _, ok := res.(*protocluster.GrainErrorResponse); !ok {
		t.Fatalf("%s grain answered %T, want an error response", kind.Kind, res)
	}
}
