package cycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"civicard/domain/settlement/clearing"
	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
)

// ErrNotFound is a batch, cycle or institution that does not exist.
var ErrNotFound = errors.New("cycle: not found")

// Statement gathers institutionID's statement of cycle k from every shard:
// its lines (shard by shard, each in ledger order), their sums, and what
// the batch paid. The lines' net sums to the batch's net for the
// institution; Reconcile checks it.
func Statement(ctx context.Context, l Ledgers, k uint64, institutionID string) (*civicardv1.GetStatementResponse, error) {
	inst, ok, err := l.Institution(ctx, institutionID)
	if err != nil {
		return nil, fmt.Errorf("cycle: institution %s: %w", institutionID, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: institution %s", ErrNotFound, institutionID)
	}
	b, err := l.Batch(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("cycle: batch %d: %w", k, err)
	}
	if b == nil {
		return nil, fmt.Errorf("%w: batch %d is not recorded", ErrNotFound, k)
	}
	out := &civicardv1.GetStatementResponse{InstitutionId: institutionID, InstitutionName: inst.GetName(), Cycle: k, Currency: b.GetCurrency()}
	for _, group := range l.Shards() {
		lines, err := l.Statement(ctx, group, k, institutionID)
		if err != nil {
			return nil, fmt.Errorf("cycle: %s statement: %w", group, err)
		}
		out.Lines = append(out.Lines, lines...)
	}
	out.Totals = clearing.Sum(out.Lines)
	for _, bi := range b.GetInstitutions() {
		if bi.GetInstitutionId() == institutionID {
			out.CarriedInMinor, out.PayableMinor, out.CarriedOutMinor = bi.GetCarriedInMinor(), bi.GetPayableMinor(), bi.GetCarriedOutMinor()
		}
	}
	return out, nil
}

// PayoutFile writes batch k's pain.001.001.09 file: one credit transfer per
// institution the batch pays. It is the same file every time: its creation
// time is the batch's.
func PayoutFile(ctx context.Context, l Ledgers, k uint64, debtor payout.Party) ([]byte, string, error) {
	b, err := l.Batch(ctx, k)
	if err != nil {
		return nil, "", fmt.Errorf("cycle: batch %d: %w", k, err)
	}
	if b == nil {
		return nil, "", fmt.Errorf("%w: batch %d is not recorded", ErrNotFound, k)
	}
	doc, err := payoutFile(b, debtor)
	return doc, payout.MessageID(k), err
}

func payoutFile(b *civicardv1.SettlementBatch, debtor payout.Party) ([]byte, error) {
	created := time.UnixMilli(b.GetCreatedUnixMs()).UTC()
	pb := payout.Batch{
		MessageID: payout.MessageID(b.GetCycle()),
		Created:   created,
		Execution: created.AddDate(0, 0, 1),
		Currency:  b.GetCurrency(),
		Debtor:    debtor,
	}
	for _, inst := range b.GetInstitutions() {
		if inst.GetPayableMinor() <= 0 {
			continue
		}
		pb.Transfers = append(pb.Transfers, payout.Transfer{
			EndToEndID:   payout.EndToEndID(b.GetCycle(), inst.GetInstitutionId()),
			CreditorName: inst.GetName(),
			CreditorIBAN: inst.GetIban(),
			AmountMinor:  inst.GetPayableMinor(),
			Remittance:   fmt.Sprintf("civicard cycle %d %s", b.GetCycle(), inst.GetInstitutionId()),
		})
	}
	if len(pb.Transfers) == 0 {
		return nil, fmt.Errorf("%w: batch %d pays nobody", ErrNotFound, b.GetCycle())
	}
	doc, err := payout.Write(pb)
	if err != nil {
		return nil, fmt.Errorf("cycle: batch %d: %w", b.GetCycle(), err)
	}
	return doc, nil
}

// Report is what Reconcile found: one line per check, one per mismatch.
type Report struct {
	Checks     []string
	Mismatches []string
}

// OK reports whether nothing mismatched.
func (r *Report) OK() bool { return len(r.Mismatches) == 0 }

func (r *Report) check(ok bool, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.Checks = append(r.Checks, line)
	if !ok {
		r.Mismatches = append(r.Mismatches, line)
	}
}

// batchesReadMax bounds the batches Reconcile reads to sum the payouts.
const batchesReadMax = 100_000

// Reconcile proves the books, never fixes them: in every shard and over
// all of them, funding received - payouts - fees = card balances +
// receivables; the payouts and fees accounts hold exactly what the paid
// batches paid and charged (when no batch is in flight); for the last
// statementsLast paid batches, each institution's statement lines sum to
// its net, and the payout file's control sum is what the batch pays.
func Reconcile(ctx context.Context, l Ledgers, statementsLast int, debtor payout.Party) (*Report, error) {
	r := &Report{}
	// The batches are read before and after the totals: a batch paid in
	// between would make the totals and the batches disagree for nothing.
	before, err := settledState(ctx, l)
	if err != nil {
		return nil, err
	}
	var total civicardv1.LedgerTotals
	for _, group := range l.Shards() {
		t, err := l.Totals(ctx, group)
		if err != nil {
			return nil, fmt.Errorf("cycle: %s totals: %w", group, err)
		}
		received := -t.GetFundingMinor()
		r.check(received-t.GetPayoutsMinor()-t.GetFeesMinor() == t.GetCardsMinor()+t.GetReceivablesMinor(),
			"%s: funding received %s - payouts %s - fees %s = %s; cards %s + receivables %s = %s", group,
			payout.Decimal(received), payout.Decimal(t.GetPayoutsMinor()), payout.Decimal(t.GetFeesMinor()),
			payout.Decimal(received-t.GetPayoutsMinor()-t.GetFeesMinor()), payout.Decimal(t.GetCardsMinor()),
			payout.Decimal(t.GetReceivablesMinor()), payout.Decimal(t.GetCardsMinor()+t.GetReceivablesMinor()))
		total.FundingMinor += t.GetFundingMinor()
		total.CardsMinor += t.GetCardsMinor()
		total.ReceivablesMinor += t.GetReceivablesMinor()
		total.PayoutsMinor += t.GetPayoutsMinor()
		total.FeesMinor += t.GetFeesMinor()
	}
	after, err := settledState(ctx, l)
	if err != nil {
		return nil, err
	}
	batches, pending := after.batches, after.pending
	if pending == 0 && !before.same(after) {
		pending = after.next
	}
	var paid, fees int64
	for _, b := range batches {
		if !b.GetPaid() {
			continue
		}
		for _, inst := range b.GetInstitutions() {
			paid += inst.GetPayableMinor()
			fees += inst.GetFeeMinor()
		}
	}
	if pending != 0 {
		r.Checks = append(r.Checks, fmt.Sprintf("cycle %d is being settled: payouts against batches not checked", pending))
	} else {
		r.check(paid == total.GetPayoutsMinor() && fees == total.GetFeesMinor(),
			"all shards: payouts %s and fees %s posted; paid batches pay %s and charge %s",
			payout.Decimal(total.GetPayoutsMinor()), payout.Decimal(total.GetFeesMinor()), payout.Decimal(paid), payout.Decimal(fees))
	}
	checked := 0
	for _, b := range batches {
		if checked == statementsLast {
			break
		}
		if !b.GetPaid() {
			continue
		}
		checked++
		if err := reconcileBatch(ctx, l, r, b, debtor); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// settled is where settlement stands: the batches, and the cycle in flight.
type settled struct {
	batches []*civicardv1.SettlementBatch
	pending uint64
	next    uint64
}

func settledState(ctx context.Context, l Ledgers) (settled, error) {
	batches, err := l.Batches(ctx, batchesReadMax)
	if err != nil {
		return settled{}, fmt.Errorf("cycle: batches: %w", err)
	}
	pending, err := Pending(ctx, l)
	if err != nil {
		return settled{}, err
	}
	return settled{batches: batches, pending: pending, next: uint64(len(batches)) + 1}, nil
}

// same reports whether no batch was recorded or paid between a and b.
func (a settled) same(b settled) bool {
	if a.pending != b.pending || len(a.batches) != len(b.batches) {
		return false
	}
	return len(a.batches) == 0 || a.batches[0].GetPaid() == b.batches[0].GetPaid()
}

// reconcileBatch checks one batch against its statements and its file.
func reconcileBatch(ctx context.Context, l Ledgers, r *Report, b *civicardv1.SettlementBatch, debtor payout.Party) error {
	k := b.GetCycle()
	if err := clearing.CheckBatch(b); err != nil {
		r.check(false, "batch %d: %v", k, err)
	} else {
		r.check(true, "batch %d: payable + carried out = net + carried in for every institution; shard parts add up", k)
	}
	// One walk per shard: every institution's statement lines, summed.
	nets := map[string]int64{}
	for _, group := range l.Shards() {
		sums, err := l.StatementSums(ctx, group, k)
		if err != nil {
			return fmt.Errorf("cycle: %s statements of cycle %d: %w", group, k, err)
		}
		for _, it := range sums.GetInstitutions() {
			nets[it.GetInstitutionId()] += it.GetNetMinor()
		}
	}
	var payable int64
	bad := 0
	for _, inst := range b.GetInstitutions() {
		id := inst.GetInstitutionId()
		if nets[id] != inst.GetNetMinor() {
			bad++
			r.Mismatches = append(r.Mismatches, fmt.Sprintf("batch %d: statement of %s sums to net %s, the batch says %s",
				k, id, payout.Decimal(nets[id]), payout.Decimal(inst.GetNetMinor())))
		}
		delete(nets, id)
		payable += inst.GetPayableMinor()
	}
	for id, net := range nets {
		if net != 0 {
			bad++
			r.Mismatches = append(r.Mismatches, fmt.Sprintf("batch %d: %s has statement lines (net %s) but is not in the batch", k, id, payout.Decimal(net)))
		}
	}
	r.Checks = append(r.Checks, fmt.Sprintf("batch %d: %d institutions' statements sum to their nets (%d do not)", k, len(b.GetInstitutions()), bad))
	if payable == 0 {
		return nil
	}
	if debtor == (payout.Party{}) {
		// No file can be made without the payer's account; the batch's
		// arithmetic was checked above.
		r.Checks = append(r.Checks, fmt.Sprintf("batch %d: payout file not checked: no payout debtor configured", k))
		return nil
	}
	doc, err := payoutFile(b, debtor)
	if err != nil {
		r.check(false, "batch %d: payout file: %v", k, err)
		return nil
	}
	r.check(payout.Validate(doc) == nil, "batch %d: payout file of %s valid", k, payout.Decimal(payable))
	return nil
}
