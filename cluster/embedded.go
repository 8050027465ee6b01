package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	// Group is the Raft group holding the ledger.
	Group *settlement.Group
	// Demo is the demo city, or nil when none was asked for.
	Demo *demo.Dataset
	// OperatorToken is the credential of the operator API.
	OperatorToken string
	// CredentialKey derives the demo terminals' credentials.
	CredentialKey string

	logger    *slog.Logger
	stop      context.CancelFunc
	closeOnce sync.Once
	closeErr  error
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
	node := &Node{Group: group, OperatorToken: operatorToken, CredentialKey: credentialKey, logger: cfg.Logger}

	if cfg.Demo.Cards > 0 {
		demoCfg := cfg.Demo
		demoCfg.CredentialKey = []byte(credentialKey)
		if node.Demo, err = loadDemo(ctx, group, demoCfg, cfg.Logger); err != nil {
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
	if node.Cluster, err = startMember(cfg, actors.Kinds(deps)); err != nil {
		stop()
		return nil, errors.Join(err, group.Close())
	}
	return node, nil
}

// startMember starts an actor system and a cluster member hosting kinds,
// alone in an in-memory membership. The library panics on start-up errors
// (a port in use); they come back as errors here.
func startMember(cfg EmbeddedConfig, kinds []*protocluster.Kind) (c *protocluster.Cluster, err error) {
	logger := slog.New(quietHandler{Handler: cfg.Logger.Handler(), min: slog.LevelWarn}).With(slog.String("component", "actor"))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger
	}))
	provider := test.NewTestProvider(test.NewInMemAgent())
	clusterCfg := protocluster.Configure("civicard", provider, placement.New(cfg.RequestTimeout),
		remote.Configure("127.0.0.1", 0),
		protocluster.WithKinds(kinds...),
		protocluster.WithRequestTimeout(cfg.RequestTimeout))
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
		n.Cluster.Shutdown(true)
		n.stop()
		n.closeErr = n.Group.Close()
	})
	return n.closeErr
}

// Ready reports whether the node takes taps: its ledger has a leader it can
// commit through.
func (n *Node) Ready() error {
	return n.Group.Ready()
}
