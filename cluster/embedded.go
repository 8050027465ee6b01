package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"

	"civicard/actors"
	"civicard/cluster/placement"
	"civicard/demo"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/settlement"
)

// EmbeddedConfig configures the one-process default.
type EmbeddedConfig struct {
	// DataDir holds the ledger and the node's secrets; created if missing.
	DataDir string
	// Demo says which city to load on first start; Demo.CredentialKey is
	// filled in from the data directory. Demo.Cards == 0 loads no demo data.
	Demo demo.Config
	// Settlement configures the Raft group; Dir, NodeID, Logger and
	// Registerer are filled in.
	Settlement settlement.Config
	Actors     actors.Config
	// RequestTimeout bounds a call between grains.
	RequestTimeout time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// DefaultEmbeddedConfig returns the settings of `civicard up`.
func DefaultEmbeddedConfig(dataDir string) EmbeddedConfig {
	return EmbeddedConfig{
		DataDir:        dataDir,
		Demo:           demo.DefaultConfig(),
		Settlement:     settlement.DefaultConfig(),
		Actors:         actors.DefaultConfig(),
		RequestTimeout: time.Second,
		Logger:         slog.Default(),
		Registerer:     prometheus.NewRegistry(),
	}
}

// Validate rejects settings that cannot work.
func (c EmbeddedConfig) Validate() error {
	if c.DataDir == "" {
		return errors.New("cluster: DataDir is empty")
	}
	if c.RequestTimeout <= 0 {
		return errors.New("cluster: RequestTimeout must be positive")
	}
	if c.Logger == nil || c.Registerer == nil {
		return errors.New("cluster: Logger and Registerer are required")
	}
	return c.Actors.Validate()
}

// Node is a running civicard member.
type Node struct {
	// Cluster is how the gateway reaches the grains.
	Cluster *protocluster.Cluster
	// Demo is the demo city, or nil when none was asked for.
	Demo *demo.Dataset
	// OperatorToken is the credential of the operator API.
	OperatorToken string
	// CredentialKey derives the demo terminals' credentials.
	CredentialKey string

	// failed receives an error when the node can no longer serve and must
	// be started again; nil for the embedded node.
	failed chan error
	// name is the node's name in its cluster; empty for the embedded node.
	name string
	// describeLedger reports this node's ledger replicas.
	describeLedger func(withDigests bool) []*civicardv1.GroupReplica
	// handOver, if set, runs first when the node stops: it moves the work
	// this node leads to others.
	handOver func()
	// ready reports whether the ledger can commit; closeLedger closes it.
	ready       func() error
	closeLedger func() error
	stop        context.CancelFunc
	closeOnce   sync.Once
	closeErr    error
}

// StartEmbedded starts the one-process node on cfg.DataDir: it opens (or
// creates) the ledger, loads the demo city if it was not loaded before, and
// starts the actor cluster. It returns when the node takes taps.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: data directory: %w", err)
	}
	credentialKey, err := ensureSecret(cfg.DataDir, CredentialKeyFile)
	if err != nil {
		return nil, err
	}
	operatorToken, err := ensureSecret(cfg.DataDir, OperatorTokenFile)
	if err != nil {
		return nil, err
	}

	groupCfg := cfg.Settlement
	groupCfg.Dir = filepath.Join(cfg.DataDir, "ledger")
	groupCfg.NodeID = "embedded"
	groupCfg.Logger = cfg.Logger
	groupCfg.Registerer = cfg.Registerer
	group, err := settlement.OpenSingle(ctx, groupCfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: open ledger: %w", err)
	}
	node := &Node{OperatorToken: operatorToken, CredentialKey: credentialKey, ready: group.Ready, closeLedger: group.Close, describeLedger: describeGroup(group)}

	if cfg.Demo.Cards > 0 {
		demoCfg := cfg.Demo
		demoCfg.CredentialKey = []byte(credentialKey)
		if node.Demo, err = loadDemo(ctx, groupTarget{group}, demoCfg, cfg.Logger); err != nil {
			return nil, errors.Join(err, group.Close())
		}
	}

	metrics, err := actors.NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, errors.Join(err, group.Close())
	}
	// Grains live as long as the node, not as long as the start-up ctx.
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	node.stop = stop
	deps := &actors.Deps{
		Config:  cfg.Actors,
		Ledger:  localLedger{group: group},
		Context: life,
		Logger:  cfg.Logger,
		Metrics: metrics,
	}
	provider := test.NewTestProvider(test.NewInMemAgent())
	if node.Cluster, err = startMember(cfg.Logger, provider, "127.0.0.1:0", cfg.RequestTimeout, actors.Kinds(deps)); err != nil {
		stop()
		return nil, errors.Join(err, group.Close())
	}
	return node, nil
}

// startMember starts an actor system listening on actorAddr and a cluster
// member hosting kinds (none for a gateway), with its membership from
// provider. The library panics on start-up errors (a port in use); they come
// back as errors here.
func startMember(logger *slog.Logger, provider protocluster.ClusterProvider, actorAddr string, requestTimeout time.Duration, kinds []*protocluster.Kind) (c *protocluster.Cluster, err error) {
	host, portText, err := net.SplitHostPort(actorAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: actor address: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("cluster: actor address: %w", err)
	}
	actorLogger := slog.New(quietHandler{Handler: logger.Handler(), min: slog.LevelWarn}).With(slog.String("component", "actor"))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return actorLogger
	}))
	clusterCfg := protocluster.Configure("civicard", provider, placement.New(requestTimeout),
		remote.Configure(host, port),
		protocluster.WithKinds(kinds...),
		protocluster.WithRequestTimeout(requestTimeout))
	c = protocluster.New(system, clusterCfg)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cluster: start member: %v", p)
		}
	}()
	c.StartMember()
	return c, nil
}

// Close leaves the cluster (grains terminate), then closes the ledger. Safe
// to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		if n.handOver != nil {
			n.handOver()
		}
		n.Cluster.Shutdown(true)
		n.stop()
		n.closeErr = n.closeLedger()
	})
	return n.closeErr
}

// Failed receives an error when the node can no longer serve (see
// watchPauses) and its process should stop; it never does for the embedded
// node.
func (n *Node) Failed() <-chan error { return n.failed }

// Ready reports whether the node takes taps: its ledger has a leader it can
// commit through.
func (n *Node) Ready() error {
	return n.ready()
}
