package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/prometheus/client_golang/prometheus"

	"civicard/actors"
	"civicard/cluster/replication"
	civicardv1 "civicard/messages/civicard/v1"
)

// Settings are what every node is configured with, embedded or not.
type Settings struct {
	// DataDir holds the node's Raft groups (and, for the embedded node, its
	// secrets); created if missing.
	DataDir string
	// Seed, if set, loads data into a new cluster (the demo city); nil
	// starts it empty.
	Seed Seeder
	// Host configures the Raft groups; NodeID, Dir, addresses, Logger and
	// Registerer are filled in.
	Host   replication.HostConfig
	Actors actors.Config
	// Settlement configures clearing cycles and payouts.
	Settlement SettlementConfig
	// RequestTimeout bounds a call between grains.
	RequestTimeout time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// DefaultSettings returns settings fit for a city; DataDir must be set, and
// Settlement.Operator (or Settlement.Cycle 0). Nothing is seeded.
func DefaultSettings() Settings {
	return Settings{
		Host:           replication.DefaultHostConfig(),
		Actors:         actors.DefaultConfig(),
		Settlement:     DefaultSettlementConfig(),
		RequestTimeout: time.Second,
		Logger:         slog.Default(),
		Registerer:     prometheus.NewRegistry(),
	}
}

func (c Settings) validate() error {
	if c.DataDir == "" {
		return errors.New("cluster: DataDir is empty")
	}
	if c.RequestTimeout <= 0 || c.Logger == nil || c.Registerer == nil {
		return errors.New("cluster: RequestTimeout, Logger and Registerer are required")
	}
	if err := c.Settlement.Validate(); err != nil {
		return err
	}
	return c.Actors.Validate()
}

// EmbeddedConfig configures the one-process default: a cluster of one
// node, with the in-memory membership and every Raft group (the registry
// and one ledger shard) on this node alone.
type EmbeddedConfig struct {
	Settings
}

// EmbeddedName is the embedded node's name: its Raft ServerID.
const EmbeddedName = "embedded"

// DefaultEmbeddedConfig returns the settings of `civicard up`.
func DefaultEmbeddedConfig(dataDir string) EmbeddedConfig {
	cfg := EmbeddedConfig{Settings: DefaultSettings()}
	cfg.DataDir = dataDir
	return cfg
}

// Validate rejects settings that cannot work.
func (c EmbeddedConfig) Validate() error { return c.validate() }

// StartEmbedded starts the one-process node on cfg.DataDir: it opens (or
// creates) the ledger, runs cfg.Seed (the demo city), and starts the actor
// cluster. It returns when the node takes taps.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The groups' single voter needs no stable address: nobody dials it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cluster: raft listener: %w", err)
	}
	layout, err := NewLayout([]Peer{{Name: EmbeddedName, Actor: "127.0.0.1:0", Raft: ln.Addr().String()}}, 1)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return start(ctx, startSpec{
		Settings: cfg.Settings, name: EmbeddedName, secretsDir: cfg.DataDir,
		layout: &layout, raftListener: ln, seeds: true,
		provider: test.NewTestProvider(test.NewInMemAgent()), actorAddr: "127.0.0.1:0",
	})
}

// Node is a running civicard member.
type Node struct {
	// Cluster is how the gateway reaches the grains.
	Cluster *protocluster.Cluster
	// OperatorToken is the credential of the operator API.
	OperatorToken string
	// CredentialKey derives the demo terminals' credentials.
	CredentialKey string
	// Settlement settles clearing cycles; nil for a gateway, which has no
	// ledger.
	Settlement *Settler
	// registry takes the operators' registry commands (registry.go); nil
	// for a gateway.
	registry *Registry

	// failed receives an error when the node can no longer serve and must
	// be started again (fail); never for the embedded node. lost is set
	// then.
	failed chan error
	lost   atomic.Bool
	// name is the node's name in its cluster; empty for the embedded node.
	name string
	// scaler keeps a multi-node cluster's node in line with the replicated
	// node list and placement; nil for the embedded node and a gateway.
	scaler *scaler
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

// Close leaves the cluster (grains terminate), then closes the ledger; a
// node that failed (Failed) only stops. Safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		// A member the cluster has taken for dead has nobody to hand its
		// work to or to take leave of, and its grains' calls would only
		// time out: it stops at once. Its grains keep nothing the ledger
		// does not have.
		if n.lost.Load() {
			n.Cluster.Shutdown(false)
			n.stop()
			n.closeErr = n.closeLedger()
			return
		}
		if n.handOver != nil {
			n.handOver()
		}
		n.Cluster.Shutdown(true)
		n.stop()
		n.closeErr = n.closeLedger()
	})
	return n.closeErr
}

// fail reports that the node can no longer serve; at most one report per
// watch fits in failed.
func (n *Node) fail(err error) {
	n.lost.Store(true)
	n.failed <- err
}

// Failed receives an error when the node can no longer serve (see
// watchPauses and quorumWatch) and its process should stop; it never does
// for the embedded node.
func (n *Node) Failed() <-chan error { return n.failed }

// Ready reports whether the node takes taps: its ledger has a leader it can
// commit through.
func (n *Node) Ready() error {
	return n.ready()
}
