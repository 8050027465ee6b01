package cluster

import (
	"context"
	"fmt"

	"civicard/cluster/replication"
	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

// ledgerReads are the typed reads of a cluster's ledgers: each asks one
// group a replication Query, which its leader answers from its ledger
// (ledger.State.Answer) after confirming it still leads, so a read sees
// every proposal acknowledged before it; each unpacks the answer. The
// returned messages may be shared with the ledger: never mutate them.
type ledgerReads struct {
	host *replication.Host
}

// Card returns a card of the group's ledger.
func (r ledgerReads) Card(ctx context.Context, group, cardID string) (card *ledgerv1.CardState, found bool, err error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_CardId{CardId: cardID}})
	return res.GetCard(), res.GetFound(), err
}

// Transactions lists a card's transactions, newest first, below
// beforeSequence (0: from the newest), at most limit (at most
// ledger.QueryTransactionsMax).
func (r ledgerReads) Transactions(ctx context.Context, group, cardID string, beforeSequence uint64, limit int) ([]*civicardv1.Transaction, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_Transactions{Transactions: &replicationv1.TransactionsQuery{
		CardId: cardID, BeforeSequence: beforeSequence, Limit: uint32(max(0, min(limit, ledger.QueryTransactionsMax))),
	}}})
	return res.GetTransactions().GetTransactions(), err
}

// Institution returns an institution of the group's ledger.
func (r ledgerReads) Institution(ctx context.Context, group, institutionID string) (inst *civicardv1.Institution, found bool, err error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_InstitutionId{InstitutionId: institutionID}})
	return res.GetInstitution(), res.GetFound(), err
}

// Terminal returns a terminal of the group's ledger.
func (r ledgerReads) Terminal(ctx context.Context, group, terminalID string) (term *civicardv1.Terminal, found bool, err error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_TerminalId{TerminalId: terminalID}})
	return res.GetTerminal(), res.GetFound(), err
}

// Tariff returns the region and the price list of institutionID ("" none),
// or every price list (all), of the group's ledger.
func (r ledgerReads) Tariff(ctx context.Context, group, institutionID string, all bool) (*ledgerv1.TariffRecords, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_Tariff{Tariff: &replicationv1.TariffQuery{InstitutionId: institutionID, All: all}}})
	if err != nil {
		return nil, err
	}
	return res.GetTariff(), nil
}

// ClusterList reads the registry's node list and replica placement.
func (r ledgerReads) ClusterList(ctx context.Context) (*replicationv1.ClusterList, error) {
	res, err := r.host.Query(ctx, replication.RegistryGroup, &replicationv1.Query{Kind: &replicationv1.Query_ClusterList{ClusterList: &replicationv1.ClusterListQuery{}}})
	if err != nil {
		return nil, err
	}
	return res.GetClusterList(), nil
}

// BlockedCards lists a shard's blocked cards, sorted, for a host that
// does not replicate the shard.
func (r ledgerReads) BlockedCards(ctx context.Context, group string) ([]string, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_BlockedCards{BlockedCards: &replicationv1.BlockedCardsQuery{}}})
	if err != nil {
		return nil, err
	}
	return res.GetBlockedCards().GetCardIds(), nil
}

// CycleTotals returns the group's closed cycle k (nil if not closed) and
// its open cycle.
func (r ledgerReads) CycleTotals(ctx context.Context, group string, k uint64) (*ledgerv1.CycleTotals, uint64, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_CycleTotals{CycleTotals: k}})
	return res.GetCycleTotals(), res.GetOpenCycle(), err
}

// Statement returns an institution's lines of the group's closed cycle k,
// the group filled in; replication.ErrInvalid when there is none (the
// cycle is not closed, the institution unknown).
func (r ledgerReads) Statement(ctx context.Context, group string, k uint64, institutionID string) ([]*civicardv1.SettlementStatementLine, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_CycleStatement{CycleStatement: &replicationv1.CycleStatementQuery{
		Cycle: k, InstitutionId: institutionID,
	}}})
	if err != nil {
		return nil, err
	}
	if !res.GetFound() {
		return nil, fmt.Errorf("%w: %s has no statement of %s for cycle %d (open: %d)", replication.ErrInvalid, group, institutionID, k, res.GetOpenCycle())
	}
	// The lines are the answer's own (the ledger makes them per read).
	lines := res.GetCycleStatement().GetLines()
	for _, l := range lines {
		l.Group = group
	}
	return lines, nil
}

// Batch returns the group's batch of cycle k, nil if not recorded.
func (r ledgerReads) Batch(ctx context.Context, group string, k uint64) (*civicardv1.SettlementBatch, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_SettlementBatch{SettlementBatch: k}})
	return res.GetSettlementBatch(), err
}

// Batches returns the group's batches, newest first, at most limit (at
// most ledger.QueryBatchesMax).
func (r ledgerReads) Batches(ctx context.Context, group string, limit int) ([]*civicardv1.SettlementBatch, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_SettlementBatches{SettlementBatches: uint32(max(0, min(limit, ledger.QueryBatchesMax)))}})
	return res.GetSettlementBatches().GetBatches(), err
}

// LedgerTotals returns the group's account sums.
func (r ledgerReads) LedgerTotals(ctx context.Context, group string) (*civicardv1.LedgerTotals, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_LedgerTotals{LedgerTotals: true}})
	return res.GetLedgerTotals(), err
}

// StatementSums returns the sums of every institution's statement lines of
// the group's closed cycle k; replication.ErrInvalid when it is not
// closed.
func (r ledgerReads) StatementSums(ctx context.Context, group string, k uint64) (*ledgerv1.CycleTotals, error) {
	res, err := r.host.Query(ctx, group, &replicationv1.Query{Kind: &replicationv1.Query_StatementSums{StatementSums: k}})
	if err != nil {
		return nil, err
	}
	if !res.GetFound() {
		return nil, fmt.Errorf("%w: %s has not closed cycle %d (open: %d)", replication.ErrInvalid, group, k, res.GetOpenCycle())
	}
	return res.GetStatementSums(), nil
}
