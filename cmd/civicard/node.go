package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"civicard/cluster"
	"civicard/sim/demo"
)

// runNode runs one member of a multi-node cluster (`civicard node`), or
// with gatewayOnly a member that hosts no grains and no ledger replica
// (`civicard gateway`): flags, config, Validate, run.
func runNode(ctx context.Context, self string, args []string, stdout, stderr io.Writer, gatewayOnly bool) error {
	cfg, err := nodeConfig(args, gatewayOnly)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	return serve(ctx, cfg, stderr, func(logger *slog.Logger, registry *prometheus.Registry) (*cluster.Node, error) {
		nodeCfg := cfg.Node
		nodeCfg.Seed = cfg.Demo.seeder(logger)
		nodeCfg.Logger, nodeCfg.Registerer = logger, registry
		return cluster.StartNode(ctx, nodeCfg)
	}, func(node *cluster.Node, baseURL string) {
		if len(cfg.Node.Join) > 0 {
			fmt.Fprintf(stdout, "civicard %s %s is up (data in %s), joining a running cluster: add it with `civicard admin nodes add`\n", cfg.command, cfg.Node.Name, cfg.Node.DataDir)
		} else {
			fmt.Fprintf(stdout, "civicard %s %s is up (data in %s), one of a cluster created with %d nodes\n", cfg.command, cfg.Node.Name, cfg.Node.DataDir, len(cfg.Node.Peers))
		}
		printWelcome(stdout, self, cmp.Or(cfg.Node.SecretsDir, cfg.Node.DataDir), baseURL, cfg.Node.Currency, cfg.Demo.loaded())
	})
}

// nodeConfig reads the flags of `civicard node` (with gatewayOnly,
// `civicard gateway`) into a config, not validated yet.
func nodeConfig(args []string, gatewayOnly bool) (config, error) {
	name := "node"
	if gatewayOnly {
		name = "gateway"
	}
	fs := newFlags(name)
	nodeName := fs.String("name", "", "this node's name among --peers, or the name a joining node is added under (required)")
	dataDir := fs.String("data", "./data", "data directory of this node")
	secretsDir := fs.String("secrets", "", "directory of the cluster's secrets, the same files on every node (default: --data)")
	peersFlag := fs.String("peers", "", "every node the cluster was created with: NAME=ACTOR_ADDR=RAFT_ADDR,... (required; a node's membership endpoint listens on its actor port + 1)")
	actorAddr := fs.String("actor", "", "a gateway's or joining node's own actor address, e.g. 127.0.0.1:7150 (its membership endpoint listens on the next port)")
	raftAddr := fs.String("raft", "", "a joining node's own Raft address, e.g. 127.0.0.1:7250")
	join := fs.String("join", "", "instead of --peers, for a node added to a running cluster: Raft addresses of some of its nodes, comma-separated (then `civicard admin nodes add`)")
	shards := fs.Int("shards", 0, "ledger shards, fixed when the cluster is created (default: one per 3 nodes)")
	withDemo := fs.Bool("demo", false, "load the demo city into a new cluster (the first node by name loads it) and pay out from the demo's account; without it the cluster starts empty")
	seed := fs.Uint64("seed", demo.DefaultConfig().Seed, "with --demo: seed of the demo city")
	cards := fs.Int("cards", demo.DefaultConfig().Cards, "with --demo: cards in the demo city")
	defaults := cluster.DefaultNodeConfig()
	membership := fs.String("membership", defaults.Membership.Provider, "how members find each other: automanaged (polls --peers), or consul, etcd, k8s (built in with the build tag of that name)")
	consulAddr := fs.String("consul-addr", defaults.Membership.ConsulAddress, "--membership consul: the Consul agent's HTTP address")
	etcdEndpoints := fs.String("etcd-endpoints", strings.Join(defaults.Membership.EtcdEndpoints, ","), "--membership etcd: the etcd client addresses, comma-separated")
	k8sAPI := fs.String("k8s-api", "", "--membership k8s: the Kubernetes API server's URL (default: the pod's in-cluster configuration)")
	quorumLossMax := fs.Duration("quorum-timeout", defaults.QuorumLossMax, "how long the node may see fewer than a quorum of the cluster's active nodes before it exits with status 3 to be started again as a new member")
	serving := addServeFlags(fs)
	settling := addSettleFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return config{}, err
	}
	if !slices.Contains(cluster.MembershipProviders(), *membership) {
		return config{}, usagef("--membership %q: want one of %s", *membership, strings.Join(cluster.MembershipProviders(), ", "))
	}
	if !*withDemo {
		// A flag of the demo without it would quietly load nothing.
		var demoFlags []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "seed" || (f.Name == "cards" && *cards != 0) {
				demoFlags = append(demoFlags, "--"+f.Name)
			}
		})
		if len(demoFlags) > 0 {
			return config{}, usagef("%s: %s apply only with --demo (without it the cluster starts empty)", name, strings.Join(demoFlags, " and "))
		}
	}
	var peers []cluster.Peer
	var joinAddrs []string
	switch {
	case *nodeName == "":
		return config{}, usagef("%s: --name is required", name)
	case *join != "" && !gatewayOnly:
		if *peersFlag != "" || *actorAddr == "" || *raftAddr == "" {
			return config{}, usagef("%s: --join takes --actor and --raft, and no --peers", name)
		}
		joinAddrs = strings.Split(*join, ",")
	case *peersFlag == "":
		return config{}, usagef("%s: --peers (or, to join a running cluster, --join) is required", name)
	default:
		var err error
		if peers, err = cluster.ParsePeers(*peersFlag); err != nil {
			return config{}, usagef("--peers: %v", err)
		}
	}
	cfg := newConfig(name)
	if err := errors.Join(serving.apply(&cfg), settling.apply(&cfg)); err != nil {
		return config{}, err
	}
	cfg.Node.Name, cfg.Node.DataDir, cfg.Node.SecretsDir, cfg.Node.Peers, cfg.Node.Shards = *nodeName, *dataDir, *secretsDir, peers, *shards
	cfg.Node.Gateway, cfg.Node.GatewayActor = gatewayOnly, *actorAddr
	if len(joinAddrs) > 0 {
		cfg.Node.Join, cfg.Node.Self = joinAddrs, cluster.Peer{Name: *nodeName, Actor: *actorAddr, Raft: *raftAddr}
	}
	cfg.Node.QuorumLossMax = *quorumLossMax
	cfg.Node.Membership = cluster.Membership{Provider: *membership, ConsulAddress: *consulAddr, EtcdEndpoints: splitList(*etcdEndpoints), KubernetesAPI: *k8sAPI}
	if gatewayOnly {
		// A gateway holds no ledger: it closes no cycle.
		cfg.Node.Settlement.Cycle = 0
	}
	if *withDemo {
		cfg.useDemoDebtor()
		if *cards > 0 && !gatewayOnly {
			cfg.Demo = &demoCity{cfg: demo.Config{Seed: *seed, Cards: *cards}}
		}
	}
	return cfg, nil
}

// splitList reads a comma-separated list, ignoring spaces and empty items.
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}
