package tariff

import (
	"errors"
	"fmt"

	civicardv1 "civicard/messages/civicard/v1"
)

var (
	// ErrNoService is returned when there is no service to price: a nil
	// service, or a code not in the institution's price list.
	ErrNoService = errors.New("tariff: no such service")
	// ErrQuantity is returned for a quantity above Limits.QuantityMax.
	ErrQuantity = errors.New("tariff: quantity out of range")
	// ErrAmount is returned for a unit price that is not positive and for a
	// total above Limits.AmountMaxMinor.
	ErrAmount = errors.New("tariff: amount out of range")
	// ErrLimits is returned for limits that fail Validate.
	ErrLimits = errors.New("tariff: invalid limits")
)

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

// Find returns the service of inst with the given code. An empty code means
// the institution's default service, the first in its price list (what a
// validator sells when the holder just taps). Codes are compared exactly; if
// a price list holds a code twice, the first entry wins. The error wraps
// ErrNoService.
func Find(inst *civicardv1.Institution, code string) (*civicardv1.Service, error) {
	if inst == nil {
		return nil, fmt.Errorf("%w: no institution", ErrNoService)
	}
	services := inst.GetServices()
	if code == "" {
		if len(services) == 0 || services[0] == nil {
			return nil, fmt.Errorf("%w: institution %s has no default service", ErrNoService, inst.GetInstitutionId())
		}
		return services[0], nil
	}
	for _, s := range services {
		if s.GetCode() == code {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: institution %s does not sell %q", ErrNoService, inst.GetInstitutionId(), code)
}

// Price returns what quantity units of service cost in grosz: the unit price
// times the quantity, where a quantity of 0 means 1. The result is in
// [1, limits.AmountMaxMinor] and never overflows. Errors wrap ErrNoService
// (nil service), ErrQuantity (more than limits.QuantityMax units), ErrAmount
// (unit price not positive, or the total above limits.AmountMaxMinor) or
// ErrLimits (limits that fail Validate).
func Price(service *civicardv1.Service, quantity uint32, limits Limits) (int64, error) {
	if err := limits.Validate(); err != nil {
		return 0, err
	}
	if service == nil {
		return 0, fmt.Errorf("%w: none given", ErrNoService)
	}
	if quantity == 0 {
		quantity = 1
	}
	if quantity > limits.QuantityMax {
		return 0, fmt.Errorf("%w: %d units of %s, at most %d in one purchase", ErrQuantity, quantity, service.GetCode(), limits.QuantityMax)
	}
	unit := service.GetUnitPriceMinor()
	if unit <= 0 {
		return 0, fmt.Errorf("%w: %s has unit price %d grosz, want a positive price", ErrAmount, service.GetCode(), unit)
	}
	// Compare by division so that the product is computed only once it is
	// known to fit: unit*q <= max  <=>  unit <= max/q for positive integers.
	q := int64(quantity)
	if unit > limits.AmountMaxMinor/q {
		return 0, fmt.Errorf("%w: %d × %s at %d grosz is over the %d grosz a purchase may cost", ErrAmount, quantity, service.GetCode(), unit, limits.AmountMaxMinor)
	}
	return unit * q, nil
}
