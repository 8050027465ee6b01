package sim

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	civicardv1 "civicard/messages/civicard/v1"
)

// OpKind is what an operation of the run was.
type OpKind uint8

const (
	OpTap OpKind = iota + 1
	OpTopUp
	OpBlock
)

func (k OpKind) String() string {
	switch k {
	case OpTap:
		return "tap"
	case OpTopUp:
		return "top-up"
	case OpBlock:
		return "block"
	}
	return fmt.Sprintf("OpKind(%d)", k)
}

// Outcome is what the sim learnt of an operation.
type Outcome uint8

const (
	// OutcomeAcked: the system answered; the answer is the operation's
	// result.
	OutcomeAcked Outcome = iota + 1
	// OutcomeRefused: the system refused the request (bad input, a
	// precondition): it must have changed nothing.
	OutcomeRefused
	// OutcomeUnknown: no answer; it may or may not have been applied, at
	// most once.
	OutcomeUnknown
)

// Op is one operation of the run with the answer it got.
type Op struct {
	// ID is the ledger's transaction id: "tap/T/seq", "topup/R", "block/R".
	ID      string
	Kind    OpKind
	Card    string
	Outcome Outcome
	// Accepted, for an acknowledged tap: accepted (true) or declined.
	Accepted bool
	// AmountMinor, when acknowledged: what a tap charged, what a top-up
	// added.
	AmountMinor int64
}

// CardLedger is a card as the system shows it after the run.
type CardLedger struct {
	Card *civicardv1.Card
	// Transactions is its whole history, in any order.
	Transactions []*civicardv1.Transaction
}

// Totals are the sums of the ledger's accounts over every group.
type Totals struct {
	FundingMinor, CardsMinor, ReceivablesMinor int64
}

// Observed is what the sim read from the system: its totals before and
// after the run, and every card the run touched.
type Observed struct {
	Before, After Totals
	Cards         map[string]CardLedger
}

// Invariant is one check of the run.
type Invariant struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail says what was checked, in numbers.
	Detail string `json:"detail"`
	// Failures are the first failuresMax cases that broke it.
	Failures []string `json:"failures,omitempty"`
}

// failuresMax bounds the failures listed per invariant.
const failuresMax = 20

type failures struct {
	list  []string
	count int
}

func (f *failures) add(format string, args ...any) {
	f.count++
	if len(f.list) < failuresMax {
		f.list = append(f.list, fmt.Sprintf(format, args...))
	}
}

func (f *failures) invariant(name, detail string) Invariant {
	if f.count > len(f.list) {
		detail += fmt.Sprintf(" (%d failures, first %d listed)", f.count, len(f.list))
	}
	return Invariant{Name: name, OK: f.count == 0, Detail: detail, Failures: f.list}
}

// Names of the invariants Check checks.
const (
	InvariantExactlyOnce = "every acknowledged operation is in the ledger exactly once, as answered"
	InvariantMoney       = "money is exact"
	InvariantNoNegative  = "no negative balance"
)

// Check checks the run's operations against what the system shows: every
// acknowledged operation is in its card's history exactly once and says
// what its answer said, none is there twice, a refused one is not there;
// the ledger's totals moved by exactly what the run's transactions moved,
// and still sum to zero; no balance or debt is negative. The run must have
// been the only writer meanwhile. Pure: it reads only its arguments.
func Check(ops []Op, obs Observed) []Invariant {
	return []Invariant{checkExactlyOnce(ops, obs), checkMoney(ops, obs), checkNoNegative(obs)}
}

func checkExactlyOnce(ops []Op, obs Observed) Invariant {
	var f failures
	found := map[string][]*civicardv1.Transaction{}
	for _, cl := range obs.Cards {
		for _, txn := range cl.Transactions {
			found[txn.GetTransactionId()] = append(found[txn.GetTransactionId()], txn)
		}
	}
	acked, unknownSettled := 0, 0
	for _, op := range ops {
		txns := found[op.ID]
		if _, ok := obs.Cards[op.Card]; !ok {
			f.add("%s %s: card %s was not read", op.Kind, op.ID, op.Card)
			continue
		}
		if len(txns) > 1 {
			f.add("%s %s is in the ledger %d times", op.Kind, op.ID, len(txns))
			continue
		}
		switch op.Outcome {
		case OutcomeRefused:
			if len(txns) != 0 {
				f.add("%s %s was refused but is in the ledger", op.Kind, op.ID)
			}
		case OutcomeUnknown:
			unknownSettled += len(txns)
		case OutcomeAcked:
			acked++
			if len(txns) == 0 {
				f.add("acknowledged %s %s is not in the ledger", op.Kind, op.ID)
				continue
			}
			if msg := differs(op, txns[0]); msg != "" {
				f.add("acknowledged %s %s: %s", op.Kind, op.ID, msg)
			}
		}
	}
	return f.invariant(InvariantExactlyOnce, fmt.Sprintf("%d acknowledged operations checked; %d without an answer were settled", acked, unknownSettled))
}

// differs says how a transaction differs from the answer its operation got.
func differs(op Op, txn *civicardv1.Transaction) string {
	if txn.GetCardId() != op.Card {
		return fmt.Sprintf("on card %s, not %s", txn.GetCardId(), op.Card)
	}
	kind := txn.GetKind()
	switch op.Kind {
	case OpTap:
		want := civicardv1.TransactionKind_TRANSACTION_KIND_DECLINED_TAP
		if op.Accepted {
			want = civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE
		}
		if kind != want {
			return fmt.Sprintf("answered accepted=%v, the ledger has %s", op.Accepted, kind)
		}
		if -txn.GetAmount().GetMinorUnits() != op.AmountMinor {
			return fmt.Sprintf("answered charged %d, the ledger has %d", op.AmountMinor, -txn.GetAmount().GetMinorUnits())
		}
	case OpTopUp:
		if kind != civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP || txn.GetAmount().GetMinorUnits() != op.AmountMinor {
			return fmt.Sprintf("answered a top-up of %d, the ledger has %s of %d", op.AmountMinor, kind, txn.GetAmount().GetMinorUnits())
		}
	case OpBlock:
		if kind != civicardv1.TransactionKind_TRANSACTION_KIND_BLOCK {
			return fmt.Sprintf("the ledger has %s", kind)
		}
	}
	return ""
}

// MoneyFlows are the money the run's transactions moved, as the ledger
// records them. A top-up moves TopUps from funding to the card, which
// repays DebtRepaid of its debt back to funding; a charge moves
// PaidByCards from the card to the institution, and what an offline tap's
// card could not cover (OfflineShortfall) from funding to the institution,
// as the card's debt.
type MoneyFlows struct {
	TopUpsMinor           int64 `json:"top_ups_minor"`
	DebtRepaidMinor       int64 `json:"debt_repaid_minor"`
	PaidByCardsMinor      int64 `json:"paid_by_cards_minor"`
	OfflineShortfallMinor int64 `json:"offline_shortfall_minor"`
	// BalancesMinor is the change of the touched cards' balances.
	BalancesMinor int64 `json:"balances_minor"`
}

// ToInstitutionsMinor is what the institutions are owed for the run.
func (m MoneyFlows) ToInstitutionsMinor() int64 { return m.PaidByCardsMinor + m.OfflineShortfallMinor }

// Flows sums the money the run's operations moved, from the cards'
// histories. Pure.
func Flows(ops []Op, obs Observed) MoneyFlows {
	return flows(ops, obs, &failures{})
}

// flows sums the run's money and adds to f every card whose history does
// not explain its state, or that another client wrote to during the run.
func flows(ops []Op, obs Observed, f *failures) MoneyFlows {
	ours := make(map[string]bool, len(ops))
	for _, op := range ops {
		ours[op.ID] = true
	}
	var m MoneyFlows
	for _, id := range slices.Sorted(maps.Keys(obs.Cards)) {
		cl := obs.Cards[id]
		txns := slices.SortedFunc(slices.Values(cl.Transactions), func(a, b *civicardv1.Transaction) int {
			return cmp.Compare(a.GetLedgerSequence(), b.GetLedgerSequence())
		})
		var balance, debt int64
		first := true
		for _, txn := range txns {
			isOurs := ours[txn.GetTransactionId()]
			if !isOurs && !first {
				f.add("card %s: %s written during the run by another client", id, txn.GetTransactionId())
			}
			if isOurs && first {
				m.BalancesMinor -= balance
				first = false
			}
			debtAfter := debt
			switch {
			case txn.GetDebtAfter() != nil:
				debtAfter = txn.GetDebtAfter().GetMinorUnits()
			case txn.GetKind() == civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP || txn.GetOffline():
				debtAfter = 0
			}
			if isOurs {
				switch txn.GetKind() {
				case civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP:
					m.TopUpsMinor += txn.GetAmount().GetMinorUnits()
					m.DebtRepaidMinor += debt - debtAfter
				case civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE:
					m.PaidByCardsMinor -= txn.GetAmount().GetMinorUnits()
					m.OfflineShortfallMinor += debtAfter - debt
				}
			}
			balance, debt = txn.GetBalanceAfter().GetMinorUnits(), debtAfter
		}
		if !first {
			m.BalancesMinor += balance
		}
		if got := cl.Card.GetBalance().GetMinorUnits(); len(txns) > 0 && got != balance {
			f.add("card %s: balance %d, its newest transaction says %d", id, got, balance)
		}
		if got := cl.Card.GetDebt().GetMinorUnits(); got != debt {
			f.add("card %s: debt %d, its transactions say %d", id, got, debt)
		}
	}
	return m
}

func checkMoney(ops []Op, obs Observed) Invariant {
	var f failures
	m := flows(ops, obs, &f)
	want := Totals{
		FundingMinor:     obs.Before.FundingMinor - m.TopUpsMinor + m.DebtRepaidMinor - m.OfflineShortfallMinor,
		CardsMinor:       obs.Before.CardsMinor + m.TopUpsMinor - m.DebtRepaidMinor - m.PaidByCardsMinor,
		ReceivablesMinor: obs.Before.ReceivablesMinor + m.PaidByCardsMinor + m.OfflineShortfallMinor,
	}
	if want != obs.After {
		f.add("totals after the run are funding %d, cards %d, receivables %d; the run's transactions make them %d, %d, %d",
			obs.After.FundingMinor, obs.After.CardsMinor, obs.After.ReceivablesMinor, want.FundingMinor, want.CardsMinor, want.ReceivablesMinor)
	}
	if got := obs.After.CardsMinor - obs.Before.CardsMinor; got != m.BalancesMinor {
		f.add("the cards' total moved by %d, the touched cards' balances by %d", got, m.BalancesMinor)
	}
	for _, t := range []struct {
		name   string
		totals Totals
	}{{"before", obs.Before}, {"after", obs.After}} {
		if sum := t.totals.FundingMinor + t.totals.CardsMinor + t.totals.ReceivablesMinor; sum != 0 {
			f.add("funding + cards + receivables = %d %s the run, want 0", sum, t.name)
		}
	}
	return f.invariant(InvariantMoney, fmt.Sprintf("top-ups %d, debt repaid %d, paid by cards %d, offline shortfall %d; funding + cards + receivables = %d",
		m.TopUpsMinor, m.DebtRepaidMinor, m.PaidByCardsMinor, m.OfflineShortfallMinor, obs.After.FundingMinor+obs.After.CardsMinor+obs.After.ReceivablesMinor))
}

func checkNoNegative(obs Observed) Invariant {
	var f failures
	for _, id := range slices.Sorted(maps.Keys(obs.Cards)) {
		cl := obs.Cards[id]
		if b := cl.Card.GetBalance().GetMinorUnits(); b < 0 {
			f.add("card %s: balance %d", id, b)
		}
		if d := cl.Card.GetDebt().GetMinorUnits(); d < 0 {
			f.add("card %s: debt %d", id, d)
		}
		for _, txn := range cl.Transactions {
			if b := txn.GetBalanceAfter().GetMinorUnits(); b < 0 {
				f.add("card %s: balance %d after %s", id, b, txn.GetTransactionId())
			}
		}
	}
	return f.invariant(InvariantNoNegative, fmt.Sprintf("%d cards and their histories", len(obs.Cards)))
}
