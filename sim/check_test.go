package sim

import (
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
)

func pln100(minor int64) *civicardv1.Money {
	return &civicardv1.Money{Currency: "PLN", MinorUnits: minor}
}

// history is a small run on two cards: card A had 10.00 PLN from the demo
// city, was topped up 20.00 and paid 3.40 and was declined once; card B,
// empty, took an offline tap of 4.40 it could not cover (debt), then a
// top-up of 10.00 repaid the debt.
func history() ([]Op, Observed) {
	txn := func(id string, seq uint64, card string, kind civicardv1.TransactionKind, amount, balance int64) *civicardv1.Transaction {
		return &civicardv1.Transaction{TransactionId: id, LedgerSequence: seq, CardId: card, Kind: kind, Amount: pln100(amount), BalanceAfter: pln100(balance)}
	}
	offline := txn("tap/T-2/1", 13, "B", civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE, 0, 0)
	offline.Offline, offline.DebtAfter = true, pln100(440)
	repay := txn("topup/r-2", 14, "B", civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP, 1000, 560)
	repay.DebtAfter = pln100(0)
	declined := txn("tap/T-1/2", 12, "A", civicardv1.TransactionKind_TRANSACTION_KIND_DECLINED_TAP, 0, 2660)
	declined.DeclineReason = civicardv1.DeclineReason_DECLINE_REASON_CARD_BLOCKED
	ops := []Op{
		{ID: "topup/r-1", Kind: OpTopUp, Card: "A", Outcome: OutcomeAcked, AmountMinor: 2000},
		{ID: "tap/T-1/1", Kind: OpTap, Card: "A", Outcome: OutcomeAcked, Accepted: true, AmountMinor: 340},
		{ID: "block/r-3", Kind: OpBlock, Card: "A", Outcome: OutcomeAcked},
		{ID: "tap/T-1/2", Kind: OpTap, Card: "A", Outcome: OutcomeAcked},
		{ID: "tap/T-1/3", Kind: OpTap, Card: "A", Outcome: OutcomeRefused},
		{ID: "tap/T-2/1", Kind: OpTap, Card: "B", Outcome: OutcomeAcked, Accepted: true},
		{ID: "topup/r-2", Kind: OpTopUp, Card: "B", Outcome: OutcomeAcked, AmountMinor: 1000},
	}
	obs := Observed{
		Before: Totals{FundingMinor: -1000, CardsMinor: 1000},
		After:  Totals{FundingMinor: -1000 - 2000 - 1000 + 440 - 440, CardsMinor: 2660 + 560, ReceivablesMinor: 340 + 440},
		Cards: map[string]CardLedger{
			"A": {Card: &civicardv1.Card{CardId: "A", Balance: pln100(2660)}, Transactions: []*civicardv1.Transaction{
				declined,
				txn("block/r-3", 11, "A", civicardv1.TransactionKind_TRANSACTION_KIND_BLOCK, 0, 2660),
				txn("tap/T-1/1", 10, "A", civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE, -340, 2660),
				txn("topup/r-1", 9, "A", civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP, 2000, 3000),
				txn("demo/topup/A", 1, "A", civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP, 1000, 1000),
			}},
			"B": {Card: &civicardv1.Card{CardId: "B", Balance: pln100(560)}, Transactions: []*civicardv1.Transaction{repay, offline}},
		},
	}
	return ops, obs
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		// change breaks the history; nil leaves it as it is.
		change func(ops []Op, obs *Observed) []Op
		// broken is the invariant that must fail, and why (others may
		// fail with it: a missing transaction also leaves the money
		// unexplained).
		broken, why string
	}{
		{name: "a clean run"},
		{name: "an acknowledged tap missing from the ledger", broken: InvariantExactlyOnce, why: "tap/T-1/1 is not in the ledger",
			change: func(ops []Op, obs *Observed) []Op {
				a := obs.Cards["A"]
				a.Transactions = append(a.Transactions[:2:2], a.Transactions[3:]...)
				obs.Cards["A"] = a
				return ops
			}},
		{name: "a top-up applied twice", broken: InvariantExactlyOnce, why: "topup/r-2 is in the ledger 2 times",
			change: func(ops []Op, obs *Observed) []Op {
				b := obs.Cards["B"]
				b.Transactions = append(b.Transactions, b.Transactions[0])
				obs.Cards["B"] = b
				return ops
			}},
		{name: "a refused tap that charged", broken: InvariantExactlyOnce, why: "tap/T-1/3 was refused but is in the ledger",
			change: func(ops []Op, obs *Observed) []Op {
				a := obs.Cards["A"]
				a.Transactions = append(a.Transactions, &civicardv1.Transaction{TransactionId: "tap/T-1/3", CardId: "A", LedgerSequence: 8,
					Kind: civicardv1.TransactionKind_TRANSACTION_KIND_DECLINED_TAP})
				obs.Cards["A"] = a
				return ops
			}},
		{name: "a tap answered with another amount", broken: InvariantExactlyOnce, why: "answered charged 300, the ledger has 340",
			change: func(ops []Op, obs *Observed) []Op { ops[1].AmountMinor = 300; return ops }},
		{name: "a grosz too many owed to the institutions", broken: InvariantMoney, why: "receivables 781",
			change: func(ops []Op, obs *Observed) []Op {
				obs.After.ReceivablesMinor++
				obs.After.FundingMinor--
				return ops
			}},
		{name: "totals that do not sum to zero", broken: InvariantMoney, why: "funding + cards + receivables = 1 after",
			change: func(ops []Op, obs *Observed) []Op { obs.After.CardsMinor++; return ops }},
		{name: "a card showing another balance than its history", broken: InvariantMoney, why: "card B: balance 561",
			change: func(ops []Op, obs *Observed) []Op { obs.Cards["B"].Card.Balance = pln100(561); return ops }},
		{name: "another client writing during the run", broken: InvariantMoney, why: "written during the run by another client",
			change: func(ops []Op, obs *Observed) []Op { return ops[:len(ops)-1] }},
		{name: "a negative balance", broken: InvariantNoNegative, why: "card A: balance -1",
			change: func(ops []Op, obs *Observed) []Op { obs.Cards["A"].Card.Balance = pln100(-1); return ops }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, obs := history()
			if tc.change != nil {
				ops = tc.change(ops, &obs)
			}
			invariants := Check(ops, obs)
			if len(invariants) != 3 {
				t.Fatalf("%d invariants checked, want 3", len(invariants))
			}
			for _, inv := range invariants {
				switch {
				case tc.broken == "" && !inv.OK:
					t.Errorf("%s failed on a clean run: %s %v", inv.Name, inv.Detail, inv.Failures)
				case inv.Name == tc.broken && inv.OK:
					t.Errorf("%s holds, want it broken: %s", inv.Name, inv.Detail)
				case inv.Name == tc.broken && !strings.Contains(strings.Join(inv.Failures, "\n"), tc.why):
					t.Errorf("%s failed with %v, want it to say %q", inv.Name, inv.Failures, tc.why)
				}
			}
		})
	}
}

// TestBrokenInvariantFailsTheReport: one failed check makes the whole
// report (and so the exit status of `civicard sim`) a failure.
func TestBrokenInvariantFailsTheReport(t *testing.T) {
	ops, obs := history()
	ops = append(ops, Op{ID: "tap/T-9/1", Kind: OpTap, Card: "A", Outcome: OutcomeAcked, Accepted: true, AmountMinor: 340})
	report := BuildReport(RunInfo{}, 0, NewRecorder(0), nil, LedgerReport{}, Flows(ops, obs), Check(ops, obs))
	if report.OK {
		t.Fatal("a report with an acknowledged tap missing from the ledger is OK")
	}
	var text strings.Builder
	report.WriteText(&text)
	if !strings.Contains(text.String(), "FAIL") || !strings.Contains(text.String(), "tap/T-9/1") {
		t.Fatalf("the report does not show the failure:\n%s", text.String())
	}
	ops, obs = history()
	if report := BuildReport(RunInfo{}, 0, NewRecorder(0), nil, LedgerReport{}, Flows(ops, obs), Check(ops, obs)); !report.OK {
		t.Fatalf("a clean run's report is not OK: %+v", report.Invariants)
	}
}

func TestOutcomeUnknown(t *testing.T) {
	for _, tc := range []struct {
		err     error
		unknown bool
		result  string
	}{
		{connect.NewError(connect.CodeUnavailable, errors.New("leader changed")), true, "no answer: unavailable"},
		{connect.NewError(connect.CodeDeadlineExceeded, errors.New("slow")), true, "no answer: deadline_exceeded"},
		{connect.NewError(connect.CodeCanceled, errors.New("node stopping")), true, "no answer: canceled"},
		{errors.New("connection reset by peer"), true, "no answer: transport"},
		{connect.NewError(connect.CodeInvalidArgument, errors.New("unknown service CICO")), false, "refused: invalid_argument"},
		{connect.NewError(connect.CodeFailedPrecondition, errors.New("card blocked")), false, "refused: failed_precondition"},
	} {
		if got := outcomeUnknown(tc.err); got != tc.unknown {
			t.Errorf("outcomeUnknown(%v) = %v, want %v", tc.err, got, tc.unknown)
		}
		if got := errorResult(tc.err); got != tc.result {
			t.Errorf("errorResult(%v) = %q, want %q", tc.err, got, tc.result)
		}
	}
}
