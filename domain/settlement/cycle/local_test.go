package cycle_test

import (
	"context"
	"errors"
	"fmt"

	"civicard/domain/ledger"
	"civicard/domain/settlement/cycle"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// local is Ledgers over plain ledger states: the registry and the shards
// of one process, as a test drives them.
type local struct {
	registry *ledger.State
	shards   []*ledger.State
	// failAfter, when > 0, makes the Propose after that many fail with
	// errCrash before it applies: the coordinator dies mid-way.
	failAfter int
	proposals int
}

var _ cycle.Ledgers = (*local)(nil)

var errCrash = errors.New("coordinator crashed")

func (l *local) state(group string) (*ledger.State, error) {
	if group == "registry" {
		return l.registry, nil
	}
	var i int
	if _, err := fmt.Sscanf(group, "shard-%d", &i); err != nil || i < 0 || i >= len(l.shards) {
		return nil, fmt.Errorf("no group %q", group)
	}
	return l.shards[i], nil
}

func (l *local) Shards() []string {
	out := make([]string, len(l.shards))
	for i := range l.shards {
		out[i] = fmt.Sprintf("shard-%d", i)
	}
	return out
}

func (l *local) Registry() string { return "registry" }

func (l *local) Propose(_ context.Context, group string, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	s, err := l.state(group)
	if err != nil {
		return nil, err
	}
	l.proposals++
	if l.failAfter > 0 && l.proposals > l.failAfter {
		return nil, errCrash
	}
	return s.Apply(cmd), nil
}

func (l *local) CycleTotals(_ context.Context, group string, k uint64) (*ledgerv1.CycleTotals, uint64, error) {
	s, err := l.state(group)
	if err != nil {
		return nil, 0, err
	}
	t, _ := s.CycleTotals(k)
	return t, s.OpenCycle(), nil
}

func (l *local) Batches(_ context.Context, limit int) ([]*civicardv1.SettlementBatch, error) {
	return l.registry.Batches(limit), nil
}

func (l *local) Batch(_ context.Context, k uint64) (*civicardv1.SettlementBatch, error) {
	b, _ := l.registry.Batch(k)
	return b, nil
}

func (l *local) Institution(_ context.Context, id string) (*civicardv1.Institution, bool, error) {
	inst, ok := l.registry.Institution(id)
	return inst, ok, nil
}

func (l *local) Statement(_ context.Context, group string, k uint64, institutionID string) ([]*civicardv1.SettlementStatementLine, error) {
	s, err := l.state(group)
	if err != nil {
		return nil, err
	}
	lines, err := s.Statement(k, institutionID)
	for _, line := range lines {
		line.Group = group
	}
	return lines, err
}

func (l *local) StatementSums(_ context.Context, group string, k uint64) (*ledgerv1.CycleTotals, error) {
	s, err := l.state(group)
	if err != nil {
		return nil, err
	}
	return s.StatementSums(k)
}

func (l *local) Totals(_ context.Context, group string) (*civicardv1.LedgerTotals, error) {
	s, err := l.state(group)
	if err != nil {
		return nil, err
	}
	t := s.Totals()
	return &civicardv1.LedgerTotals{
		FundingMinor: t.FundingMinor, CardsMinor: t.CardsMinor, ReceivablesMinor: t.ReceivablesMinor,
		PayoutsMinor: t.PayoutsMinor, FeesMinor: t.FeesMinor, Cards: int64(t.Cards), LedgerSequence: s.Sequence(),
	}, nil
}
