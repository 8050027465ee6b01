package ledger_test

import (
	"bytes"
	"strings"
	"testing"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

func cmdClose(id string, cycle uint64) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_CycleClose{CycleClose: &ledgerv1.CycleClose{
		Cycle: cycle, Fee: &civicardv1.CycleFeePolicy{BasisPoints: 100, PerTransactionMinor: 2},
	}}}
}

func cmdPayout(id string, cycle uint64, inst string, amount, fee int64) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_PayoutPost{PayoutPost: &ledgerv1.PayoutPost{
		Cycle: cycle, InstitutionId: inst, AmountMinor: amount, FeeMinor: fee,
	}}}
}

func cmdOffline(id, cardID string, amount int64, instID string, at int64) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
		CardId: cardID, AmountMinor: amount, InstitutionId: instID, Offline: true,
		TerminalId: "T1", TerminalSequence: 9, ServiceCode: "RIDE", Quantity: 1, TimeUnixMs: at,
	}}}
}

// settled is populated's ledger (I1 charged 340, I2 300) with cycle 1
// closed, then an offline tap of 700 on C2 (300 from funding as debt:
// two postings, one transaction) in cycle 2, and I1 paid out for cycle 1.
func settled(t testing.TB) *ledger.State {
	t.Helper()
	s := populated(t)
	mustApply(t, s,
		cmdClose(ledger.CycleCloseID(1), 1),
		cmdOffline("tap/offline", "C1", 700, "I2", 1600000000000),
		cmdCharge("tap/3", "C1", 4, 100, "I1"),
		cmdPayout(ledger.PayoutID(1, "I1"), 1, "I1", 335, 5),
	)
	return s
}

func TestCycleClose(t *testing.T) {
	s := settled(t)
	c1, ok := s.CycleTotals(1)
	if !ok || s.OpenCycle() != 2 {
		t.Fatalf("cycle 1 closed %v, open %d", ok, s.OpenCycle())
	}
	got := map[string]*ledgerv1.CycleInstitutionTotals{}
	for _, it := range c1.GetInstitutions() {
		got[it.GetInstitutionId()] = it
	}
	// 340 at 1% + 2 = 3 + 2; 300: 3 + 2.
	if i1 := got["I1"]; i1.GetTransactions() != 1 || i1.GetChargedMinor() != 340 || i1.GetFeeMinor() != 5 || i1.GetNetMinor() != 335 {
		t.Errorf("I1 in cycle 1: %v", i1)
	}
	if i2 := got["I2"]; i2.GetChargedMinor() != 300 || i2.GetNetMinor() != 295 {
		t.Errorf("I2 in cycle 1: %v", i2)
	}
	sums, err := s.StatementSums(1)
	if err != nil || len(sums.GetInstitutions()) != len(c1.GetInstitutions()) {
		t.Fatalf("statement sums: %v, %v", sums, err)
	}
	for i, it := range sums.GetInstitutions() {
		if want := c1.GetInstitutions()[i]; !proto.Equal(it, want) {
			t.Errorf("statement sums %v, the close's totals %v", it, want)
		}
	}
	// The offline tap arrived after the close: it is in cycle 2, once,
	// with its own time.
	mustApply(t, s, cmdClose(ledger.CycleCloseID(2), 2))
	lines, err := s.Statement(2, "I2")
	if err != nil || len(lines) != 1 {
		t.Fatalf("cycle 2 statement of I2: %v, %v", lines, err)
	}
	if l := lines[0]; l.GetTransactionId() != "tap/offline" || l.GetGrossMinor() != 700 || l.GetTimeUnixMs() != 1600000000000 || !l.GetOffline() || l.GetFeeMinor() != 9 {
		t.Errorf("offline line: %v", l)
	}
	if lines, _ := s.Statement(1, "I2"); len(lines) != 1 || lines[0].GetTransactionId() != "tap/2" {
		t.Errorf("cycle 1 statement of I2: %v", lines)
	}
	// The list price of RIDE is 340: a charge of 100 is a concession of 240.
	if lines, _ := s.Statement(2, "I1"); len(lines) != 1 || lines[0].GetGrossMinor() != 340 || lines[0].GetConcessionMinor() != 240 {
		t.Errorf("cycle 2 statement of I1: %v", lines)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestSettlementCommandsRefuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  *ledgerv1.Command
		want string
	}{
		{"close under another id", cmdClose("my/close", 2), "takes command id settle/cycle/2"},
		{"close out of order", cmdClose(ledger.CycleCloseID(3), 3), "cycle 2 is open, not 3"},
		{"close with a fee over 100%", &ledgerv1.Command{Id: ledger.CycleCloseID(2), Kind: &ledgerv1.Command_CycleClose{CycleClose: &ledgerv1.CycleClose{
			Cycle: 2, Fee: &civicardv1.CycleFeePolicy{BasisPoints: 10_001}}}}, "basis points"},
		{"payout under another id", cmdPayout("pay/I2", 1, "I2", 1, 0), "takes command id settle/payout/1/I2"},
		{"payout of an open cycle", cmdPayout(ledger.PayoutID(2, "I2"), 2, "I2", 1, 0), "cycle 2 is not closed"},
		{"payout of an unknown institution", cmdPayout(ledger.PayoutID(1, "I9"), 1, "I9", 1, 0), "not found"},
		{"payout beyond any bound", cmdPayout(ledger.PayoutID(1, "I2"), 1, "I2", 1<<62, 0), "outside"},
		{"batch under another id", &ledgerv1.Command{Id: "batch", Kind: &ledgerv1.Command_SettlementRecord{SettlementRecord: &ledgerv1.SettlementRecord{
			Batch: &civicardv1.SettlementBatch{Cycle: 1, Currency: "PLN"}}}}, "takes command id settle/batch/1"},
		{"batch out of order", &ledgerv1.Command{Id: ledger.SettlementRecordID(2), Kind: &ledgerv1.Command_SettlementRecord{SettlementRecord: &ledgerv1.SettlementRecord{
			Batch: &civicardv1.SettlementBatch{Cycle: 2, Currency: "PLN"}}}}, "next batch to record is 1"},
		{"batch in another currency", &ledgerv1.Command{Id: ledger.SettlementRecordID(1), Kind: &ledgerv1.Command_SettlementRecord{SettlementRecord: &ledgerv1.SettlementRecord{
			Batch: &civicardv1.SettlementBatch{Cycle: 1, Currency: "EUR"}}}}, `currency "EUR"`},
		{"batch whose sums do not hold", &ledgerv1.Command{Id: ledger.SettlementRecordID(1), Kind: &ledgerv1.Command_SettlementRecord{SettlementRecord: &ledgerv1.SettlementRecord{
			Batch: &civicardv1.SettlementBatch{Cycle: 1, Currency: "PLN", Institutions: []*civicardv1.SettlementInstitution{{InstitutionId: "I1", ChargedMinor: 5, NetMinor: 5, PayableMinor: 4}}}}}}, "payable 4"},
		{"mark an unrecorded batch paid", &ledgerv1.Command{Id: ledger.SettlementMarkPaidID(1), Kind: &ledgerv1.Command_SettlementMarkPaid{SettlementMarkPaid: &ledgerv1.SettlementMarkPaid{Cycle: 1}}}, "not recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := settled(t)
			res := s.Apply(tc.cmd)
			if res.GetStatus() != ledgerv1.Status_STATUS_REJECTED || !strings.Contains(res.GetError(), tc.want) {
				t.Fatalf("Apply = %v %s, want a rejection about %q", res.GetStatus(), res.GetError(), tc.want)
			}
			totals := s.Totals()
			if totals.PayoutsMinor != 335 || totals.FeesMinor != 5 || totals.CyclesClosed != 1 || len(s.Batches(10)) != 0 {
				t.Errorf("a refused command changed the books: %+v, %d batches", totals, len(s.Batches(10)))
			}
		})
	}
}

func TestPayoutOnce(t *testing.T) {
	s := settled(t)
	again := s.Apply(cmdPayout(ledger.PayoutID(1, "I1"), 1, "I1", 335, 5))
	if !again.GetReplayed() {
		t.Fatalf("a second payout of I1 for cycle 1: %v", again)
	}
	totals := s.Totals()
	if totals.PayoutsMinor != 335 || totals.FeesMinor != 5 || s.Receivable("I1") != 100 {
		t.Fatalf("after a repeated payout: payouts %d fees %d receivable %d", totals.PayoutsMinor, totals.FeesMinor, s.Receivable("I1"))
	}
	// A part that is a loss moves money back from the payouts account,
	// and the receivable may go below zero.
	mustApply(t, s, cmdPayout(ledger.PayoutID(1, "I2"), 1, "I2", -50, 900))
	if got := s.Receivable("I2"); got != 300+700+50-900 {
		t.Fatalf("I2's receivable %d", got)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestSettlementSnapshot(t *testing.T) {
	s := settled(t)
	mustApply(t, s,
		cmdClose(ledger.CycleCloseID(2), 2),
		&ledgerv1.Command{Id: ledger.SettlementRecordID(1), Kind: &ledgerv1.Command_SettlementRecord{SettlementRecord: &ledgerv1.SettlementRecord{
			Batch: &civicardv1.SettlementBatch{Cycle: 1, Currency: "PLN", Institutions: []*civicardv1.SettlementInstitution{{
				InstitutionId: "I1", ChargedMinor: 340, FeeMinor: 5, NetMinor: 335, PayableMinor: 335,
				Shards: []*civicardv1.SettlementShardPart{{Group: "shard-0", AmountMinor: 335, FeeMinor: 5}},
			}}}}}},
		&ledgerv1.Command{Id: ledger.SettlementMarkPaidID(1), Kind: &ledgerv1.Command_SettlementMarkPaid{SettlementMarkPaid: &ledgerv1.SettlementMarkPaid{Cycle: 1, TimeUnixMs: 7}}},
	)
	data := snapshotBytes(t, s)
	restored, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if digest(restored) != digest(s) {
		t.Fatal("restored ledger digests differently")
	}
	if b, ok := restored.Batch(1); !ok || !b.GetPaid() || b.GetPaidUnixMs() != 7 {
		t.Fatalf("restored batch: %v", b)
	}
	for _, k := range []uint64{1, 2} {
		want, _ := s.Statement(k, "I2")
		got, err := restored.Statement(k, "I2")
		if err != nil || len(got) != len(want) {
			t.Fatalf("restored statement %d: %v %v", k, got, err)
		}
	}
	if restored.Totals() != s.Totals() {
		t.Fatalf("restored totals %+v, want %+v", restored.Totals(), s.Totals())
	}
	// Tampering with the postings or the settled amounts is refused.
	for name, corrupt := range map[string]func([]*ledgerv1.SnapshotRecord){
		"posting amount": func(r []*ledgerv1.SnapshotRecord) {
			for _, rec := range r {
				if p := rec.GetPostings(); p != nil {
					p.AmountsMinor[0]++
				}
			}
		},
		"posting moved to another institution": func(r []*ledgerv1.SnapshotRecord) {
			for _, rec := range r {
				if p := rec.GetPostings(); p != nil {
					p.InstitutionIndexes[0] = 1 - p.InstitutionIndexes[0]
				}
			}
		},
		"settled amount":  func(r []*ledgerv1.SnapshotRecord) { r[0].GetHeader().SettledMinor[0]-- },
		"payouts account": func(r []*ledgerv1.SnapshotRecord) { r[0].GetHeader().PayoutsMinor++ },
		"cycle range": func(r []*ledgerv1.SnapshotRecord) {
			for _, rec := range r {
				if c := rec.GetCycle(); c != nil && c.GetCycle() == 1 {
					c.LastPosting++
				}
			}
		},
	} {
		recs := records(t, data)
		corrupt(recs)
		if _, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(encode(t, recs))); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		}
	}
}
