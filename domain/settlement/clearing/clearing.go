package clearing

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// Bounds of a fee policy.
const (
	basisPointsMax         = 10_000
	perTransactionMinorMax = 100_000
)

// CheckFee rejects a fee policy that cannot be right: basis points outside
// [0, 10000], a per-transaction fee outside [0, 1000.00].
func CheckFee(p *civicardv1.CycleFeePolicy) error {
	if bp := p.GetBasisPoints(); bp < 0 || bp > basisPointsMax {
		return fmt.Errorf("clearing: fee of %d basis points outside [0, %d]", bp, basisPointsMax)
	}
	if f := p.GetPerTransactionMinor(); f < 0 || f > perTransactionMinorMax {
		return fmt.Errorf("clearing: per-transaction fee %d outside [0, %d]", f, perTransactionMinorMax)
	}
	return nil
}

// percent is bp basis points of amount >= 0, rounded down, without
// overflow for any int64 amount.
func percent(amountMinor, bp int64) int64 {
	return amountMinor/basisPointsMax*bp + amountMinor%basisPointsMax*bp/basisPointsMax
}

// LineFee is the operator's fee on one transaction that charged
// chargedMinor (>= 0) into an institution's receivable and took
// correctionMinor (>= 0) back out of it. A charge pays the percentage and
// the fixed fee, capped at the charge; a correction returns the percentage
// of its amount (the fixed fee stays). The result may be negative.
func LineFee(p *civicardv1.CycleFeePolicy, chargedMinor, correctionMinor int64) int64 {
	var fee int64
	if chargedMinor > 0 {
		fee = min(chargedMinor, percent(chargedMinor, p.GetBasisPoints())+p.GetPerTransactionMinor())
	}
	return fee - percent(correctionMinor, p.GetBasisPoints())
}

// Totals accumulates one institution's transactions of a cycle.
type Totals struct {
	Transactions     uint64
	ChargedMinor     int64
	CorrectionsMinor int64
	FeeMinor         int64
}

// Add counts one transaction.
func (t *Totals) Add(p *civicardv1.CycleFeePolicy, chargedMinor, correctionMinor int64) {
	t.Transactions++
	t.ChargedMinor += chargedMinor
	t.CorrectionsMinor += correctionMinor
	t.FeeMinor += LineFee(p, chargedMinor, correctionMinor)
}

// Net is charged - corrections - fee.
func (t Totals) Net() int64 { return t.ChargedMinor - t.CorrectionsMinor - t.FeeMinor }

// Institution is what the batch needs to know of an institution.
type Institution struct {
	ID   string
	Name string
	IBAN string
}

// ShardCycle is one shard's closed cycle.
type ShardCycle struct {
	Group  string
	Totals *ledgerv1.CycleTotals
}

// Input is everything a batch is decided from.
type Input struct {
	Cycle         uint64
	Currency      string
	CreatedUnixMs int64
	// Shards in shard order; each must have closed Cycle, with one fee
	// policy.
	Shards []ShardCycle
	// Previous is the batch of Cycle-1 (nil for cycle 1): what it carried.
	Previous *civicardv1.SettlementBatch
	// Institution looks an institution up by id.
	Institution func(id string) (Institution, bool)
}

// Settle nets the shards' closed totals into the cycle's batch.
func Settle(in Input) (*civicardv1.SettlementBatch, error) {
	if len(in.Shards) == 0 {
		return nil, errors.New("clearing: no shards")
	}
	if (in.Previous == nil) != (in.Cycle == 1) || (in.Previous != nil && in.Previous.GetCycle() != in.Cycle-1) {
		return nil, fmt.Errorf("clearing: batch %d needs the batch of cycle %d before it", in.Cycle, in.Cycle-1)
	}
	fee := in.Shards[0].Totals.GetFee()
	// parts[institution][shard]
	type part struct {
		totals  Totals
		carried int64
	}
	parts := map[string][]part{}
	get := func(id string) []part {
		p, ok := parts[id]
		if !ok {
			p = make([]part, len(in.Shards))
			parts[id] = p
		}
		return p
	}
	for s, sc := range in.Shards {
		t := sc.Totals
		if t.GetCycle() != in.Cycle {
			return nil, fmt.Errorf("clearing: %s closed cycle %d, not %d", sc.Group, t.GetCycle(), in.Cycle)
		}
		if t.GetFee().GetBasisPoints() != fee.GetBasisPoints() || t.GetFee().GetPerTransactionMinor() != fee.GetPerTransactionMinor() {
			return nil, fmt.Errorf("clearing: %s closed cycle %d with another fee policy than %s", sc.Group, in.Cycle, in.Shards[0].Group)
		}
		for _, it := range t.GetInstitutions() {
			p := get(it.GetInstitutionId())
			p[s].totals = Totals{
				Transactions: it.GetTransactions(), ChargedMinor: it.GetChargedMinor(),
				CorrectionsMinor: it.GetCorrectionsMinor(), FeeMinor: it.GetFeeMinor(),
			}
			if p[s].totals.Net() != it.GetNetMinor() {
				return nil, fmt.Errorf("clearing: %s cycle %d institution %s: net %d is not charged - corrections - fee", sc.Group, in.Cycle, it.GetInstitutionId(), it.GetNetMinor())
			}
		}
	}
	for _, prev := range in.Previous.GetInstitutions() {
		if prev.GetCarriedOutMinor() == 0 {
			continue
		}
		if len(prev.GetShards()) != len(in.Shards) {
			return nil, fmt.Errorf("clearing: batch %d has %d shards, now there are %d", in.Previous.GetCycle(), len(prev.GetShards()), len(in.Shards))
		}
		p := get(prev.GetInstitutionId())
		for s, sp := range prev.GetShards() {
			p[s].carried = sp.GetCarriedOutMinor()
		}
	}

	ids := make([]string, 0, len(parts))
	for id := range parts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	batch := &civicardv1.SettlementBatch{Cycle: in.Cycle, Currency: in.Currency, CreatedUnixMs: in.CreatedUnixMs, Fee: fee}
	for _, id := range ids {
		inst, ok := in.Institution(id)
		if !ok {
			return nil, fmt.Errorf("clearing: institution %s is not registered", id)
		}
		out := &civicardv1.SettlementInstitution{InstitutionId: id, Name: inst.Name, Iban: inst.IBAN}
		var available int64
		for _, p := range parts[id] {
			out.Transactions += p.totals.Transactions
			out.ChargedMinor += p.totals.ChargedMinor
			out.CorrectionsMinor += p.totals.CorrectionsMinor
			out.FeeMinor += p.totals.FeeMinor
			out.NetMinor += p.totals.Net()
			out.CarriedInMinor += p.carried
			available += p.totals.Net() + p.carried
		}
		pays := available > 0 && payout.CheckIBAN(inst.IBAN) == nil
		if pays {
			out.PayableMinor = available
		} else {
			out.CarriedOutMinor = available
		}
		for s, p := range parts[id] {
			sp := &civicardv1.SettlementShardPart{Group: in.Shards[s].Group, FeeMinor: p.totals.FeeMinor}
			if pays {
				sp.AmountMinor = p.totals.Net() + p.carried
			} else {
				sp.CarriedOutMinor = p.totals.Net() + p.carried
			}
			out.Shards = append(out.Shards, sp)
		}
		batch.Institutions = append(batch.Institutions, out)
	}
	if err := CheckBatch(batch); err != nil {
		return nil, err
	}
	return batch, nil
}

// CheckBatch checks a batch's arithmetic: per institution, net = charged -
// corrections - fee; payable + carried_out = net + carried_in; payable >= 0;
// the shard parts sum to the payout, the fee and the carry; institutions
// in id order, once each.
func CheckBatch(b *civicardv1.SettlementBatch) error {
	if err := CheckFee(b.GetFee()); err != nil {
		return err
	}
	for i, inst := range b.GetInstitutions() {
		id := inst.GetInstitutionId()
		if i > 0 && cmp.Compare(b.GetInstitutions()[i-1].GetInstitutionId(), id) >= 0 {
			return fmt.Errorf("clearing: batch %d: institution %s out of order", b.GetCycle(), id)
		}
		if inst.GetNetMinor() != inst.GetChargedMinor()-inst.GetCorrectionsMinor()-inst.GetFeeMinor() {
			return fmt.Errorf("clearing: batch %d institution %s: net %d != charged %d - corrections %d - fee %d",
				b.GetCycle(), id, inst.GetNetMinor(), inst.GetChargedMinor(), inst.GetCorrectionsMinor(), inst.GetFeeMinor())
		}
		if inst.GetPayableMinor() < 0 || inst.GetPayableMinor()+inst.GetCarriedOutMinor() != inst.GetNetMinor()+inst.GetCarriedInMinor() {
			return fmt.Errorf("clearing: batch %d institution %s: payable %d + carried out %d != net %d + carried in %d",
				b.GetCycle(), id, inst.GetPayableMinor(), inst.GetCarriedOutMinor(), inst.GetNetMinor(), inst.GetCarriedInMinor())
		}
		var amount, fee, carried int64
		for _, sp := range inst.GetShards() {
			amount += sp.GetAmountMinor()
			fee += sp.GetFeeMinor()
			carried += sp.GetCarriedOutMinor()
		}
		if amount != inst.GetPayableMinor() || fee != inst.GetFeeMinor() || carried != inst.GetCarriedOutMinor() {
			return fmt.Errorf("clearing: batch %d institution %s: shard parts sum to payout %d, fee %d, carry %d; the batch says %d, %d, %d",
				b.GetCycle(), id, amount, fee, carried, inst.GetPayableMinor(), inst.GetFeeMinor(), inst.GetCarriedOutMinor())
		}
	}
	return nil
}

// Line fills a statement line's money from what the transaction moved:
// chargedMinor into the receivable, correctionMinor out of it, listMinor
// the price list's value of what was sold (0: unknown). Gross is the list
// value when it is at least the charge, else the charge; the concession is
// the difference.
func Line(l *civicardv1.SettlementStatementLine, p *civicardv1.CycleFeePolicy, chargedMinor, correctionMinor, listMinor int64) {
	l.GrossMinor = max(chargedMinor, listMinor)
	l.ConcessionMinor = l.GrossMinor - chargedMinor
	l.CorrectionMinor = correctionMinor
	l.FeeMinor = LineFee(p, chargedMinor, correctionMinor)
	l.NetMinor = l.GrossMinor - l.ConcessionMinor - l.CorrectionMinor - l.FeeMinor
}

// Sum adds statement lines up, column by column.
func Sum(lines []*civicardv1.SettlementStatementLine) *civicardv1.SettlementStatementLine {
	t := &civicardv1.SettlementStatementLine{}
	for _, l := range lines {
		t.GrossMinor += l.GetGrossMinor()
		t.ConcessionMinor += l.GetConcessionMinor()
		t.CorrectionMinor += l.GetCorrectionMinor()
		t.FeeMinor += l.GetFeeMinor()
		t.NetMinor += l.GetNetMinor()
	}
	return t
}
