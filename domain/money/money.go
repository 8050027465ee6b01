package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultCurrency is the ISO 4217 code of the city's money, the złoty:
// every configuration that names a currency takes it as its default. A
// running civicard keeps one currency, set once at start
// (cluster.Settings.Currency, --currency) and read from there by the
// ledger, the grains, the gateway and the payouts.
const DefaultCurrency = "PLN"

// ErrSyntax is returned for text that is not an amount.
var ErrSyntax = errors.New("money: not an amount")

// ErrRange is returned for an amount too large to hold.
var ErrRange = errors.New("money: amount out of range")

// amountMaxMinor keeps parsed amounts far from int64 overflow: a billion
// złoty is more than any single card operation.
const amountMaxMinor = 100_000_000_000

// Parse reads an amount in major units with at most two decimals, with "." or
// "," as the decimal separator ("20", "20.5", "3,40"), and returns minor units.
// A leading "-" is accepted so callers can reject negative amounts with a
// clear message of their own.
func Parse(s string) (int64, error) {
	text := strings.TrimSpace(s)
	negative := strings.HasPrefix(text, "-")
	text = strings.TrimPrefix(text, "-")
	whole, frac, hasFrac := strings.Cut(strings.ReplaceAll(text, ",", "."), ".")
	if whole == "" || !digitsOnly(whole) || (hasFrac && (frac == "" || len(frac) > 2 || !digitsOnly(frac))) {
		return 0, fmt.Errorf("%w: %q (want e.g. 20.00)", ErrSyntax, s)
	}
	major, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || major > amountMaxMinor/100 {
		return 0, fmt.Errorf("%w: %q", ErrRange, s)
	}
	var minor int64
	if hasFrac {
		minor, _ = strconv.ParseInt(frac, 10, 64) // digits only, at most two
		if len(frac) == 1 {
			minor *= 10
		}
	}
	amount := major*100 + minor
	if amount > amountMaxMinor {
		return 0, fmt.Errorf("%w: %q", ErrRange, s)
	}
	if negative {
		amount = -amount
	}
	return amount, nil
}

// Format prints minor units as major units with two decimals and the
// currency code: Format(-340, "PLN") == "-3.40 PLN".
func Format(minor int64, currency string) string {
	sign := ""
	magnitude := uint64(minor)
	if minor < 0 {
		sign = "-"
		magnitude = uint64(-(minor + 1)) + 1 // no overflow at math.MinInt64
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, magnitude/100, magnitude%100, currency)
}

func digitsOnly(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
