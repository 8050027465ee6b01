package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	"civicard/cluster/replication"
)

// NodeConfig configures one member of a multi-node cluster.
type NodeConfig struct {
	Settings
	// Name is this node's name among Peers; it is its Raft ServerID and
	// must never change for its DataDir.
	Name string
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
	// Membership says how the node finds the other members (provider.go).
	Membership Membership
	// MembershipRefresh is how often the membership provider polls every
	// member's health endpoint: a dead node is noticed after about this long.
	MembershipRefresh time.Duration
	// QuorumLossMax is how long the node may see fewer than a quorum of
	// Peers before it stops with ErrRestartRequired (quorum.go): longer
	// than the membership takes to declare a node dead, so that a
	// partition is told from a slow poll.
	QuorumLossMax time.Duration
	// Join makes a node that is not among the Peers of a running cluster:
	// the Raft addresses of some of its nodes (one that replicates the
	// registry is enough), asked for the node list. Peers is then empty and
	// Self gives this node's addresses. The node replicates nothing and
	// hosts no grain until an operator adds it (AdminService.AddNode).
	Join []string
	Self Peer
}

// DefaultNodeConfig returns the settings of `civicard node`; Name, DataDir
// and Peers must be set. Settings.Seed, if set, is run by the first peer
// (by name).
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{
		Settings: DefaultSettings(), Membership: DefaultMembership(),
		MembershipRefresh: 500 * time.Millisecond, QuorumLossMax: 3 * time.Second,
	}
}

// Validate rejects settings that cannot work.
func (c NodeConfig) Validate() error {
	if len(c.Join) > 0 {
		switch {
		case c.Gateway || len(c.Peers) > 0:
			return errors.New("cluster: a joining node has no peers list and is no gateway")
		case c.Self.Name != c.Name:
			return fmt.Errorf("cluster: joining node %q has addresses for %q", c.Name, c.Self.Name)
		case len(c.Join) > 64:
			return fmt.Errorf("cluster: %d join addresses, at most 64", len(c.Join))
		}
		if err := c.Self.validate(); err != nil {
			return err
		}
		for _, addr := range c.Join {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return fmt.Errorf("cluster: join address %q: %w", addr, err)
			}
		}
		if c.MembershipRefresh < 100*time.Millisecond || c.MembershipRefresh > time.Minute {
			return fmt.Errorf("cluster: MembershipRefresh %v outside [100ms, 1m]", c.MembershipRefresh)
		}
		return c.validate(c.Name)
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
	if err := c.Membership.validate(); err != nil {
		return err
	}
	if c.MembershipRefresh < 100*time.Millisecond || c.MembershipRefresh > time.Minute {
		return fmt.Errorf("cluster: MembershipRefresh %v outside [100ms, 1m]", c.MembershipRefresh)
	}
	if c.QuorumLossMax < 4*c.MembershipRefresh || c.QuorumLossMax > 10*time.Minute {
		return fmt.Errorf("cluster: QuorumLossMax %v outside [4 membership refreshes (%v), 10m]", c.QuorumLossMax, 4*c.MembershipRefresh)
	}
	return c.validate(c.Name)
}

func (c NodeConfig) self() Peer {
	if len(c.Join) > 0 {
		return c.Self
	}
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
// the seed (first node only) and the actor member.
// It returns when every Raft group has a leader, so the first node to start
// waits for a quorum of its peers.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
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
	health, healthPort, err := healthAddr(self.Actor)
	if err != nil {
		return nil, err
	}
	spec := startSpec{
		Settings: cfg.Settings, name: cfg.Name, secretsDir: cmp.Or(cfg.SecretsDir, cfg.DataDir),
		raftAddr: self.Raft, actorAddr: self.Actor, join: cfg.Join,
		watchPauses: true,
		// Counted among the founding peers until the scaler reads the node
		// list (a node that joined counts nobody until then).
		quorum: newQuorumWatch(cfg.Peers, cfg.QuorumLossMax),
	}
	// A node or gateway starts with the peers (a joining node with nobody:
	// it learns the members from the registry) and follows the node list.
	// With the automanaged protocol the provider polls the replicated node
	// list's hosts; a provider backed by a service (Consul, etcd,
	// Kubernetes) finds the members there.
	if cfg.Membership.Provider == "" || cfg.Membership.Provider == MembershipAutomanaged {
		provider := newNodeListProvider(cfg.MembershipRefresh, health, hosts, cfg.Logger)
		spec.provider, spec.nodeList = provider, provider
	} else {
		if spec.provider, err = newProvider(cfg.Membership, cfg.MembershipRefresh, healthPort, hosts); err != nil {
			return nil, err
		}
		spec.nodeList = serviceMembership{}
	}
	if cfg.Gateway {
		for _, p := range cfg.Peers {
			spec.registryPeers = append(spec.registryPeers, replication.Peer{NodeID: p.Name, RaftAddr: p.Raft})
		}
	}
	// A stopping node leaves the membership before its grains stop, and
	// waits for the others to notice (actorMember.HandOver).
	spec.leaveGrace = leaveGrace * cfg.MembershipRefresh
	if !cfg.Gateway && len(cfg.Peers) > 0 {
		layout, err := NewLayout(cfg.Peers, cmp.Or(cfg.Shards, DefaultShards(len(cfg.Peers))))
		if err != nil {
			return nil, err
		}
		spec.layout = &layout
		spec.seeds = firstPeer(cfg.Peers) == cfg.Name
	}
	return start(ctx, spec)
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
func handOverLeadership(ctx context.Context, host *replication.Host, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, handOverTimeout)
	defer cancel()
	for _, status := range host.Groups() {
		if status.State != "Leader" || len(status.Voters) < 2 {
			continue
		}
		if err := host.TransferLeadership(ctx, status.Name, replication.Peer{}); err != nil {
			logger.Warn("leadership not handed over", slog.String("group", status.Name), slog.Any("error", err))
		}
	}
}
