package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
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
	// provider and actorAddr make the actor member. leaveGrace, if set,
	// makes a stopping member leave the membership (shut the provider down)
	// and wait this long for the others to notice, before its grains stop.
	provider   protocluster.ClusterProvider
	actorAddr  string
	leaveGrace time.Duration
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
	// tls secures the Raft port's and the actor port's links; start sets
	// it from the node's certificate (certs.go).
	tls *tls.Config
}

// Stop bounds of the components (lifecycle.go).
const (
	// raftGroupsStopMax bounds closing the Raft groups (each group's
	// Raft and log) and, before it, handing their leadership over
	// (handOverTimeout).
	raftGroupsStopMax = 10 * time.Second
	// settlementStopMax bounds the end of the settlement schedule: a
	// cycle being settled stops at its next call to a group.
	settlementStopMax = 5 * time.Second
	// memberStopMax bounds the actor member's leaving (the library waits
	// 2 s for its grains' ownership to move), on top of its leaveGrace.
	memberStopMax = 5 * time.Second
	// lostStopMax bounds the whole stop of a node the cluster has taken
	// for dead: well inside the 3 s in which its process ends
	// (cmd/civicard), its gateway's stop included.
	lostStopMax = 2 * time.Second
)

// start brings a node up: its secrets, then its components in the order
// doc.go ("Start and stop") gives and explains. A component that fails to
// start stops those started before it, in the reverse order.
func start(ctx context.Context, spec startSpec) (*Node, error) {
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
	certificate, err := nodeCertificate(spec.secretsDir, spec.name, spec.Registerer)
	if err != nil {
		return nil, err
	}
	spec.tls = certificate.TLSConfig()
	if p, ok := spec.provider.(*nodeListProvider); ok {
		p.useTLS(spec.tls)
	}
	node := &Node{
		name: spec.name, OperatorToken: operatorToken, CredentialKey: credentialKey,
		// One slot per way a node fails (a pause, lost quorum, removed
		// from the cluster): each fails at most once.
		failed: make(chan error, 3),
	}
	var (
		groups   *raftGroups
		settling *settlementSchedule
		member   = &actorMember{spec: &spec}
		list     []part
	)
	switch {
	case spec.layout != nil || len(spec.join) > 0:
		groups = &raftGroups{spec: &spec}
		settling = &settlementSchedule{groups: groups, cfg: spec.Settlement, currency: spec.Currency, logger: spec.Logger, registerer: spec.Registerer}
		list = append(list,
			part{name: "raft groups", c: groups, stopMax: raftGroupsStopMax},
			part{name: "settlement schedule", c: settling, stopMax: settlementStopMax})
		if spec.seeds && spec.Seed != nil {
			list = append(list, part{name: "seed", c: &seeding{groups: groups, seed: spec.Seed, credentialKey: credentialKey}, stopMax: loopStopMax})
		}
		member.grains = groups
	case spec.nodeList != nil:
		// A gateway replicates nothing but follows the node list, read
		// through a host that only forwards.
		groups = &raftGroups{spec: &spec, forwardOnly: true}
		list = append(list, part{name: "registry route", c: groups, stopMax: raftGroupsStopMax})
	}
	list = append(list, part{name: "actor member", c: member, stopMax: memberStopMax + spec.leaveGrace})
	if spec.nodeList != nil && groups != nil {
		node.scaler = &scaler{
			name: spec.name, provider: spec.nodeList, quorum: spec.quorum, logger: spec.Logger,
			seed: spec.layout, removed: node.failed, membersOnly: groups.forwardOnly,
		}
		list = append(list, part{name: "scaler", c: &scalerLoop{s: node.scaler, groups: groups, registerer: spec.Registerer}, stopMax: loopStopMax})
	}
	if spec.watchPauses {
		list = append(list, part{name: "pause watch", c: newPauseWatch(node.fail), stopMax: loopStopMax})
	}
	if spec.quorum != nil {
		list = append(list, part{name: "quorum watch", c: &quorumLoop{w: spec.quorum, member: member, fail: node.fail}, stopMax: loopStopMax})
	}

	node.parts = parts{list: list, logger: spec.Logger}
	if err := node.parts.start(ctx); err != nil {
		return nil, err
	}
	node.Cluster = member.cluster
	if settling != nil {
		node.Settlement = settling.settler
	}
	if groups != nil && !groups.forwardOnly {
		node.describeLedger = describeHost(groups.host)
		node.registry = &Registry{ledger: groups.router}
	}
	return node, nil
}

// raftGroups is the node's replication host and its Raft groups: the
// replicas the layout or the registry gives it, and routes to the others
// (startLedger). A gateway's (forwardOnly) replicates nothing and only
// forwards reads of the node list to the registry (followerHost).
type raftGroups struct {
	spec        *startSpec
	forwardOnly bool
	host        *replication.Host
	router      routedLedger
}

func (g *raftGroups) Start(ctx context.Context) (err error) {
	if g.forwardOnly {
		g.host, err = followerHost(ctx, *g.spec)
		return err
	}
	g.router, g.host, err = startLedger(ctx, *g.spec)
	return err
}

// Ready fails while a group this node needs has no leader it knows.
func (g *raftGroups) Ready() error {
	if g.forwardOnly {
		return nil
	}
	return g.router.ready()
}

// HandOver asks other voters to lead the groups this node leads, so that a
// planned stop costs no election timeout.
func (g *raftGroups) HandOver(ctx context.Context) {
	if !g.forwardOnly {
		handOverLeadership(ctx, g.host, g.spec.Logger)
	}
}

func (g *raftGroups) Stop(context.Context) error { return g.host.Close() }

// seeding runs the node's Seeder (the demo city) into a new cluster: the
// first node does, on every start (it is idempotent). It runs nothing
// afterwards.
type seeding struct {
	groups        *raftGroups
	seed          Seeder
	credentialKey string
}

func (d *seeding) Start(ctx context.Context) error {
	if err := d.seed(ctx, d.groups.router, d.credentialKey); err != nil {
		return fmt.Errorf("cluster: seed: %w", err)
	}
	return nil
}

func (d *seeding) Stop(context.Context) error { return nil }

// actorMember is the node's actor system and cluster member, hosting the
// grains wired to the node's Raft groups (none on a gateway).
type actorMember struct {
	spec *startSpec
	// grains, if set, are the groups the grains use: the member hosts
	// grains.
	grains  *raftGroups
	cluster *protocluster.Cluster
	// graceful is set by HandOver: a member that handed over leaves the
	// cluster gracefully; one that did not (taken for dead) just stops.
	graceful   atomic.Bool
	stopGrains context.CancelFunc
}

func (m *actorMember) Start(ctx context.Context) error {
	spec := m.spec
	// The grains' context lives until the member stops.
	life, stopGrains := context.WithCancel(context.WithoutCancel(ctx))
	var kinds []*protocluster.Kind
	if m.grains != nil {
		metrics, err := actors.NewMetrics(spec.Registerer)
		if err != nil {
			stopGrains()
			return err
		}
		actorsCfg := spec.Actors
		actorsCfg.Currency = spec.Currency
		// The tariff is the ledger's: read on first use, kept by version.
		kinds = actors.Kinds(&actors.Deps{Config: actorsCfg, Ledger: m.grains.router, Tariffs: actors.NewTariffs(m.grains.router), Context: life, Logger: spec.Logger, Metrics: metrics})
	}
	c, err := startMember(*spec, kinds)
	if err != nil {
		stopGrains()
		return err
	}
	if err := registerMemberMetrics(spec.Registerer, c); err != nil {
		c.Shutdown(false)
		stopGrains()
		return err
	}
	m.cluster, m.stopGrains = c, stopGrains
	return nil
}

// HandOver leaves the membership before the grains stop: the others drop
// this node at their next poll and activate its grains elsewhere, while
// calls already routed here are still answered.
func (m *actorMember) HandOver(ctx context.Context) {
	m.graceful.Store(true)
	if m.spec.leaveGrace <= 0 {
		return
	}
	_ = m.spec.provider.Shutdown(true)
	t := time.NewTimer(m.spec.leaveGrace)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (m *actorMember) Stop(context.Context) error {
	m.cluster.Shutdown(m.graceful.Load())
	m.stopGrains()
	return nil
}

// startLedger opens this node's replication host and starts its replicas.
// A node of a new cluster joins the groups the layout gives it (creating
// them) and waits for every group's leader. A node restarting, or joining a
// running cluster, restarts the replicas it has on disk and reads the node
// list and placement from the registry; its scaler (scaling.go) does the
// rest.
func startLedger(ctx context.Context, spec startSpec) (routedLedger, *replication.Host, error) {
	hostCfg := spec.hostConfig(spec.name)
	hostCfg.RaftAddr, hostCfg.Listener, hostCfg.TLS = spec.raftAddr, spec.raftListener, spec.tls
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
		list, err := ledgerReads{host}.ClusterList(attempt)
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

// followerHost is a gateway's replication host: it replicates no group and
// listens on a loopback port nobody is told of; it only forwards reads of
// the node list to the registry.
func followerHost(ctx context.Context, spec startSpec) (*replication.Host, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cluster: forwarding listener: %w", err)
	}
	hostCfg := spec.hostConfig(spec.name)
	hostCfg.Listener, hostCfg.TLS = ln, spec.tls
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
		remote.Configure(host, port,
			remote.WithServerOptions(remotingServerOptions(spec.tls)...),
			remote.WithDialOptions(remotingDialOptions(spec.tls)...)),
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
