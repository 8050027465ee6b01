package tariff

import (
	"errors"
	"fmt"
)

// ErrLimits is returned for limits that fail Validate.
var ErrLimits = errors.New("tariff: invalid limits")

// Ceilings that Validate holds every configuration to, so that a typo in a
// configuration file (an extra zero or three) is refused at start.
const (
	quantityMaxCeiling    = 1000
	amountMaxMinorCeiling = 10_000_000 // 100 000 PLN
)

const (
	defaultQuantityMax    = 20
	defaultAmountMaxMinor = 20_000 // 200 PLN
)

// Limits bound a single purchase. The zero value is not usable: start from
// DefaultLimits.
type Limits struct {
	// QuantityMax is the most units one purchase may buy (tickets for a
	// group, quarter-hours of parking). Default 20; at most 1000.
	QuantityMax uint32
	// AmountMaxMinor is the highest price of one purchase in grosz. The card
	// is an e-purse for small payments; a larger amount is far more likely a
	// mistake in a price list or at a terminal than a real purchase.
	// Default 20 000 (200 PLN); at most 10 000 000 (100 000 PLN).
	AmountMaxMinor int64
}

// DefaultLimits returns the limits for a city: 20 units and 200 PLN.
func DefaultLimits() Limits {
	return Limits{
		QuantityMax:    defaultQuantityMax,
		AmountMaxMinor: defaultAmountMaxMinor,
	}
}

// Validate rejects limits that cannot work. The error wraps ErrLimits.
func (l Limits) Validate() error {
	if l.QuantityMax < 1 || l.QuantityMax > quantityMaxCeiling {
		return fmt.Errorf("%w: QuantityMax %d outside [1, %d]", ErrLimits, l.QuantityMax, quantityMaxCeiling)
	}
	if l.AmountMaxMinor < 1 || l.AmountMaxMinor > amountMaxMinorCeiling {
		return fmt.Errorf("%w: AmountMaxMinor %d outside [1, %d]", ErrLimits, l.AmountMaxMinor, amountMaxMinorCeiling)
	}
	return nil
}
