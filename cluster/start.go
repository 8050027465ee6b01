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
	"civicard/cluster/replication"
	ledgerv1 "civicard/messages/ledger/v1"
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
	// seeds makes this node run Settings.Seed (the cluster's first peer).
	seeds bool
	// provider and actorAddr make the actor member; leaveMembership, if set,
	// takes it out of the membership when the node stops, before its grains
	// stop.
	provider        protocluster.ClusterProvider
	actorAddr       string
	leaveMembership func()
	// watchPauses stops the node after a pause long enough for the other
	// members to have declared it dead.
	watchPauses bool
	// join, for a node that is not among the peers the cluster was created
	// with: Raft addresses of nodes of the running cluster, asked for the
	// node list and placement. The node then has no layout.
	join []string
	// nodeList, if set, is the part of the membership provider that
	// follows the replicated node list (the hosts it polls).
	nodeList membershipHosts
	// registryPeers, for a gateway: where to read the node list.
	registryPeers []replication.Peer
	// quorum, if set, stops the node when it has been cut off from most of
	// the cluster (quorum.go), and keeps it unready while it is.
	quorum *quorumWatch
}

// start brings a node up: secrets, its Raft groups (waiting for every
// group's leader), the seed (the demo city), the grains and the actor
// member.
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
		// One slot per way a node fails (a pause, lost quorum, removed
		// from the cluster): each fails at most once.
		failed: make(chan error, 3),
	}
	defer func() {
		if err != nil {
			stop()
			err = errors.Join(err, node.closeLedger())
		}
	}()

	var kinds []*protocluster.Kind
	if spec.layout != nil || len(spec.join) > 0 {
		router, host, err := startLedger(ctx, spec)
		if err != nil {
			return nil, err
		}
		node.ready, node.closeLedger, node.describeLedger = router.ready, host.Close, describeHost(host)
		if node.Settlement, err = newSettler(hostLedgers{host: host, shards: router.shards}, spec.Settlement, spec.Logger, spec.Registerer); err != nil {
			return nil, err
		}
		// The schedule stops (Close cancels life) before the ledger closes.
		settling := make(chan struct{})
		go func() {
			defer close(settling)
			node.Settlement.run(life, leadsRegistry(host))
		}()
		node.closeLedger = func() error {
			<-settling
			return host.Close()
		}
		node.handOver = func() { handOverLeadership(host, spec.Logger) }
		if spec.nodeList != nil {
			node.scaler = &scaler{name: spec.name, host: host, provider: spec.nodeList, quorum: spec.quorum, logger: spec.Logger, seed: spec.layout, removed: node.failed}
			ready := node.ready
			node.ready = func() error {
				if st := node.scaler.status(); st != ledgerv1.NodeStatus_NODE_STATUS_UNSPECIFIED && st != ledgerv1.NodeStatus_NODE_STATUS_ACTIVE {
					return fmt.Errorf("this node is %s: it takes no taps", statusText(st))
				}
				return ready()
			}
		}
		if spec.seeds && spec.Seed != nil {
			if err := spec.Seed(ctx, router, credentialKey); err != nil {
				return nil, fmt.Errorf("cluster: seed: %w", err)
			}
		}
		node.registry = &Registry{ledger: router}
		metrics, err := actors.NewMetrics(spec.Registerer)
		if err != nil {
			return nil, err
		}
		// The tariff is the ledger's: read on first use, kept by version.
		kinds = actors.Kinds(&actors.Deps{Config: spec.Actors, Ledger: router, Tariffs: actors.NewTariffs(router), Context: life, Logger: spec.Logger, Metrics: metrics})
	} else if spec.nodeList != nil {
		// A gateway replicates nothing but follows the node list, read
		// through a host that only forwards.
		host, err := followerHost(ctx, spec)
		if err != nil {
			return nil, err
		}
		node.closeLedger = host.Close
		node.scaler = &scaler{name: spec.name, host: host, provider: spec.nodeList, quorum: spec.quorum, logger: spec.Logger, removed: node.failed, membersOnly: true}
	}
	if node.Cluster, err = startMember(spec, kinds); err != nil {
		return nil, err
	}
	if err := registerMemberMetrics(spec.Registerer, node.Cluster); err != nil {
		node.Cluster.Shutdown(false)
		return nil, err
	}
	if node.scaler != nil {
		if err := registerScalerMetrics(spec.Registerer, node.scaler); err != nil {
			node.Cluster.Shutdown(false)
			return nil, err
		}
		go node.scaler.run(life)
		ledgerReady := node.ready
		node.ready = func() error { return errors.Join(node.scaler.ready(), ledgerReady()) }
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

// startLedger opens this node's settlement host and starts its replicas.
// A node of a new cluster joins the groups the layout gives it (creating
// them) and waits for every group's leader. A node restarting, or joining a
// running cluster, restarts the replicas it has on disk and reads the node
// list and placement from the registry; its scaler (scaling.go) does the
// rest.
func startLedger(ctx context.Context, spec startSpec) (routedLedger, *replication.Host, error) {
	hostCfg := spec.Host
	hostCfg.NodeID, hostCfg.Dir = spec.name, filepath.Join(spec.DataDir, "raft")
	hostCfg.RaftAddr, hostCfg.Listener = spec.raftAddr, spec.raftListener
	hostCfg.Logger, hostCfg.Registerer = spec.Logger, spec.Registerer
	onDisk, err := groupsOnDisk(hostCfg.Dir)
	if err != nil {
		return routedLedger{}, nil, err
	}
	host, err := replication.OpenHost(ctx, hostCfg)
	if err != nil {
		return routedLedger{}, nil, fmt.Errorf("cluster: open raft host: %w", err)
	}
	var router routedLedger
	if spec.layout != nil && (len(onDisk) == 0 || spec.nodeList == nil) {
		router, err = startLayout(ctx, spec, host)
	} else {
		router, err = restartReplicas(ctx, spec, host, onDisk)
	}
	if err != nil {
		return routedLedger{}, nil, errors.Join(err, host.Close())
	}
	return router, host, nil
}

// startLayout joins the groups the layout gives this node, routes to the
// others and waits for every group's leader.
func startLayout(ctx context.Context, spec startSpec, host *replication.Host) (routedLedger, error) {
	self := host.Self()
	for _, g := range spec.layout.Groups {
		voters := make([]replication.Peer, len(g.Voters))
		for i, v := range g.Voters {
			voters[i] = replication.Peer{NodeID: v.Name, RaftAddr: v.Raft}
			if v.Name == spec.name {
				voters[i] = self
			}
		}
		var err error
		if slices.ContainsFunc(g.Voters, func(p Peer) bool { return p.Name == spec.name }) {
			err = host.Join(ctx, replication.GroupSpec{Name: g.Name, Voters: voters})
		} else {
			err = host.Route(g.Name, voters)
		}
		if err != nil {
			return routedLedger{}, fmt.Errorf("cluster: group %s: %w", g.Name, err)
		}
	}
	spec.Logger.Info("waiting for every Raft group to elect a leader", slog.Int("groups", len(spec.layout.Groups)))
	for _, g := range spec.layout.Groups {
		if _, err := host.WaitLeader(ctx, g.Name); err != nil {
			return routedLedger{}, fmt.Errorf("cluster: group %s has no leader: %w", g.Name, err)
		}
	}
	return routedLedger{host: host, shards: spec.layout.Shards}, nil
}

// restartReplicas restarts the replicas on disk (their membership is in
// their logs), routes to the registry through the layout's nodes or the
// join addresses, and waits until the registry answers with the node list.
func restartReplicas(ctx context.Context, spec startSpec, host *replication.Host, onDisk []string) (routedLedger, error) {
	for _, g := range onDisk {
		if err := host.Join(ctx, replication.GroupSpec{Name: g}); err != nil {
			return routedLedger{}, fmt.Errorf("cluster: group %s: %w", g, err)
		}
	}
	if spec.layout != nil {
		for _, g := range spec.layout.Groups {
			var peers []replication.Peer
			for _, v := range g.Voters {
				peers = append(peers, replication.Peer{NodeID: v.Name, RaftAddr: v.Raft})
			}
			if err := host.Route(g.Name, peers); err != nil {
				return routedLedger{}, err
			}
		}
	}
	if len(spec.join) > 0 {
		var peers []replication.Peer
		for _, addr := range spec.join {
			peers = append(peers, replication.Peer{NodeID: addr, RaftAddr: addr})
		}
		if err := host.Route(replication.RegistryGroup, peers); err != nil {
			return routedLedger{}, err
		}
	}
	spec.Logger.Info("reading the node list from the registry", slog.Int("replicas_on_disk", len(onDisk)))
	var view clusterView
	for {
		attempt, cancel := context.WithTimeout(ctx, scaleCallTimeout)
		list, err := host.ClusterList(attempt)
		cancel()
		if err == nil {
			view = viewOf(list)
			if len(view.nodes) > 0 || spec.layout != nil {
				break
			}
			err = errors.New("the registry lists no node yet")
		}
		select {
		case <-ctx.Done():
			return routedLedger{}, fmt.Errorf("cluster: node list: %w (last: %w)", ctx.Err(), err)
		case <-time.After(scaleTick):
		}
	}
	if self := view.node(spec.name); self != nil {
		switch {
		case self.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_REMOVED:
			return routedLedger{}, ErrRemoved
		case self.GetActorAddr() != spec.actorAddr || self.GetRaftAddr() != host.Addr():
			return routedLedger{}, fmt.Errorf("cluster: the node list has %s at %s and %s, not %s and %s", spec.name, self.GetActorAddr(), self.GetRaftAddr(), spec.actorAddr, host.Addr())
		}
	}
	shards := view.shards()
	if spec.layout != nil && shards == 0 {
		shards = spec.layout.Shards
	}
	if shards == 0 {
		return routedLedger{}, errors.New("cluster: the registry places no ledger shard")
	}
	for g := range view.placements {
		if peers := placedPeers(view, g); len(peers) > 0 {
			if err := host.Route(g, peers); err != nil {
				return routedLedger{}, err
			}
		}
	}
	return routedLedger{host: host, shards: shards}, nil
}

// followerHost is a gateway's settlement host: it replicates no group and
// listens on a loopback port nobody is told of; it only forwards reads of
// the node list to the registry.
func followerHost(ctx context.Context, spec startSpec) (*replication.Host, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cluster: forwarding listener: %w", err)
	}
	hostCfg := spec.Host
	hostCfg.NodeID, hostCfg.Dir, hostCfg.Listener = spec.name, filepath.Join(spec.DataDir, "raft"), ln
	hostCfg.Logger, hostCfg.Registerer = spec.Logger, spec.Registerer
	host, err := replication.OpenHost(ctx, hostCfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: open forwarding host: %w", err)
	}
	if err := host.Route(replication.RegistryGroup, spec.registryPeers); err != nil {
		return nil, errors.Join(err, host.Close())
	}
	return host, nil
}

// groupsOnDisk lists the groups a node's Raft directory holds.
func groupsOnDisk(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: raft directory: %w", err)
	}
	var groups []string
	for _, e := range entries {
		if e.IsDir() {
			groups = append(groups, e.Name())
		}
	}
	return groups, nil
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
