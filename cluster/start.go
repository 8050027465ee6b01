package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"

	"civicard/actors"
	"civicard/cluster/placement"
	"civicard/settlement"
)

// startSpec is how one node starts; StartEmbedded and StartNode differ only
// in the spec they build.
type startSpec struct {
	Settings
	name       string
	secretsDir string
	// layout places the Raft groups; a node replicates those naming it and
	// routes to the others. Nil for a gateway, which has no ledger.
	layout *Layout
	// raftAddr is this node's Raft address, or raftListener a listener
	// already bound for it.
	raftAddr     string
	raftListener net.Listener
	// loadsDemo makes this node load the demo city into a new cluster.
	loadsDemo bool
	// provider and actorAddr make the actor member; leaveMembership, if set,
	// takes it out of the membership when the node stops, before its grains
	// stop.
	provider        protocluster.ClusterProvider
	actorAddr       string
	leaveMembership func()
	// watchPauses stops the node after a pause long enough for the other
	// members to have declared it dead.
	watchPauses bool
	// quorum, if set, stops the node when it has been cut off from most of
	// the cluster (quorum.go), and keeps it unready while it is.
	quorum *quorumWatch
}

// start brings a node up: secrets, its Raft groups (waiting for every
// group's leader), the demo city, the grains and the actor member.
func start(ctx context.Context, spec startSpec) (_ *Node, err error) {
	if err := os.MkdirAll(spec.secretsDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: secrets directory: %w", err)
	}
	credentialKey, err := ensureSecret(spec.secretsDir, CredentialKeyFile)
	if err != nil {
		return nil, err
	}
	operatorToken, err := ensureSecret(spec.secretsDir, OperatorTokenFile)
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	node := &Node{
		name: spec.name, OperatorToken: operatorToken, CredentialKey: credentialKey, stop: stop,
		ready: func() error { return nil }, closeLedger: func() error { return nil },
	}
	defer func() {
		if err != nil {
			stop()
			err = errors.Join(err, node.closeLedger())
		}
	}()

	var kinds []*protocluster.Kind
	if spec.layout != nil {
		router, host, err := startLedger(ctx, spec)
		if err != nil {
			return nil, err
		}
		node.ready, node.closeLedger, node.describeLedger = router.ready, host.Close, describeHost(host)
		node.handOver = func() { handOverLeadership(host, spec.Logger) }
		if spec.loadsDemo && spec.Demo.Cards > 0 {
			demoCfg := spec.Demo
			demoCfg.CredentialKey = []byte(credentialKey)
			if node.Demo, err = loadDemo(ctx, router, demoCfg, spec.Logger); err != nil {
				return nil, err
			}
		}
		metrics, err := actors.NewMetrics(spec.Registerer)
		if err != nil {
			return nil, err
		}
		kinds = actors.Kinds(&actors.Deps{Config: spec.Actors, Ledger: router, Context: life, Logger: spec.Logger, Metrics: metrics})
	}
	if node.Cluster, err = startMember(spec, kinds); err != nil {
		return nil, err
	}
	if err := registerMemberMetrics(spec.Registerer, node.Cluster); err != nil {
		node.Cluster.Shutdown(false)
		return nil, err
	}
	if spec.leaveMembership != nil {
		handOverRaft := node.handOver
		node.handOver = func() {
			if handOverRaft != nil {
				handOverRaft()
			}
			spec.leaveMembership()
		}
	}
	// One slot per watch: each fails at most once.
	node.failed = make(chan error, 2)
	if spec.watchPauses {
		ticker := time.NewTicker(pauseTick)
		go func() {
			defer ticker.Stop()
			watchPauses(life, time.Now(), ticker.C, node.fail)
		}()
	}
	if spec.quorum != nil {
		ledgerReady := node.ready
		node.ready = func() error { return errors.Join(spec.quorum.ready(), ledgerReady()) }
		members := node.Cluster.MemberList
		ticker := time.NewTicker(quorumTick)
		go func() {
			defer ticker.Stop()
			spec.quorum.run(life, ticker.C, func() []string {
				var addrs []string
				for _, m := range members.Members().Members() {
					addrs = append(addrs, m.Address())
				}
				return addrs
			}, node.fail)
		}()
	}
	return node, nil
}

// startLedger opens this node's settlement host, joins the groups the
// layout gives it, routes to the others and waits for every group's leader.
func startLedger(ctx context.Context, spec startSpec) (routedLedger, *settlement.Host, error) {
	hostCfg := spec.Host
	hostCfg.NodeID, hostCfg.Dir = spec.name, filepath.Join(spec.DataDir, "raft")
	hostCfg.RaftAddr, hostCfg.Listener = spec.raftAddr, spec.raftListener
	hostCfg.Logger, hostCfg.Registerer = spec.Logger, spec.Registerer
	host, err := settlement.OpenHost(ctx, hostCfg)
	if err != nil {
		return routedLedger{}, nil, fmt.Errorf("cluster: open raft host: %w", err)
	}
	self := host.Self()
	for _, g := range spec.layout.Groups {
		voters := make([]settlement.Peer, len(g.Voters))
		for i, v := range g.Voters {
			voters[i] = settlement.Peer{NodeID: v.Name, RaftAddr: v.Raft}
			if v.Name == spec.name {
				voters[i] = self
			}
		}
		if slices.ContainsFunc(g.Voters, func(p Peer) bool { return p.Name == spec.name }) {
			err = host.Join(ctx, settlement.GroupSpec{Name: g.Name, Voters: voters})
		} else {
			err = host.Route(g.Name, voters)
		}
		if err != nil {
			return routedLedger{}, nil, errors.Join(fmt.Errorf("cluster: group %s: %w", g.Name, err), host.Close())
		}
	}
	spec.Logger.Info("waiting for every Raft group to elect a leader", slog.Int("groups", len(spec.layout.Groups)))
	for _, g := range spec.layout.Groups {
		if _, err := host.WaitLeader(ctx, g.Name); err != nil {
			return routedLedger{}, nil, errors.Join(fmt.Errorf("cluster: group %s has no leader: %w", g.Name, err), host.Close())
		}
	}
	return routedLedger{host: host, shards: spec.layout.Shards}, host, nil
}

// startMember starts an actor system listening on spec.actorAddr and a
// cluster member hosting kinds (none for a gateway). The library panics on
// start-up errors (a port in use); they come back as errors here.
func startMember(spec startSpec, kinds []*protocluster.Kind) (c *protocluster.Cluster, err error) {
	host, portText, err := net.SplitHostPort(spec.actorAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: actor address: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("cluster: actor address: %w", err)
	}
	actorLogger := slog.New(quietHandler{Handler: spec.Logger.Handler(), min: slog.LevelWarn}).With(slog.String("component", "actor"))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return actorLogger
	}))
	clusterCfg := protocluster.Configure("civicard", spec.provider, placement.New(spec.RequestTimeout),
		remote.Configure(host, port),
		protocluster.WithKinds(kinds...),
		protocluster.WithRequestTimeout(spec.RequestTimeout))
	c = protocluster.New(system, clusterCfg)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cluster: start member: %v", p)
		}
	}()
	c.StartMember()
	return c, nil
}
