package clearing_test

import (
	"strings"
	"testing"

	"civicard/domain/settlement/clearing"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

func TestLineFee(t *testing.T) {
	for _, tc := range []struct {
		name                string
		bp, fixed           int64
		charged, correction int64
		want                int64
	}{
		{"nothing", 150, 5, 0, 0, 0},
		{"percentage rounds down", 150, 0, 340, 0, 5}, // 5.1
		{"percentage and fixed", 150, 5, 340, 0, 10},
		{"capped at the charge", 0, 50, 20, 0, 20},
		{"all of it", 10_000, 0, 777, 0, 777},
		{"a correction returns the percentage", 150, 5, 0, 340, -5},
		{"both in one transaction", 200, 1, 1000, 300, 21 - 6},
		{"large amounts do not overflow", 9_999, 0, 1 << 60, 0, (1<<60)/10_000*9_999 + (1<<60)%10_000*9_999/10_000},
	} {
		p := &civicardv1.CycleFeePolicy{BasisPoints: tc.bp, PerTransactionMinor: tc.fixed}
		if got := clearing.LineFee(p, tc.charged, tc.correction); got != tc.want {
			t.Errorf("%s: LineFee(%d bp + %d, %d, %d) = %d, want %d", tc.name, tc.bp, tc.fixed, tc.charged, tc.correction, got, tc.want)
		}
	}
}

func TestCheckFee(t *testing.T) {
	for _, p := range []*civicardv1.CycleFeePolicy{{BasisPoints: -1}, {BasisPoints: 10_001}, {PerTransactionMinor: -1}, {PerTransactionMinor: 100_001}} {
		if clearing.CheckFee(p) == nil {
			t.Errorf("CheckFee(%v) accepted it", p)
		}
	}
	if err := clearing.CheckFee(nil); err != nil {
		t.Errorf("no fee: %v", err)
	}
}

func TestLine(t *testing.T) {
	p := &civicardv1.CycleFeePolicy{BasisPoints: 100}
	var l civicardv1.SettlementStatementLine
	clearing.Line(&l, p, 170, 0, 340) // a half-price concession
	if l.GrossMinor != 340 || l.ConcessionMinor != 170 || l.FeeMinor != 1 || l.NetMinor != 169 {
		t.Errorf("concession line: %v", &l)
	}
	clearing.Line(&l, p, 500, 0, 340) // charged above the list (a distance fare)
	if l.GrossMinor != 500 || l.ConcessionMinor != 0 || l.NetMinor != 495 {
		t.Errorf("fare line: %v", &l)
	}
}

const (
	ibanA = "PL61109010140000071219812874"
	ibanB = "PL27114020040000300201355387"
)

func institutions(id string) (clearing.Institution, bool) {
	switch id {
	case "A":
		return clearing.Institution{ID: id, Name: "A", IBAN: ibanA}, true
	case "B":
		return clearing.Institution{ID: id, Name: "B", IBAN: ibanB}, true
	case "N": // no IBAN yet
		return clearing.Institution{ID: id, Name: "N"}, true
	}
	return clearing.Institution{}, false
}

func totals(cycle uint64, its ...*ledgerv1.CycleInstitutionTotals) *ledgerv1.CycleTotals {
	for _, it := range its {
		it.NetMinor = it.ChargedMinor - it.CorrectionsMinor - it.FeeMinor
	}
	return &ledgerv1.CycleTotals{Cycle: cycle, Fee: &civicardv1.CycleFeePolicy{BasisPoints: 100}, Institutions: its}
}

func TestSettleNetsShardsAndCarries(t *testing.T) {
	// Cycle 1: A earns in both shards; B earns in shard-0 and refunds more
	// in shard-1 (a loss there the other covers); N has no IBAN.
	b1, err := clearing.Settle(clearing.Input{Cycle: 1, Currency: "PLN", Institution: institutions, Shards: []clearing.ShardCycle{
		{Group: "shard-0", Totals: totals(1,
			&ledgerv1.CycleInstitutionTotals{InstitutionId: "A", Transactions: 2, ChargedMinor: 1000, FeeMinor: 10},
			&ledgerv1.CycleInstitutionTotals{InstitutionId: "B", Transactions: 1, ChargedMinor: 500, FeeMinor: 5},
			&ledgerv1.CycleInstitutionTotals{InstitutionId: "N", Transactions: 1, ChargedMinor: 300, FeeMinor: 3})},
		{Group: "shard-1", Totals: totals(1,
			&ledgerv1.CycleInstitutionTotals{InstitutionId: "A", Transactions: 1, ChargedMinor: 200, FeeMinor: 2},
			&ledgerv1.CycleInstitutionTotals{InstitutionId: "B", Transactions: 1, CorrectionsMinor: 100, FeeMinor: -1})},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]int64{"A": {1188, 1188, 0}, "B": {396, 396, 0}, "N": {297, 0, 297}} // net, payable, carried out
	for _, inst := range b1.GetInstitutions() {
		w := want[inst.GetInstitutionId()]
		if inst.GetNetMinor() != w[0] || inst.GetPayableMinor() != w[1] || inst.GetCarriedOutMinor() != w[2] {
			t.Errorf("%s: net %d payable %d carried %d, want %v", inst.GetInstitutionId(), inst.GetNetMinor(), inst.GetPayableMinor(), inst.GetCarriedOutMinor(), w)
		}
	}
	if b := b1.GetInstitutions()[1]; b.GetShards()[1].GetAmountMinor() != -99 || b.GetShards()[0].GetAmountMinor() != 495 {
		t.Errorf("B's shard parts: %v", b.GetShards())
	}

	// Cycle 2: A only refunds (a loss, carried); N still has no IBAN and
	// its money keeps accruing.
	b2, err := clearing.Settle(clearing.Input{Cycle: 2, Currency: "PLN", Institution: institutions, Previous: b1, Shards: []clearing.ShardCycle{
		{Group: "shard-0", Totals: totals(2, &ledgerv1.CycleInstitutionTotals{InstitutionId: "A", Transactions: 1, CorrectionsMinor: 400, FeeMinor: -4})},
		{Group: "shard-1", Totals: totals(2)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*civicardv1.SettlementInstitution{}
	for _, inst := range b2.GetInstitutions() {
		got[inst.GetInstitutionId()] = inst
	}
	if a := got["A"]; a.GetPayableMinor() != 0 || a.GetCarriedOutMinor() != -396 {
		t.Errorf("A in cycle 2: %v", a)
	}
	if n := got["N"]; n.GetCarriedInMinor() != 297 || n.GetCarriedOutMinor() != 297 || n.GetTransactions() != 0 {
		t.Errorf("N in cycle 2: %v", n)
	}
	if _, ok := got["B"]; ok {
		t.Error("B, with nothing posted or carried, is in batch 2")
	}
}

func TestSettleRefuses(t *testing.T) {
	shard := func(cycle uint64, bp int64) clearing.ShardCycle {
		tt := totals(cycle, &ledgerv1.CycleInstitutionTotals{InstitutionId: "A", ChargedMinor: 100, FeeMinor: 1})
		tt.Fee.BasisPoints = bp
		return clearing.ShardCycle{Group: "shard-0", Totals: tt}
	}
	for _, tc := range []struct {
		name string
		in   clearing.Input
		want string
	}{
		{"no shards", clearing.Input{Cycle: 1}, "no shards"},
		{"another cycle", clearing.Input{Cycle: 1, Shards: []clearing.ShardCycle{shard(2, 100)}}, "closed cycle 2"},
		{"two fee policies", clearing.Input{Cycle: 1, Shards: []clearing.ShardCycle{shard(1, 100), shard(1, 200)}}, "another fee policy"},
		{"previous batch missing", clearing.Input{Cycle: 2, Shards: []clearing.ShardCycle{shard(2, 100)}}, "needs the batch of cycle 1"},
		{"unknown institution", clearing.Input{Cycle: 1, Shards: []clearing.ShardCycle{{Group: "shard-0", Totals: totals(1, &ledgerv1.CycleInstitutionTotals{InstitutionId: "Z", ChargedMinor: 1})}}}, "not registered"},
	} {
		tc.in.Institution = institutions
		if _, err := clearing.Settle(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Settle = %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckBatch(t *testing.T) {
	good := func() *civicardv1.SettlementBatch {
		return &civicardv1.SettlementBatch{Cycle: 1, Institutions: []*civicardv1.SettlementInstitution{{
			InstitutionId: "A", ChargedMinor: 100, FeeMinor: 1, NetMinor: 99, PayableMinor: 99,
			Shards: []*civicardv1.SettlementShardPart{{Group: "shard-0", AmountMinor: 99, FeeMinor: 1}},
		}}}
	}
	if err := clearing.CheckBatch(good()); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*civicardv1.SettlementBatch){
		"net":     func(b *civicardv1.SettlementBatch) { b.Institutions[0].NetMinor = 98 },
		"payable": func(b *civicardv1.SettlementBatch) { b.Institutions[0].PayableMinor = 100 },
		"negative": func(b *civicardv1.SettlementBatch) {
			b.Institutions[0].PayableMinor, b.Institutions[0].CarriedOutMinor = -1, 100
		},
		"shard parts": func(b *civicardv1.SettlementBatch) { b.Institutions[0].Shards[0].AmountMinor = 98 },
		"order": func(b *civicardv1.SettlementBatch) {
			b.Institutions = append(b.Institutions, b.Institutions[0])
		},
	} {
		b := good()
		mutate(b)
		if clearing.CheckBatch(b) == nil {
			t.Errorf("%s: CheckBatch accepted it", name)
		}
	}
}
