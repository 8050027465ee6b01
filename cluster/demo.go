package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"civicard/demo"
	"civicard/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
	"civicard/settlement"
)

// loadDemo generates the demo city and writes it to the ledger unless an
// earlier start already did. A start that dies half-way simply runs again:
// the ledger answers every command it already applied with its first result.
func loadDemo(ctx context.Context, group *settlement.Group, cfg demo.Config, logger *slog.Logger) (*demo.Dataset, error) {
	dataset, err := demo.Generate(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: demo data: %w", err)
	}
	var seeded bool
	group.Read(func(s *ledger.State) { seeded = s.Seeded(cfg.Seed) })
	if seeded {
		return dataset, nil
	}
	start := time.Now()
	commands := dataset.Commands(cfg.Seed)
	results, err := group.ProposeAll(ctx, commands)
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
