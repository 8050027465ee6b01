package demo

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
)

// oneLedger is a Target of a single ledger, counting what is proposed.
type oneLedger struct {
	state    *ledger.State
	proposed int
}

func (l *oneLedger) ProposeAll(_ context.Context, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error) {
	out := make([]*ledgerv1.Result, len(cmds))
	for i, cmd := range cmds {
		out[i] = l.state.Apply(cmd)
	}
	l.proposed += len(cmds)
	return out, nil
}

func (l *oneLedger) Seeded(seed uint64) bool { return l.state.Seeded(seed) }
func (l *oneLedger) HasRegion() bool         { return l.state.Region() != nil }

// Load writes the city with its tariff once; a start that finds it loaded
// proposes nothing, and one that finds a city loaded before the tariff
// was data is given the tariff alone.
func TestLoad(t *testing.T) {
	cfg := testConfig(2015, 500)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	newLedger := func() *oneLedger {
		s, err := ledger.New(ledger.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		return &oneLedger{state: s}
	}

	l := newLedger()
	city, err := Load(context.Background(), l, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	tariff := l.state.Tariff("", true)
	if !l.state.Seeded(2015) || tariff.GetRegion().GetVersion() != 1 || len(tariff.GetPriceLists()) != len(city.Institutions) {
		t.Fatalf("loaded: seeded %t, region %v, %d price lists for %d institutions",
			l.state.Seeded(2015), tariff.GetRegion().GetVersion(), len(tariff.GetPriceLists()), len(city.Institutions))
	}
	before := l.proposed
	if _, err := Load(context.Background(), l, cfg, logger); err != nil || l.proposed != before {
		t.Fatalf("a second load proposed %d commands (%v), want none", l.proposed-before, err)
	}

	old := newLedger()
	for _, cmd := range city.Commands(2015) {
		switch cmd.GetKind().(type) {
		case *ledgerv1.Command_SetRegion, *ledgerv1.Command_SetPriceList:
			continue
		}
		old.state.Apply(cmd)
	}
	if _, err := Load(context.Background(), old, cfg, logger); err != nil {
		t.Fatal(err)
	}
	if got := old.state.Tariff("", true); old.proposed != 1+len(city.Institutions) || got.GetRegion() == nil || len(got.GetPriceLists()) != len(city.Institutions) {
		t.Fatalf("a city loaded before the tariff: %d commands proposed, region %v, %d lists", old.proposed, got.GetRegion().GetVersion(), len(got.GetPriceLists()))
	}
}
