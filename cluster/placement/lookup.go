package placement

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// actorName is the placement actor's name on every member.
const actorName = "civicard-placement"

// Lookup is a protoactor-go IdentityLookup; see the package doc.
type Lookup struct {
	activationTimeout time.Duration

	cluster       *protocluster.Cluster
	placement     *actor.PID
	subscriptions []*eventstream.Subscription

	mu sync.RWMutex
	// membersByKind holds the addresses of the members hosting each kind, in
	// this member's latest view of the topology.
	membersByKind map[string][]string
}

var _ protocluster.IdentityLookup = (*Lookup)(nil)

// New returns a lookup whose activation requests wait at most
// activationTimeout for the owner to answer.
func New(activationTimeout time.Duration) *Lookup {
	return &Lookup{activationTimeout: activationTimeout, membersByKind: map[string][]string{}}
}

// Setup starts the placement actor and follows the topology. A client
// (isClient) hosts no grains but still needs the topology to find them.
func (l *Lookup) Setup(c *protocluster.Cluster, _ []string, _ bool) {
	l.cluster = c
	system := c.ActorSystem
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return newPlacementActor(c, l) }), actorName)
	if err != nil {
		c.Logger().Error("placement: spawn", slog.Any("error", err))
	}
	l.placement = pid
	l.subscriptions = append(l.subscriptions,
		system.EventStream.Subscribe(func(ev any) {
			if topology, ok := ev.(*protocluster.ClusterTopology); ok {
				l.onTopology(topology)
			}
		}),
		// The library broadcasts a terminated activation to every member but
		// nothing removes it from their PID caches: callers would keep
		// sending to a dead or moved grain until a timeout.
		system.EventStream.Subscribe(func(ev any) {
			if t, ok := ev.(*protocluster.ActivationTerminated); ok && t.ClusterIdentity != nil {
				c.PidCache.RemoveByValue(t.ClusterIdentity.Identity, t.ClusterIdentity.Kind, t.Pid)
			}
		}),
	)
}

func (l *Lookup) onTopology(topology *protocluster.ClusterTopology) {
	byKind := map[string][]string{}
	for _, m := range topology.Members {
		for _, kind := range m.Kinds {
			byKind[kind] = append(byKind[kind], m.Address())
		}
	}
	for _, addresses := range byKind {
		slices.Sort(addresses)
	}
	l.mu.Lock()
	l.membersByKind = byKind
	l.mu.Unlock()
	l.cluster.ActorSystem.Root.Send(l.placement, topology)
}

// owner is the address of the member that should host ci in this member's
// view, or "".
func (l *Lookup) owner(ci *protocluster.ClusterIdentity) string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return Owner(ci.AsKey(), l.membersByKind[ci.Kind])
}

// Get returns the grain's PID, activating it on its owner if needed; nil
// when the owner is unknown, unreachable or disagrees that it owns it (the
// cluster's request loop then retries with backoff).
func (l *Lookup) Get(ci *protocluster.ClusterIdentity) *actor.PID {
	owner := l.owner(ci)
	if owner == "" {
		return nil
	}
	res, err := l.cluster.ActorSystem.Root.RequestFuture(actor.NewPID(owner, actorName),
		&protocluster.ActivationRequest{ClusterIdentity: ci}, l.activationTimeout).Result()
	if err != nil {
		return nil
	}
	answer, ok := res.(*protocluster.ActivationResponse)
	if !ok || answer.Failed {
		return nil
	}
	return answer.Pid
}

// RemovePid tells every member that an activation ended.
func (l *Lookup) RemovePid(ci *protocluster.ClusterIdentity, pid *actor.PID) {
	l.cluster.MemberList.BroadcastEvent(&protocluster.ActivationTerminated{Pid: pid, ClusterIdentity: ci}, true)
}

// Shutdown stops following the topology and stops every grain of this
// member.
func (l *Lookup) Shutdown() {
	system := l.cluster.ActorSystem
	for _, s := range l.subscriptions {
		system.EventStream.Unsubscribe(s)
	}
	l.subscriptions = nil
	if l.placement != nil {
		if err := system.Root.PoisonFuture(l.placement).Wait(); err != nil {
			l.cluster.Logger().Error("placement: stop", slog.Any("error", err))
		}
		l.placement = nil
	}
}
