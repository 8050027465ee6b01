package cluster

import (
	"context"

	ledgerv1 "civicard/messages/ledger/v1"
)

// Seeder loads data into a new cluster: the demo city (sim/demo), for
// `civicard up` and `civicard node --demo`; production clusters start
// empty and are filled by operators through the admin API. It runs on one
// node (the embedded node, or a cluster's first peer by name) on every
// start, once every Raft group has a leader and before the grains start.
// It must be idempotent: fixed command ids, so that a start that died
// half-way runs it again and the ledger answers what it already applied
// with its first results. credentialKey is the cluster's secret that the
// demo terminals' credentials derive from.
type Seeder func(ctx context.Context, target SeedTarget, credentialKey string) error

// SeedTarget is the cluster's ledger as a Seeder writes it.
type SeedTarget interface {
	// ProposeAll and Propose route commands to their groups, as the
	// grains' commands are (the tariff to the registry, then every shard).
	ProposeAll(ctx context.Context, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error)
	Propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error)
	// Seeded reports whether MarkSeeded recorded seed, as this node's
	// replica of the registry knows it: false may be a lagging replica,
	// and loading again a harmless replay.
	Seeded(seed uint64) bool
	// HasRegion reports whether the registry holds a region, as this
	// node's replica knows it (false may be a lagging replica).
	HasRegion() bool
}

var _ SeedTarget = routedLedger{}
