package ledger

import (
	"testing"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// TestCorrectionPostings: money taken back out of a receivable (a refund,
// a correction: the commands that do it are the fare engine's) is a
// negative posting of the open cycle. One command's postings to one
// institution make one transaction: its charge and its correction on one
// statement line, one fee. The refund here is made by hand, as such a
// command would make it, under the next command's sequence.
func TestCorrectionPostings(t *testing.T) {
	s, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	apply := func(cmd *ledgerv1.Command) {
		t.Helper()
		if res := s.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
			t.Fatalf("%s: %s", cmd.GetId(), res.GetError())
		}
	}
	apply(&ledgerv1.Command{Id: "inst", Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
		Institution: &civicardv1.Institution{InstitutionId: "I1", Kind: civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT}}}})
	apply(&ledgerv1.Command{Id: "open", Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{CardId: "C1", Kind: civicardv1.CardKind_CARD_KIND_BEARER}}})
	apply(&ledgerv1.Command{Id: "top", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: "C1", AmountMinor: 1000}}})
	// A check-in charge of 600, a check-out that refunds 250, corrections
	// of 350 (to the card) and 100 (to the funding account): the
	// receivable ends below zero.
	apply(&ledgerv1.Command{Id: "tap/in", Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: "C1", ExpectedVersion: 2, AmountMinor: 600, InstitutionId: "I1"}}})
	refund := func(amount int64, id string) {
		t.Helper()
		if err := s.apply(transfer{from: account{kind: receivableAccount, id: "I1"}, to: account{kind: cardAccount, id: "C1"}, amountMinor: amount}); err != nil {
			t.Fatal(err)
		}
		apply(&ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_BlockCard{BlockCard: &ledgerv1.BlockCard{CardId: "C1"}}})
	}
	refund(250, "tap/out")
	refund(350, "correction")
	if err := s.apply(transfer{from: account{kind: receivableAccount, id: "I1"}, to: account{kind: fundingAccount}, amountMinor: 100}); err != nil {
		t.Fatal(err)
	}
	apply(&ledgerv1.Command{Id: "correction/2", Kind: &ledgerv1.Command_MarkSeeded{MarkSeeded: &ledgerv1.MarkSeeded{Seed: 1}}})
	if got := s.Receivable("I1"); got != -100 {
		t.Fatalf("receivable %d, want -100", got)
	}
	apply(&ledgerv1.Command{Id: CycleCloseID(1), Kind: &ledgerv1.Command_CycleClose{CycleClose: &ledgerv1.CycleClose{
		Cycle: 1, Fee: &civicardv1.CycleFeePolicy{BasisPoints: 1000}}}})
	ct, _ := s.CycleTotals(1)
	it := ct.GetInstitutions()[0]
	// Fees: 60 on the charge, -25, -35 and -10 back on the corrections.
	if it.GetTransactions() != 4 || it.GetChargedMinor() != 600 || it.GetCorrectionsMinor() != 700 || it.GetFeeMinor() != -10 || it.GetNetMinor() != -90 {
		t.Fatalf("cycle totals: %v", it)
	}
	lines, err := s.Statement(1, "I1")
	if err != nil || len(lines) != 4 {
		t.Fatalf("statement: %v %v", lines, err)
	}
	var net int64
	for _, l := range lines {
		net += l.GetNetMinor()
	}
	if net != it.GetNetMinor() || lines[1].GetTransactionId() != "tap/out" || lines[1].GetCorrectionMinor() != 250 || lines[1].GetFeeMinor() != -25 {
		t.Fatalf("statement lines %v sum to %d", lines, net)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
