package ledger

import (
	"fmt"
	"math"
)

// accountKind tells the kinds of account apart.
type accountKind uint8

const (
	fundingAccount accountKind = iota + 1
	cardAccount
	receivableAccount
	// payoutsAccount and feesAccount are where payouts take an
	// institution's money: to its bank (payouts) and to the operator
	// (fees). One of each per ledger.
	payoutsAccount
	feesAccount
)

// account names one account: the funding account, a card's e-purse, an
// institution's receivable, the payouts or the fees account.
type account struct {
	kind accountKind
	id   string
}

func (a account) String() string {
	switch a.kind {
	case fundingAccount:
		return "funding"
	case cardAccount:
		return fmt.Sprintf("card %q", a.id)
	case receivableAccount:
		return fmt.Sprintf("receivable of institution %q", a.id)
	case payoutsAccount:
		return "payouts"
	case feesAccount:
		return "fees"
	}
	return fmt.Sprintf("account kind %d %q", a.kind, a.id)
}

// transfer moves amountMinor from one account to another. The two sides are
// named fields of a struct so they cannot be swapped by argument order.
type transfer struct {
	from        account
	to          account
	amountMinor int64
	// refund: an institution pays a card back (a check-out, a correction).
	// The receivable may go below zero (the institution was paid out since
	// the charge; settlement nets it later), and the card above its
	// maximum (it was topped up since the charge): the money was the
	// card's to begin with.
	refund bool
}

// apply asserts the invariants a transfer could break and then moves the
// money, or changes nothing and says why. The command handlers have already
// decided the transfer on business grounds (blocked card, insufficient funds,
// balance maximum); this is the second, independent check at the point
// where the balances change, so a bug in a handler is a rejected command and
// not a broken ledger.
func (s *State) apply(t transfer) error {
	// A payout moves a cycle's takings, far more than one tap.
	amountMax := s.cfg.AmountMaxMinor
	if t.settles() {
		amountMax = settlementAmountMaxMinor
	}
	if t.amountMinor < 0 || t.amountMinor > amountMax {
		return fmt.Errorf("transfer of %d from %v to %v: amount outside [0, %d]", t.amountMinor, t.from, t.to, amountMax)
	}
	if t.from == t.to {
		return fmt.Errorf("transfer from %v to itself", t.from)
	}
	fromBalance, err := s.balance(t.from)
	if err != nil {
		return err
	}
	toBalance, err := s.balance(t.to)
	if err != nil {
		return err
	}
	fromAfter, ok := sub(fromBalance, t.amountMinor)
	if !ok {
		return fmt.Errorf("transfer of %d: %v would overflow", t.amountMinor, t.from)
	}
	toAfter, ok := add(toBalance, t.amountMinor)
	if !ok {
		return fmt.Errorf("transfer of %d: %v would overflow", t.amountMinor, t.to)
	}
	if t.refund && (t.from.kind != receivableAccount || t.to.kind != cardAccount) {
		return fmt.Errorf("refund of %d from %v to %v: a refund goes from a receivable to a card", t.amountMinor, t.from, t.to)
	}
	if err := s.checkBalance(t.from, fromAfter, t.refund); err != nil {
		return fmt.Errorf("transfer of %d: %w", t.amountMinor, err)
	}
	if err := s.checkBalance(t.to, toAfter, t.refund); err != nil {
		return fmt.Errorf("transfer of %d: %w", t.amountMinor, err)
	}

	// The running sums move with the accounts; compute them all before
	// touching anything so a failed check leaves the state as it was.
	// balance has vouched for both kinds, so they index the array.
	var sums [feesAccount + 1]int64
	sums[fundingAccount], sums[cardAccount], sums[receivableAccount] = s.fundingMinor, s.cardsMinor, s.receivablesMinor
	sums[payoutsAccount], sums[feesAccount] = s.payoutsMinor, s.feesMinor
	if sums[t.from.kind], ok = sub(sums[t.from.kind], t.amountMinor); !ok {
		return fmt.Errorf("transfer of %d: the running total of %v would overflow", t.amountMinor, t.from)
	}
	if sums[t.to.kind], ok = add(sums[t.to.kind], t.amountMinor); !ok {
		return fmt.Errorf("transfer of %d: the running total of %v would overflow", t.amountMinor, t.to)
	}
	funding, cards, receivables := sums[fundingAccount], sums[cardAccount], sums[receivableAccount]
	payouts, fees := sums[payoutsAccount], sums[feesAccount]
	if total, ok := sum3(funding, cards, receivables); !ok || !conserved(total, payouts, fees) {
		return fmt.Errorf("transfer of %d from %v to %v would break conservation: funding %d + cards %d + receivables %d + payouts %d + fees %d != 0",
			t.amountMinor, t.from, t.to, funding, cards, receivables, payouts, fees)
	}

	s.setBalance(t.from, fromAfter)
	s.setBalance(t.to, toAfter)
	s.fundingMinor, s.cardsMinor, s.receivablesMinor = funding, cards, receivables
	s.payoutsMinor, s.feesMinor = payouts, fees
	// Every movement of an institution's money by a command other than a
	// payout is a posting of the open clearing cycle (cycle.go): a charge
	// in, a refund or correction out, whatever command makes it.
	if !t.settles() {
		switch {
		case t.to.kind == receivableAccount:
			s.post(t.to.id, t.amountMinor)
		case t.from.kind == receivableAccount:
			s.post(t.from.id, -t.amountMinor)
		}
	}
	return nil
}

// settles reports whether t is a payout's: to or from the payouts or the
// fees account.
func (t transfer) settles() bool {
	for _, k := range [...]accountKind{t.from.kind, t.to.kind} {
		if k == payoutsAccount || k == feesAccount {
			return true
		}
	}
	return false
}

// conserved reports whether the five sums add to zero, without overflow.
func conserved(fundingCardsReceivables, payouts, fees int64) bool {
	total, ok := sum3(fundingCardsReceivables, payouts, fees)
	return ok && total == 0
}

func (s *State) balance(a account) (int64, error) {
	switch a.kind {
	case fundingAccount:
		return s.fundingMinor, nil
	case cardAccount:
		if c, ok := s.cards[a.id]; ok {
			return c.balanceMinor, nil
		}
	case receivableAccount:
		if inst, ok := s.institutions[a.id]; ok {
			return inst.receivableMinor, nil
		}
	case payoutsAccount:
		return s.payoutsMinor, nil
	case feesAccount:
		return s.feesMinor, nil
	}
	return 0, fmt.Errorf("no such account: %v", a)
}

// checkBalance holds an account's balance to its bounds. The funding, the
// payouts and the fees accounts have none of their own: conservation bounds
// them. Nor has a receivable: a refund or a payout's fee may take it below
// zero (clearing carries the loss to the next payout). A refund may take a
// card over its maximum by one purchase (cardBalanceMax).
func (s *State) checkBalance(a account, balanceMinor int64, refund bool) error {
	switch a.kind {
	case cardAccount:
		if balanceMinor < 0 {
			return fmt.Errorf("%v would go negative (%d)", a, balanceMinor)
		}
		if limit := s.cardBalanceMax(refund); balanceMinor > limit {
			return fmt.Errorf("%v would exceed the balance maximum %d (%d)", a, limit, balanceMinor)
		}
	}
	return nil
}

// cardBalanceMax is the most a card may hold: BalanceMaxMinor, and one
// purchase more after a refund.
func (s *State) cardBalanceMax(refund bool) int64 {
	if refund {
		return s.cfg.BalanceMaxMinor + s.cfg.AmountMaxMinor
	}
	return s.cfg.BalanceMaxMinor
}

// setBalance is called only by apply, after balance found the account.
func (s *State) setBalance(a account, balanceMinor int64) {
	switch a.kind {
	case fundingAccount:
		s.fundingMinor = balanceMinor
	case cardAccount:
		s.cards[a.id].balanceMinor = balanceMinor
	case receivableAccount:
		s.institutions[a.id].receivableMinor = balanceMinor
	case payoutsAccount:
		s.payoutsMinor = balanceMinor
	case feesAccount:
		s.feesMinor = balanceMinor
	}
}

// add returns a+b and false on int64 overflow.
func add(a, b int64) (int64, bool) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, false
	}
	return c, true
}

// sub returns a-b and false on int64 overflow.
func sub(a, b int64) (int64, bool) {
	if b == math.MinInt64 {
		if a >= 0 {
			return 0, false
		}
		return a - b, true
	}
	return add(a, -b)
}

func sum3(a, b, c int64) (int64, bool) {
	ab, ok := add(a, b)
	if !ok {
		return 0, false
	}
	return add(ab, c)
}
