package placement

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
)

type activation struct {
	identity *protocluster.ClusterIdentity
	pid      *actor.PID
}

// placementActor activates and tracks the grains this member owns.
type placementActor struct {
	cluster *protocluster.Cluster
	lookup  *Lookup
	// byKey and keyByPID index the same activations.
	byKey    map[string]activation
	keyByPID map[string]string
}

func newPlacementActor(c *protocluster.Cluster, l *Lookup) *placementActor {
	return &placementActor{cluster: c, lookup: l, byKey: map[string]activation{}, keyByPID: map[string]string{}}
}

func (p *placementActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *protocluster.ActivationRequest:
		p.activate(ctx, msg.ClusterIdentity)
	case *actor.Terminated:
		p.terminated(msg.Who)
	case *protocluster.ClusterTopology:
		p.rebalance(ctx)
	case *actor.Stopping:
		p.stopAll(ctx)
	}
}

func (p *placementActor) activate(ctx actor.Context, ci *protocluster.ClusterIdentity) {
	key := ci.AsKey()
	if a, ok := p.byKey[key]; ok {
		ctx.Respond(&protocluster.ActivationResponse{Pid: a.pid})
		return
	}
	if owner := p.lookup.owner(ci); owner != p.cluster.ActorSystem.Address() {
		// The caller's view of the topology differs from ours.
		ctx.Respond(&protocluster.ActivationResponse{Failed: true})
		return
	}
	kind := p.cluster.GetClusterKind(ci.Kind)
	if kind == nil {
		ctx.Logger().Error("placement: unknown kind", slog.String("kind", ci.Kind))
		ctx.Respond(&protocluster.ActivationResponse{Failed: true})
		return
	}
	pid := ctx.SpawnPrefix(protocluster.WithClusterIdentity(kind.Props, ci), ci.Identity)
	kind.Inc()
	p.byKey[key] = activation{identity: ci, pid: pid}
	p.keyByPID[pid.String()] = key
	ctx.Respond(&protocluster.ActivationResponse{Pid: pid})
}

func (p *placementActor) terminated(pid *actor.PID) {
	key, ok := p.keyByPID[pid.String()]
	if !ok {
		return
	}
	a := p.byKey[key]
	delete(p.keyByPID, pid.String())
	delete(p.byKey, key)
	if kind := p.cluster.GetClusterKind(a.identity.Kind); kind != nil {
		kind.Dec()
	}
	p.lookup.RemovePid(a.identity, pid)
}

// rebalance stops the grains another member owns now; they activate there
// on their next call and reload their state.
func (p *placementActor) rebalance(ctx actor.Context) {
	me := p.cluster.ActorSystem.Address()
	for _, a := range p.byKey {
		if p.lookup.owner(a.identity) != me {
			ctx.Poison(a.pid)
		}
	}
}

func (p *placementActor) stopAll(ctx actor.Context) {
	futures := make([]*actor.Future, 0, len(p.byKey))
	for _, a := range p.byKey {
		futures = append(futures, ctx.PoisonFuture(a.pid))
	}
	for _, f := range futures {
		if err := f.Wait(); err != nil {
			ctx.Logger().Warn("placement: stop grain", slog.Any("error", err))
		}
	}
}
