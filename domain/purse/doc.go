// Package purse holds the limits of the e-purse as pure checks: the most a
// card may hold, the most one payment may take with and without a PIN, the
// most an anonymous (bearer) card may spend in a month, and the most that may
// be loaded onto a card in a calendar year.
//
// Why a package of its own: these limits are not prices. They come from the
// e-money rules the card issuer lives under (ŚKUP's defaults are the
// package's), they apply to top-ups as much as to taps, and they decline an
// operation for a reason the holder must be told ("over the PLN 50 a payment
// may take without a PIN"). The fare engine (domain/tariff) calls
// CheckCharge for every tap it prices, and CheckTopUp when the card grain
// asks it about a top-up (Engine.TopUp). Neither owns the other's rules.
//
// Everything is a value: Limits (configuration, checked once by Validate),
// Counters (what a card has spent this month and loaded this year; kept with
// the card's tariff state and replayed with it), and the period keys the
// caller computes from the tap's time in the city's calendar (tariff.When).
// There is no clock, no I/O and no state here.
//
// Use:
//
//	lim := purse.DefaultLimits() // or from configuration
//	if err := lim.Validate(); err != nil { ... } // once, at start
//	counters, refusal := purse.CheckCharge(lim, counters, purse.Charge{...})
//	if refusal != nil { decline with refusal.Reason, show refusal.Error() }
//
// A refusal changes nothing: the counters returned with it are the ones
// passed in.
package purse
