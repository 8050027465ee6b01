package replication

import (
	"context"
	"fmt"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

// queryBatchesMax bounds the batches one query lists.
const queryBatchesMax = 100_000

// querySettlement answers the settlement reads; false if q is none of them.
func querySettlement(s *ledger.State, q *replicationv1.Query, qr *replicationv1.QueryResult) bool {
	qr.OpenCycle = s.OpenCycle()
	switch k := q.GetKind().(type) {
	case *replicationv1.Query_CycleTotals:
		if t, ok := s.CycleTotals(k.CycleTotals); ok {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_CycleTotals{CycleTotals: t}
		}
	case *replicationv1.Query_CycleStatement:
		lines, err := s.Statement(k.CycleStatement.GetCycle(), k.CycleStatement.GetInstitutionId())
		if err == nil {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_CycleStatement{CycleStatement: &replicationv1.CycleStatementList{Lines: lines}}
		}
	case *replicationv1.Query_SettlementBatch:
		if b, ok := s.Batch(k.SettlementBatch); ok {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_SettlementBatch{SettlementBatch: b}
		}
	case *replicationv1.Query_SettlementBatches:
		limit := min(int(k.SettlementBatches), queryBatchesMax)
		qr.Found, qr.Kind = true, &replicationv1.QueryResult_SettlementBatches{SettlementBatches: &replicationv1.SettlementBatchList{Batches: s.Batches(limit)}}
	case *replicationv1.Query_StatementSums:
		if sums, err := s.StatementSums(k.StatementSums); err == nil {
			qr.Found, qr.Kind = true, &replicationv1.QueryResult_StatementSums{StatementSums: sums}
		}
	case *replicationv1.Query_LedgerTotals:
		qr.Found, qr.Kind = true, &replicationv1.QueryResult_LedgerTotals{LedgerTotals: Totals(s)}
	default:
		return false
	}
	return true
}

// Totals are a ledger's account sums as an operator sees them.
func Totals(s *ledger.State) *civicardv1.LedgerTotals {
	t := s.Totals()
	return &civicardv1.LedgerTotals{
		FundingMinor:     t.FundingMinor,
		CardsMinor:       t.CardsMinor,
		ReceivablesMinor: t.ReceivablesMinor,
		Cards:            int64(t.Cards),
		LedgerSequence:   s.Sequence(),
		PayoutsMinor:     t.PayoutsMinor,
		FeesMinor:        t.FeesMinor,
		CyclesClosed:     uint64(t.CyclesClosed),
	}
}

// CycleTotals returns the group's closed cycle k (nil if not closed) and
// its open cycle, read at the leader.
func (h *Host) CycleTotals(ctx context.Context, group string, k uint64) (*ledgerv1.CycleTotals, uint64, error) {
	r, err := h.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_CycleTotals{CycleTotals: k}})
	return r.GetCycleTotals(), r.GetOpenCycle(), err
}

// Statement returns an institution's lines of the group's closed cycle k,
// read at the leader, the group filled in.
func (h *Host) Statement(ctx context.Context, group string, k uint64, institutionID string) ([]*civicardv1.SettlementStatementLine, error) {
	r, err := h.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_CycleStatement{CycleStatement: &replicationv1.CycleStatementQuery{
		Cycle: k, InstitutionId: institutionID,
	}}})
	if err != nil {
		return nil, err
	}
	if !r.GetFound() {
		return nil, fmt.Errorf("%w: %s has no statement of %s for cycle %d (open: %d)", ErrInvalid, group, institutionID, k, r.GetOpenCycle())
	}
	lines := r.GetCycleStatement().GetLines()
	for _, l := range lines {
		l.Group = group
	}
	return lines, nil
}

// Batch returns the group's batch of cycle k, nil if not recorded, read at
// the leader.
func (h *Host) Batch(ctx context.Context, group string, k uint64) (*civicardv1.SettlementBatch, error) {
	r, err := h.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_SettlementBatch{SettlementBatch: k}})
	return r.GetSettlementBatch(), err
}

// Batches returns the group's batches, newest first, at most limit, read at
// the leader.
func (h *Host) Batches(ctx context.Context, group string, limit int) ([]*civicardv1.SettlementBatch, error) {
	r, err := h.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_SettlementBatches{SettlementBatches: uint32(max(0, min(limit, queryBatchesMax)))}})
	return r.GetSettlementBatches().GetBatches(), err
}

// LedgerTotals returns the group's account sums, read at the leader.
func (h *Host) LedgerTotals(ctx context.Context, group string) (*civicardv1.LedgerTotals, error) {
	r, err := h.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_LedgerTotals{LedgerTotals: true}})
	return r.GetLedgerTotals(), err
}

// StatementSums returns the sums of every institution's statement lines of
// the group's closed cycle k, read at the leader.
func (h *Host) StatementSums(ctx context.Context, group string, k uint64) (*ledgerv1.CycleTotals, error) {
	r, err := h.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_StatementSums{StatementSums: k}})
	if err != nil {
		return nil, err
	}
	if !r.GetFound() {
		return nil, fmt.Errorf("%w: %s has not closed cycle %d (open: %d)", ErrInvalid, group, k, r.GetOpenCycle())
	}
	return r.GetStatementSums(), nil
}
