package cluster

import (
	"cmp"
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

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/prometheus/client_golang/prometheus"

	"civicard/actors"
	"civicard/demo"
	"civicard/settlement"
)

// NodeConfig configures one member of a multi-node cluster.
type NodeConfig struct {
	// Name is this node's name among Peers; it is its Raft ServerID and
	// must never change for its DataDir.
	Name string
	// DataDir holds this node's Raft groups.
	DataDir string
	// SecretsDir holds the cluster's secrets (operator token, terminal
	// credential key): the same files on every node. Default: DataDir.
	SecretsDir string
	// Peers are the nodes the cluster was created with, this one included,
	// with their actor and Raft addresses. This node listens on its own.
	Peers []Peer
	// Shards is the number of ledger shards, fixed when the cluster is
	// created; 0 means DefaultShards(len(Peers)).
	Shards int
	// Gateway makes the node a member that hosts no grains and no Raft
	// group: it only turns requests into grain calls. It is not among
	// Peers, and listens on GatewayActor.
	Gateway      bool
	GatewayActor string
	// MembershipRefresh is how often the automanaged provider polls every
	// peer's health endpoint: a dead node is noticed after about this long.
	MembershipRefresh time.Duration
	// Demo is loaded by the first peer (by name) when the cluster is new.
	Demo           demo.Config
	Host           settlement.HostConfig
	Actors         actors.Config
	RequestTimeout time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// DefaultNodeConfig returns the settings of `civicard node`; Name, DataDir
// and Peers must be set.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{
		MembershipRefresh: 500 * time.Millisecond,
		Demo:              demo.DefaultConfig(),
		Host:              settlement.DefaultHostConfig(),
		Actors:            actors.DefaultConfig(),
		RequestTimeout:    time.Second,
		Logger:            slog.Default(),
		Registerer:        prometheus.NewRegistry(),
	}
}

// Validate rejects settings that cannot work.
func (c NodeConfig) Validate() error {
	if c.DataDir == "" {
		return errors.New("cluster: DataDir is empty")
	}
	switch {
	case c.Gateway && c.self().Name != "":
		return fmt.Errorf("cluster: gateway %q must not be among the peers", c.Name)
	case c.Gateway && c.GatewayActor == "":
		return errors.New("cluster: a gateway needs its own actor address")
	case !c.Gateway && c.self().Name == "":
		return fmt.Errorf("cluster: node %q is not among the peers", c.Name)
	}
	if err := checkUnique(c.Peers); err != nil {
		return err
	}
	if c.MembershipRefresh < 100*time.Millisecond || c.MembershipRefresh > time.Minute {
		return fmt.Errorf("cluster: MembershipRefresh %v outside [100ms, 1m]", c.MembershipRefresh)
	}
	if c.RequestTimeout <= 0 || c.Logger == nil || c.Registerer == nil {
		return errors.New("cluster: RequestTimeout, Logger and Registerer are required")
	}
	return c.Actors.Validate()
}

func (c NodeConfig) self() Peer {
	for _, p := range c.Peers {
		if p.Name == c.Name {
			return p
		}
	}
	return Peer{}
}

// healthAddr is where a node's automanaged provider answers: the port after
// its actor port.
func healthAddr(actorAddr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(actorAddr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65534 {
		return "", 0, fmt.Errorf("actor port %q", portText)
	}
	return net.JoinHostPort(host, strconv.Itoa(port+1)), port + 1, nil
}

// StartNode starts a member of a multi-node cluster: its replicas of the
// registry and of the shards the layout gives it, routes to the others,
// the demo city (first node only, first start only) and the actor member.
// It returns when every Raft group has a leader, so the first node to start
// waits for a quorum of its peers.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secretsDir := cmp.Or(cfg.SecretsDir, cfg.DataDir)
	if err := os.MkdirAll(secretsDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: secrets directory: %w", err)
	}
	credentialKey, err := ensureSecret(secretsDir, CredentialKeyFile)
	if err != nil {
		return nil, err
	}
	operatorToken, err := ensureSecret(secretsDir, OperatorTokenFile)
	if err != nil {
		return nil, err
	}
	self := cfg.self()
	if cfg.Gateway {
		self = Peer{Name: cfg.Name, Actor: cfg.GatewayActor}
	}
	var hosts []string
	for _, p := range cfg.Peers {
		h, _, err := healthAddr(p.Actor)
		if err != nil {
			return nil, fmt.Errorf("cluster: peer %s: %w", p.Name, err)
		}
		hosts = append(hosts, h)
	}
	_, healthPort, err := healthAddr(self.Actor)
	if err != nil {
		return nil, err
	}
	node := &Node{name: cfg.Name, OperatorToken: operatorToken, CredentialKey: credentialKey, ready: func() error { return nil }, closeLedger: func() error { return nil }}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	node.stop = stop

	var kinds []*protocluster.Kind
	if !cfg.Gateway {
		router, host, err := startLedger(ctx, cfg, self)
		if err != nil {
			stop()
			return nil, err
		}
		node.ready, node.closeLedger = router.ready, host.Close
		node.handOver = func() { handOverLeadership(host, cfg.Logger) }
		node.describeLedger = describeHost(host)
		if cfg.Demo.Cards > 0 && firstPeer(cfg.Peers) == cfg.Name {
			demoCfg := cfg.Demo
			demoCfg.CredentialKey = []byte(credentialKey)
			if node.Demo, err = loadDemo(ctx, router, demoCfg, cfg.Logger); err != nil {
				stop()
				return nil, errors.Join(err, host.Close())
			}
		}
		metrics, err := actors.NewMetrics(cfg.Registerer)
		if err != nil {
			stop()
			return nil, errors.Join(err, host.Close())
		}
		kinds = actors.Kinds(&actors.Deps{Config: cfg.Actors, Ledger: router, Context: life, Logger: cfg.Logger, Metrics: metrics})
	}
	provider := automanaged.NewWithConfig(cfg.MembershipRefresh, healthPort, hosts...)
	if node.Cluster, err = startMember(cfg.Logger, provider, self.Actor, cfg.RequestTimeout, kinds); err != nil {
		stop()
		return nil, errors.Join(err, node.closeLedger())
	}
	handOverRaft := node.handOver
	node.handOver = func() {
		if handOverRaft != nil {
			handOverRaft()
		}
		// Leave the membership before the grains stop: the others drop
		// this node at their next poll and activate its grains elsewhere,
		// while calls already routed here are still answered.
		_ = provider.Shutdown(true)
		time.Sleep(leaveGrace * cfg.MembershipRefresh)
	}
	node.failed = make(chan error, 1)
	ticker := time.NewTicker(pauseTick)
	go func() {
		defer ticker.Stop()
		watchPauses(life, time.Now(), ticker.C, node.failed)
	}()
	return node, nil
}

// startLedger opens this node's settlement host, joins the groups the
// layout gives it, routes to the others and waits for every group's leader.
func startLedger(ctx context.Context, cfg NodeConfig, self Peer) (routedLedger, *settlement.Host, error) {
	shards := cfg.Shards
	if shards == 0 {
		shards = DefaultShards(len(cfg.Peers))
	}
	layout, err := NewLayout(cfg.Peers, shards)
	if err != nil {
		return routedLedger{}, nil, err
	}
	hostCfg := cfg.Host
	hostCfg.NodeID, hostCfg.Dir, hostCfg.RaftAddr = cfg.Name, filepath.Join(cfg.DataDir, "raft"), self.Raft
	hostCfg.Logger, hostCfg.Registerer = cfg.Logger, cfg.Registerer
	host, err := settlement.OpenHost(ctx, hostCfg)
	if err != nil {
		return routedLedger{}, nil, fmt.Errorf("cluster: open raft host: %w", err)
	}
	for _, g := range layout.Groups {
		voters := make([]settlement.Peer, len(g.Voters))
		for i, v := range g.Voters {
			voters[i] = settlement.Peer{NodeID: v.Name, RaftAddr: v.Raft}
		}
		if slices.ContainsFunc(g.Voters, func(p Peer) bool { return p.Name == cfg.Name }) {
			err = host.Join(ctx, settlement.GroupSpec{Name: g.Name, Voters: voters})
		} else {
			err = host.Route(g.Name, voters)
		}
		if err != nil {
			return routedLedger{}, nil, errors.Join(fmt.Errorf("cluster: group %s: %w", g.Name, err), host.Close())
		}
	}
	cfg.Logger.Info("waiting for every Raft group to elect a leader", slog.Int("groups", len(layout.Groups)))
	for _, g := range layout.Groups {
		if _, err := host.WaitLeader(ctx, g.Name); err != nil {
			return routedLedger{}, nil, errors.Join(fmt.Errorf("cluster: group %s has no leader: %w", g.Name, err), host.Close())
		}
	}
	return routedLedger{host: host, shards: shards}, host, nil
}

func firstPeer(peers []Peer) string {
	names := make([]string, len(peers))
	for i, p := range peers {
		names[i] = p.Name
	}
	return slices.Min(names)
}

// handOverTimeout bounds the leadership transfers of a stopping node.
const handOverTimeout = 3 * time.Second

// leaveGrace is how many membership polls a stopping node waits, after
// leaving the membership, for the others to notice.
const leaveGrace = 3

// handOverLeadership asks another voter to lead every group this node
// leads, so that a planned stop costs no election timeout.
func handOverLeadership(host *settlement.Host, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), handOverTimeout)
	defer cancel()
	for _, status := range host.Groups() {
		if status.State != "Leader" {
			continue
		}
		if err := host.TransferLeadership(ctx, status.Name, settlement.Peer{}); err != nil {
			logger.Warn("leadership not handed over", slog.String("group", status.Name), slog.Any("error", err))
		}
	}
}
