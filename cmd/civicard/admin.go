package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"civicard/ledger"
	"civicard/settlement"
)

// verifyReport is what `civicard admin verify` prints.
type verifyReport struct {
	Sequence         uint64 `json:"ledger_sequence"`
	FundingMinor     int64  `json:"funding_minor"`
	CardsMinor       int64  `json:"cards_minor"`
	ReceivablesMinor int64  `json:"receivables_minor"`
	Cards            int    `json:"cards"`
	Digest           string `json:"digest"`
	Invariants       string `json:"invariants"`
}

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return usagef("admin: want verify")
	}
	fs := newFlags("admin verify")
	dataDir := fs.String("data", "./data", "data directory of a stopped node")
	if _, err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	cfg := settlement.DefaultConfig()
	cfg.Dir = filepath.Join(*dataDir, "ledger")
	cfg.NodeID = "embedded"
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Registerer = prometheus.NewRegistry()
	group, err := settlement.OpenSingle(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open ledger (is the node still running?): %w", err)
	}
	defer group.Close()

	var report verifyReport
	var checkErr error
	group.Read(func(s *ledger.State) {
		totals := s.Totals()
		report = verifyReport{
			Sequence:         s.Sequence(),
			FundingMinor:     totals.FundingMinor,
			CardsMinor:       totals.CardsMinor,
			ReceivablesMinor: totals.ReceivablesMinor,
			Cards:            totals.Cards,
			Invariants:       "ok",
		}
		checkErr = s.Check()
	})
	digest := group.Digest()
	report.Digest = hex.EncodeToString(digest[:])
	if checkErr != nil {
		report.Invariants = checkErr.Error()
	}
	out, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	if checkErr != nil {
		return fmt.Errorf("ledger invariants broken: %w", checkErr)
	}
	return nil
}
