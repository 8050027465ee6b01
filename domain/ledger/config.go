package ledger

import (
	"errors"
	"fmt"

	"civicard/domain/money"
)

// Config holds the ledger's limits. A zero field takes its default, so
// Config{} and DefaultConfig() configure the same ledger. Every replica of a
// shard must run with the same Config: the limits decide outcomes, and
// outcomes must be identical on every replica.
type Config struct {
	// Currency is the ISO 4217 code of every amount the ledger holds; one
	// ledger, one currency. Default money.DefaultCurrency.
	Currency string
	// BalanceMaxMinor is the largest balance an e-purse may hold, in minor
	// units. Default 20000 (PLN 200), the e-money limit of a card without a
	// named, verified holder.
	BalanceMaxMinor int64
	// AmountMaxMinor is the largest single top-up or charge, in minor units.
	// Default 20000. It cannot exceed BalanceMaxMinor: a larger top-up could
	// never succeed.
	AmountMaxMinor int64
	// HistoryMax is how many transactions each card keeps for listing. Older
	// ones drop out of the card's list, never out of the idempotency results.
	// Default 1000.
	HistoryMax int
}

// Defaults and the bounds Validate holds a Config to.
const (
	defaultCurrency        = money.DefaultCurrency
	defaultBalanceMaxMinor = 20000
	defaultAmountMaxMinor  = 20000
	defaultHistoryMax      = 1000

	// balanceMaxMinorLimit keeps every sum of balances far from int64
	// overflow: 10^12 grosz is PLN 10 billion.
	balanceMaxMinorLimit = 1_000_000_000_000
	// historyMaxLimit bounds the memory one card's list may take.
	historyMaxLimit = 100_000
)

// DefaultConfig returns the configuration of the city's e-purse.
func DefaultConfig() Config {
	return Config{
		Currency:        defaultCurrency,
		BalanceMaxMinor: defaultBalanceMaxMinor,
		AmountMaxMinor:  defaultAmountMaxMinor,
		HistoryMax:      defaultHistoryMax,
	}
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Currency == "" {
		c.Currency = defaultCurrency
	}
	if c.BalanceMaxMinor == 0 {
		c.BalanceMaxMinor = defaultBalanceMaxMinor
	}
	if c.AmountMaxMinor == 0 {
		c.AmountMaxMinor = defaultAmountMaxMinor
	}
	if c.HistoryMax == 0 {
		c.HistoryMax = defaultHistoryMax
	}
	return c
}

// Validate rejects contradictory or absurd settings, so a bad configuration
// fails at start and not at the first top-up. Zero fields take their defaults
// first.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if !isCurrencyCode(c.Currency) {
		errs = append(errs, fmt.Errorf("currency %q is not a three-letter ISO 4217 code", c.Currency))
	}
	if c.BalanceMaxMinor < 1 || c.BalanceMaxMinor > balanceMaxMinorLimit {
		errs = append(errs, fmt.Errorf("balance maximum %d is outside [1, %d]", c.BalanceMaxMinor, int64(balanceMaxMinorLimit)))
	}
	if c.AmountMaxMinor < 1 {
		errs = append(errs, fmt.Errorf("amount maximum %d is below 1", c.AmountMaxMinor))
	}
	if c.AmountMaxMinor > c.BalanceMaxMinor {
		errs = append(errs, fmt.Errorf("amount maximum %d is above the balance maximum %d: such a top-up could never succeed", c.AmountMaxMinor, c.BalanceMaxMinor))
	}
	if c.HistoryMax < 1 || c.HistoryMax > historyMaxLimit {
		errs = append(errs, fmt.Errorf("history maximum %d is outside [1, %d]", c.HistoryMax, historyMaxLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ledger config: %w", err)
	}
	return nil
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
