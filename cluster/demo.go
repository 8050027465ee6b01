package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	ledgerv1 "civicard/messages/ledger/v1"
	"civicard/sim/demo"
)

// demoTarget is where the demo city is written: the embedded node's one
// group, or a cluster's groups.
type demoTarget interface {
	ProposeAll(ctx context.Context, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error)
	// Seeded may say false for a seed that was loaded (a lagging replica):
	// loading again is then a harmless replay.
	Seeded(seed uint64) bool
}

// loadDemo generates the demo city and writes it to the ledger unless an
// earlier start already did. A start that dies half-way simply runs again:
// the ledger answers every command it already applied with its first result.
func loadDemo(ctx context.Context, target demoTarget, cfg demo.Config, logger *slog.Logger) (*demo.Dataset, error) {
	dataset, err := demo.Generate(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: demo data: %w", err)
	}
	if target.Seeded(cfg.Seed) {
		return dataset, nil
	}
	start := time.Now()
	commands := dataset.Commands(cfg.Seed)
	results, err := target.ProposeAll(ctx, commands)
	if err != nil {
		return nil, fmt.Errorf("cluster: load demo data: %w", err)
	}
	for i, res := range results {
		if res.GetStatus() != ledgerv1.Status_STATUS_OK {
			return nil, fmt.Errorf("cluster: demo command %s: %s %s", commands[i].GetId(), res.GetStatus(), res.GetError())
		}
	}
	logger.Info("demo city loaded",
		slog.Int("institutions", len(dataset.Institutions)),
		slog.Int("terminals", len(dataset.Terminals)),
		slog.Int("cards", len(dataset.Cards)),
		slog.Duration("took", time.Since(start)))
	return dataset, nil
}
