package purse

import (
	"errors"
	"fmt"

	"civicard/domain/money"
)

// ErrLimits is wrapped by Validate's errors.
var ErrLimits = errors.New("purse: invalid limits")

// Reason says which limit refused an operation.
type Reason uint8

const (
	ReasonNone Reason = iota
	// ReasonTransactionNoPIN: one payment above Limits.TransactionMaxMinor
	// without a PIN verified by the terminal.
	ReasonTransactionNoPIN
	// ReasonTransactionPIN: one payment above Limits.TransactionPINMaxMinor,
	// PIN or not.
	ReasonTransactionPIN
	// ReasonBearerMonth: a bearer card over Limits.BearerMonthMaxMinor spent
	// in a calendar month.
	ReasonBearerMonth
	// ReasonBalanceMax: a top-up that would take the balance over
	// Limits.BalanceMaxMinor.
	ReasonBalanceMax
	// ReasonTopUpYear: top-ups over Limits.TopUpYearMaxMinor in a calendar
	// year.
	ReasonTopUpYear
	// ReasonAmount: an amount that is not positive.
	ReasonAmount
)

var reasonNames = [...]string{
	ReasonNone:             "none",
	ReasonTransactionNoPIN: "transaction limit without PIN",
	ReasonTransactionPIN:   "transaction limit",
	ReasonBearerMonth:      "bearer card monthly limit",
	ReasonBalanceMax:       "balance limit",
	ReasonTopUpYear:        "yearly top-up limit",
	ReasonAmount:           "amount not positive",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// Defaults: ŚKUP's.
const (
	defaultBalanceMaxMinor        = 20_000  // PLN 200
	defaultTransactionMaxMinor    = 5_000   // PLN 50 without PIN
	defaultTransactionPINMaxMinor = 20_000  // PLN 200 with PIN
	defaultBearerMonthMaxMinor    = 15_000  // PLN 150 a month on a bearer card
	defaultTopUpYearMaxMinor      = 240_000 // PLN 2,400 a calendar year

	// limitMaxMinor bounds every limit (PLN 1 million), so that a typo of
	// several zeros is refused and every sum below stays far from overflow.
	limitMaxMinor = 100_000_000
)

// Limits of the e-purse, all in grosz. The zero value is not usable: start
// from DefaultLimits.
type Limits struct {
	// BalanceMaxMinor is the most a card may hold. Default 20 000.
	BalanceMaxMinor int64
	// TransactionMaxMinor is the most one payment may take without a PIN
	// verified by the terminal. Default 5 000.
	TransactionMaxMinor int64
	// TransactionPINMaxMinor is the most one payment may take with a PIN.
	// Default 20 000; at least TransactionMaxMinor.
	TransactionPINMaxMinor int64
	// BearerMonthMaxMinor is the most a bearer card may spend in a calendar
	// month, net of refunds. Default 15 000.
	BearerMonthMaxMinor int64
	// TopUpYearMaxMinor is the most that may be loaded onto a card in a
	// calendar year. Default 240 000.
	TopUpYearMaxMinor int64
}

// DefaultLimits returns ŚKUP's limits.
func DefaultLimits() Limits {
	return Limits{
		BalanceMaxMinor:        defaultBalanceMaxMinor,
		TransactionMaxMinor:    defaultTransactionMaxMinor,
		TransactionPINMaxMinor: defaultTransactionPINMaxMinor,
		BearerMonthMaxMinor:    defaultBearerMonthMaxMinor,
		TopUpYearMaxMinor:      defaultTopUpYearMaxMinor,
	}
}

// Validate rejects limits that cannot work, all problems in one error.
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"BalanceMaxMinor", l.BalanceMaxMinor},
		{"TransactionMaxMinor", l.TransactionMaxMinor},
		{"TransactionPINMaxMinor", l.TransactionPINMaxMinor},
		{"BearerMonthMaxMinor", l.BearerMonthMaxMinor},
		{"TopUpYearMaxMinor", l.TopUpYearMaxMinor},
	} {
		if f.value < 1 || f.value > limitMaxMinor {
			errs = append(errs, fmt.Errorf("%w: %s %d outside [1, %d]", ErrLimits, f.name, f.value, limitMaxMinor))
		}
	}
	if l.TransactionPINMaxMinor < l.TransactionMaxMinor {
		errs = append(errs, fmt.Errorf("%w: TransactionPINMaxMinor %d below TransactionMaxMinor %d: a PIN would allow less", ErrLimits, l.TransactionPINMaxMinor, l.TransactionMaxMinor))
	}
	return errors.Join(errs...)
}

// Counters are what a card has spent and loaded in the current periods. A
// counter belongs to the period its key names; a charge or top-up in a later
// period starts it again from zero. The zero value is a card that has done
// nothing.
//
// Invariant: 0 <= MonthSpentMinor, 0 <= YearTopUpMinor (refunds floor at 0).
type Counters struct {
	// Month is the period key of MonthSpentMinor (tariff.Date.Month).
	Month int32
	// MonthSpentMinor is the net amount charged in Month.
	MonthSpentMinor int64
	// Year is the period key of YearTopUpMinor (tariff.Date.Year).
	Year int32
	// YearTopUpMinor is the amount loaded in Year.
	YearTopUpMinor int64
}

// Charge is one payment to check.
type Charge struct {
	// AmountMinor is what the card pays; negative for a refund, which is
	// never refused and lowers the month's spending.
	AmountMinor int64
	// Bearer is true for an anonymous card.
	Bearer bool
	// PINVerified is true when the terminal verified the holder's PIN.
	PINVerified bool
	// Month is the period key of the payment's time.
	Month int32
}

// Refusal says which limit an operation broke, with the numbers to show.
type Refusal struct {
	Reason Reason
	// LimitMinor is the limit; AttemptMinor what the operation would have
	// made of it (the payment, the month's spending, the balance, the
	// year's top-ups).
	LimitMinor   int64
	AttemptMinor int64
}

func (r *Refusal) Error() string {
	switch r.Reason {
	case ReasonTransactionNoPIN:
		return fmt.Sprintf("a payment of %s is over the %s allowed without a PIN", pln(r.AttemptMinor), pln(r.LimitMinor))
	case ReasonTransactionPIN:
		return fmt.Sprintf("a payment of %s is over the %s one payment may take", pln(r.AttemptMinor), pln(r.LimitMinor))
	case ReasonBearerMonth:
		return fmt.Sprintf("a bearer card may spend %s a month; this would make %s", pln(r.LimitMinor), pln(r.AttemptMinor))
	case ReasonBalanceMax:
		return fmt.Sprintf("a card may hold at most %s; this would make %s", pln(r.LimitMinor), pln(r.AttemptMinor))
	case ReasonTopUpYear:
		return fmt.Sprintf("at most %s may be loaded in a calendar year; this would make %s", pln(r.LimitMinor), pln(r.AttemptMinor))
	case ReasonAmount:
		return fmt.Sprintf("amount %s is not positive", pln(r.AttemptMinor))
	}
	return r.Reason.String()
}

func pln(minor int64) string { return money.Format(minor, "PLN") }

// CheckCharge checks one payment against l and returns the counters after
// it. A refusal returns c unchanged. Amounts are expected within the
// caller's own bounds; sums saturate rather than overflow.
func CheckCharge(l Limits, c Counters, ch Charge) (Counters, *Refusal) {
	spent := c.MonthSpentMinor
	if c.Month != ch.Month {
		spent = 0
	}
	if ch.AmountMinor <= 0 {
		c.Month, c.MonthSpentMinor = ch.Month, max(0, spent+max(ch.AmountMinor, -limitMaxMinor))
		return c, nil
	}
	if ch.AmountMinor > l.TransactionPINMaxMinor {
		return c, &Refusal{Reason: ReasonTransactionPIN, LimitMinor: l.TransactionPINMaxMinor, AttemptMinor: ch.AmountMinor}
	}
	if !ch.PINVerified && ch.AmountMinor > l.TransactionMaxMinor {
		return c, &Refusal{Reason: ReasonTransactionNoPIN, LimitMinor: l.TransactionMaxMinor, AttemptMinor: ch.AmountMinor}
	}
	spent = addSat(spent, ch.AmountMinor)
	if ch.Bearer && spent > l.BearerMonthMaxMinor {
		return c, &Refusal{Reason: ReasonBearerMonth, LimitMinor: l.BearerMonthMaxMinor, AttemptMinor: spent}
	}
	c.Month, c.MonthSpentMinor = ch.Month, spent
	return c, nil
}

// TopUp is one load of money onto a card to check.
type TopUp struct {
	AmountMinor int64
	// BalanceMinor is the card's balance before the top-up.
	BalanceMinor int64
	// Year is the period key of the top-up's time.
	Year int32
}

// CheckTopUp checks one top-up against l and returns the counters after it.
// A refusal returns c unchanged.
func CheckTopUp(l Limits, c Counters, t TopUp) (Counters, *Refusal) {
	if t.AmountMinor <= 0 {
		return c, &Refusal{Reason: ReasonAmount, AttemptMinor: t.AmountMinor}
	}
	if balance := addSat(t.BalanceMinor, t.AmountMinor); balance > l.BalanceMaxMinor {
		return c, &Refusal{Reason: ReasonBalanceMax, LimitMinor: l.BalanceMaxMinor, AttemptMinor: balance}
	}
	loaded := t.AmountMinor
	if c.Year == t.Year {
		loaded = addSat(c.YearTopUpMinor, t.AmountMinor)
	}
	if loaded > l.TopUpYearMaxMinor {
		return c, &Refusal{Reason: ReasonTopUpYear, LimitMinor: l.TopUpYearMaxMinor, AttemptMinor: loaded}
	}
	c.Year, c.YearTopUpMinor = t.Year, loaded
	return c, nil
}

// addSat adds two amounts, saturating at the int64 bounds.
func addSat(a, b int64) int64 {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		if b > 0 {
			return 1<<63 - 1
		}
		return -1 << 63
	}
	return s
}

// Record counts a payment that is not to be refused: one a terminal
// accepted offline, whose service was already given. The month's spending
// moves as CheckCharge would move it; no limit is checked.
func Record(c Counters, ch Charge) Counters {
	spent := c.MonthSpentMinor
	if c.Month != ch.Month {
		spent = 0
	}
	c.Month, c.MonthSpentMinor = ch.Month, max(0, addSat(spent, max(ch.AmountMinor, -limitMaxMinor)))
	return c
}
