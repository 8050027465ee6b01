package demo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"civicard/domain/settlement/payout"
	ledgerv1 "civicard/messages/ledger/v1"
)

// Target is the ledger the demo city is loaded into: a cluster's routed
// ledger (cluster.SeedTarget), or one ledger in tests.
type Target interface {
	ProposeAll(ctx context.Context, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error)
	// Seeded and HasRegion may say false for a seed or a region that was
	// loaded (a lagging replica): loading again is then a harmless replay.
	Seeded(seed uint64) bool
	HasRegion() bool
}

// Load generates the demo city of cfg and writes it to target unless an
// earlier start did. A start that dies half-way simply runs again: the
// ledger answers every command it already applied with its first result.
// MarkSeeded goes last and alone, once the shards hold the tariff too (a
// cluster's shards follow the registry's tariff after the rest of a
// batch). A ledger seeded before the tariff was data is given the tariff
// (TariffCommands) on its next start.
func Load(ctx context.Context, target Target, cfg Config, logger *slog.Logger) (*Dataset, error) {
	dataset, err := Generate(cfg)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if target.Seeded(cfg.Seed) {
		if !target.HasRegion() {
			if err := propose(ctx, target, TariffCommands(cfg.Seed)); err != nil {
				return nil, err
			}
		}
		return dataset, nil
	}
	start := time.Now()
	cmds := dataset.Commands(cfg.Seed)
	if err := propose(ctx, target, cmds[:len(cmds)-1]); err != nil {
		return nil, err
	}
	if err := propose(ctx, target, cmds[len(cmds)-1:]); err != nil {
		return nil, err
	}
	logger.Info("demo city loaded",
		slog.Int("institutions", len(dataset.Institutions)),
		slog.Int("terminals", len(dataset.Terminals)),
		slog.Int("cards", len(dataset.Cards)),
		slog.Duration("took", time.Since(start)))
	return dataset, nil
}

func propose(ctx context.Context, target Target, cmds []*ledgerv1.Command) error {
	results, err := target.ProposeAll(ctx, cmds)
	if err != nil {
		return fmt.Errorf("demo: load: %w", err)
	}
	for i, res := range results {
		if res.GetStatus() != ledgerv1.Status_STATUS_OK {
			return fmt.Errorf("demo: command %s: %s %s", cmds[i].GetId(), res.GetStatus(), res.GetError())
		}
	}
	return nil
}

// PayoutDebtor is the demo city's operator account, the debtor of its
// payout files: a made-up account of a made-up operator, for the demo
// only. A real installation names its own (civicard node --operator-iban).
func PayoutDebtor() payout.Party {
	return payout.Party{Name: "Demo Operator Karty Uslug Publicznych", IBAN: "PL52102055610000000000000001", BIC: "BPKOPLPW"}
}
