package ledger

import (
	"fmt"

	"civicard/domain/settlement/clearing"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// Settlement record bounds.
const (
	// batchesMax bounds the batches the registry keeps, like cyclesMax.
	batchesMax = cyclesMax
	// batchShardsMax bounds the shard parts of one institution's payout.
	batchShardsMax = 1024
)

// PayoutID is the command id of institutionID's payout from cycle k: one
// per institution and cycle in each ledger, so no payout is posted twice.
func PayoutID(k uint64, institutionID string) string {
	return fmt.Sprintf("settle/payout/%d/%s", k, institutionID)
}

// SettlementRecordID is the command id that records cycle k's batch.
func SettlementRecordID(k uint64) string { return fmt.Sprintf("settle/batch/%d", k) }

// SettlementMarkPaidID is the command id that marks cycle k's batch paid.
func SettlementMarkPaidID(k uint64) string { return fmt.Sprintf("settle/paid/%d", k) }

// payoutPost moves an institution's share of a closed cycle out of its
// receivable: the amount to the payouts account (back from it if
// negative), the fee to the fees account (back if negative).
func (s *State) payoutPost(rc recording, cmd *ledgerv1.PayoutPost) *ledgerv1.Result {
	k, instID := cmd.GetCycle(), cmd.GetInstitutionId()
	if err := checkText("institution id", instID, institutionIDBytesMax, true); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if want := PayoutID(k, instID); rc.id != want {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "the payout of %s from cycle %d takes command id %s, not %s", clip(instID), k, want, clip(rc.id))
	}
	if _, ok := s.CycleTotals(k); !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "cycle %d is not closed in this ledger", k)
	}
	inst, ok := s.institutions[instID]
	if !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "institution %s not found", clip(instID))
	}
	amount, fee := cmd.GetAmountMinor(), cmd.GetFeeMinor()
	for _, v := range [...]int64{amount, fee} {
		if v < -settlementAmountMaxMinor || v > settlementAmountMaxMinor {
			return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "payout of %s: %d is outside ±%d", clip(instID), v, int64(settlementAmountMaxMinor))
		}
	}
	receivable := account{kind: receivableAccount, id: instID}
	for _, move := range [...]struct {
		to     accountKind
		amount int64
	}{{payoutsAccount, amount}, {feesAccount, fee}} {
		t := transfer{from: receivable, to: account{kind: move.to}, amountMinor: move.amount}
		if move.amount < 0 {
			t = transfer{from: account{kind: move.to}, to: receivable, amountMinor: -move.amount}
		}
		// Both bounded far below overflow of any account: the second
		// cannot fail once the first succeeded.
		if err := s.apply(t); err != nil {
			return rejected(ledgerv1.RejectReason_REJECT_REASON_UNSPECIFIED, "ledger invariant: %v", err)
		}
	}
	inst.settledMinor += amount + fee
	return okResult()
}

// Batch returns cycle k's recorded batch, shared with the ledger.
func (s *State) Batch(k uint64) (*civicardv1.SettlementBatch, bool) {
	if k < 1 || k > uint64(len(s.batches)) {
		return nil, false
	}
	return s.batches[k-1], true
}

// Batches returns up to limit recorded batches, newest first, shared with
// the ledger.
func (s *State) Batches(limit int) []*civicardv1.SettlementBatch {
	var out []*civicardv1.SettlementBatch
	for i := len(s.batches) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, s.batches[i])
	}
	return out
}

// settlementRecord records a cycle's batch, once: batches are recorded in
// cycle order, and a batch whose arithmetic does not hold is refused.
func (s *State) settlementRecord(rc recording, cmd *ledgerv1.SettlementRecord) *ledgerv1.Result {
	b := cmd.GetBatch()
	k := b.GetCycle()
	if want := SettlementRecordID(k); rc.id != want {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "recording batch %d takes command id %s, not %s", k, want, clip(rc.id))
	}
	if err := s.checkBatch(b); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "batch %d: %v", k, err)
	}
	if next := uint64(len(s.batches)) + 1; k != next {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "the next batch to record is %d, not %d", next, k)
	}
	if len(s.batches) >= batchesMax {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "the ledger already holds %d batches, its maximum", batchesMax)
	}
	if b.GetPaid() {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "batch %d is recorded before it is paid", k)
	}
	s.batches = append(s.batches, proto.Clone(b).(*civicardv1.SettlementBatch))
	return okResult()
}

// checkBatch checks what a stored batch must satisfy: its arithmetic, the
// ledger's currency, bounded size.
func (s *State) checkBatch(b *civicardv1.SettlementBatch) error {
	if b == nil {
		return fmt.Errorf("batch is missing")
	}
	if b.GetCurrency() != s.cfg.Currency {
		return fmt.Errorf("currency %s, the ledger keeps %s", clip(b.GetCurrency()), s.cfg.Currency)
	}
	if len(b.GetInstitutions()) > institutionsMax {
		return fmt.Errorf("%d institutions, more than %d", len(b.GetInstitutions()), institutionsMax)
	}
	for _, inst := range b.GetInstitutions() {
		if err := checkText("institution id", inst.GetInstitutionId(), institutionIDBytesMax, true); err != nil {
			return err
		}
		if err := checkText("institution name", inst.GetName(), textBytesMax, false); err != nil {
			return err
		}
		if err := checkText("institution IBAN", inst.GetIban(), institutionIDBytesMax, false); err != nil {
			return err
		}
		if len(inst.GetShards()) > batchShardsMax {
			return fmt.Errorf("institution %s: %d shard parts, more than %d", clip(inst.GetInstitutionId()), len(inst.GetShards()), batchShardsMax)
		}
	}
	if n := proto.Size(b); n > recordBytesMax-1024 {
		return fmt.Errorf("%d bytes, more than a snapshot record holds", n)
	}
	return clearing.CheckBatch(b)
}

// settlementMarkPaid records that every payout of batch k was posted.
func (s *State) settlementMarkPaid(rc recording, cmd *ledgerv1.SettlementMarkPaid) *ledgerv1.Result {
	k := cmd.GetCycle()
	if want := SettlementMarkPaidID(k); rc.id != want {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "marking batch %d paid takes command id %s, not %s", k, want, clip(rc.id))
	}
	b, ok := s.Batch(k)
	if !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "batch %d is not recorded", k)
	}
	paid := proto.Clone(b).(*civicardv1.SettlementBatch)
	paid.Paid, paid.PaidUnixMs = true, cmd.GetTimeUnixMs()
	s.batches[k-1] = paid
	return okResult()
}
