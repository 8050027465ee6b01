package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/prometheus/client_golang/prometheus"

	"civicard/actors"
	"civicard/cluster/replication"
	"civicard/domain/money"
	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
)

// Settings are what every node is configured with, embedded or not.
type Settings struct {
	// DataDir holds the node's Raft groups (and, for the embedded node, its
	// secrets); created if missing.
	DataDir string
	// Currency is the ISO 4217 code of the city's money, the one setting
	// of it: the ledger keeps every amount in it, the grains answer in it
	// and the payouts are paid in it (PLN or EUR: the payout files know no
	// other). start fills it into Host.Group.Ledger, Actors and the
	// settlement; what those say of a currency is not read. Every node of
	// a cluster must have the same, for the life of its data. Default
	// money.DefaultCurrency.
	Currency string
	// Seed, if set, loads data into a new cluster (the demo city); nil
	// starts it empty.
	Seed Seeder
	// Host configures the Raft groups; NodeID, Dir, addresses, the
	// ledger's Currency, Logger and Registerer are filled in.
	Host replication.HostConfig
	// Actors configures the grains; Currency is filled in.
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
		Currency:       money.DefaultCurrency,
		Host:           replication.DefaultHostConfig(),
		Actors:         actors.DefaultConfig(),
		Settlement:     DefaultSettlementConfig(),
		RequestTimeout: time.Second,
		Logger:         slog.Default(),
		Registerer:     prometheus.NewRegistry(),
	}
}

// validate checks the settings together, as start will use them: the
// Raft groups' and the grains' settings with the currency filled in, and
// the currency against the payout files'. name is the node's.
func (c Settings) validate(name string) error {
	if c.DataDir == "" {
		return errors.New("cluster: DataDir is empty")
	}
	if c.RequestTimeout <= 0 || c.Logger == nil || c.Registerer == nil {
		return errors.New("cluster: RequestTimeout, Logger and Registerer are required")
	}
	var errs []error
	// Payouts are paid in the currency the ledger keeps (the ledger
	// refuses a batch in another): a currency no payout file can carry
	// would fail at the first cycle's close.
	if err := payout.CheckCurrency(c.Currency); err != nil {
		errs = append(errs, fmt.Errorf("cluster: Currency: %w", err))
	}
	if err := c.Settlement.Validate(); err != nil {
		errs = append(errs, err)
	}
	actorsCfg := c.Actors
	actorsCfg.Currency = c.Currency
	if err := actorsCfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	// Addresses are the start's to fill; a placeholder stands in for them.
	host := c.hostConfig(name)
	host.RaftAddr, host.Registerer = "127.0.0.1:0", nil
	if err := host.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("cluster: %w", err))
	}
	return errors.Join(errs...)
}

// hostConfig is Host with what the node fills in: its name and directory,
// the currency, its logger and metrics. The addresses are the caller's.
func (c Settings) hostConfig(name string) replication.HostConfig {
	host := c.Host
	host.NodeID, host.Dir = name, filepath.Join(c.DataDir, "raft")
	host.Group.Ledger.Currency = c.Currency
	host.Logger, host.Registerer = c.Logger, c.Registerer
	return host
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

// Validate rejects settings that cannot work, alone or together.
func (c EmbeddedConfig) Validate() error { return c.validate(EmbeddedName) }

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
	// node list and placement; nil for the embedded node.
	scaler *scaler
	// describeLedger reports this node's ledger replicas; nil for a
	// gateway.
	describeLedger func(withDigests bool) []*civicardv1.GroupReplica
	// parts are the node's components, in start order (doc.go).
	parts     parts
	closeOnce sync.Once
	closeErr  error
}

// Close stops the node: its components hand their work over to other
// nodes (Raft leadership, the membership), then stop in the reverse order
// of their start, each within its own bound (doc.go, "Start and stop"). A
// node that failed (Failed) does not hand over, and its whole stop takes
// at most lostStopMax. Safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		// A member the cluster has taken for dead has nobody to hand its
		// work to or to take leave of, and its grains' calls would only
		// time out: it stops at once. Its grains keep nothing the ledger
		// does not have.
		if n.lost.Load() {
			n.closeErr = n.parts.stop(false, time.Now().Add(lostStopMax))
			return
		}
		n.closeErr = n.parts.stop(true, time.Time{})
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

// Ready reports whether the node takes taps: every component is ready (its
// ledger has a leader it can commit through, it is not draining, it sees
// a quorum of the cluster), or why not.
func (n *Node) Ready() error {
	return n.parts.ready()
}
