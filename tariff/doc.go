// Package tariff prices a purchase: what a tap or a sale at a terminal costs
// in grosz, before the card grain proposes the charge to the ledger.
//
// This is where the fare rules of every institution will live. Today there is
// one rule, the unit price from the institution's price list times the
// quantity; check-in/check-out distance fares for transport, daily and
// monthly capping, season passes and concessions (students, seniors) come
// later, each as a function of the same kind.
//
// The package is pure: values in, a price or an error out, with no clock, no
// I/O and no state. Three things follow from that. A fare rule is table-tested
// in microseconds without an actor, a network or a disk. The card grain can
// price a tap again after the ledger refused a stale version and get the same
// answer. And a price can be recomputed later from the recorded transaction to
// explain a charge to a holder or an institution. Anything time-dependent
// (a 20-minute ticket still valid, a daily cap reached) will be passed in as
// values, never read from a clock here.
//
// Use:
//
//	limits := tariff.DefaultLimits() // or from configuration, then
//	if err := limits.Validate(); err != nil { ... } // once, at start
//	service, err := tariff.Find(institution, code) // "" is the default service
//	amount, err := tariff.Price(service, quantity, limits)
//
// Errors wrap ErrNoService, ErrQuantity, ErrAmount or ErrLimits, so the edge
// can map them to a status with errors.Is; their text is fit to show.
package tariff
