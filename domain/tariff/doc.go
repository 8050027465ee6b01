// Package tariff is the fare and tariff engine of the city card: one rule
// engine and one representation of a price list for every institution that
// accepts the card (transport, libraries, pools and sport, parking, city
// offices, culture), under one common pricing policy for the region.
//
// # Why it is pure
//
// The engine has no clock, no I/O, no goroutine and no state of its own:
// (the card's tariff state, the institution's price list, the tap) go in,
// and a Decision comes out: the amount, the entries the ledger should post,
// the card's next tariff state, a human-readable breakdown, or a decline
// with its reason. Three things follow. Every rule is table-tested in
// microseconds (testdata/*.txt, run with datadriven). A card grain that was
// told its version is stale prices the same tap again and gets the same
// answer. And because the tariff state is plain, bounded data, the ledger
// can store it per card and replay a card's history to the same result on
// every replica. Time comes in with the tap; the city's calendar (local
// midnight, ISO week, month, year in Polish time) is computed here from the
// EU summer-time rule, not read from the host's time zone files, so that no
// two replicas can disagree about which day a tap fell on.
//
// # The model
//
//   - Region: the common pricing policy. Concessions (student, pupil,
//     senior, disabled, large family) are defined once with their
//     reduction; the transport Network (lines, stops, distances) and its
//     fare Bands; daily and weekly Capping, reduced by the holder's
//     concession; JourneyRules for check-ins never checked out; the e-purse
//     limits (package purse); the per-purchase Limits.
//   - PriceList: what one institution sells, as Products. A product has a
//     Rule — unit (price × quantity, with a ceiling), distance
//     (check-in/check-out), time ticket (valid N minutes, transfers free),
//     duration (tap in, tap out, per started step, daily maximum), pass
//     (season pass) — and lists the concessions it honours: the
//     institution's choice.
//   - CardState: what pricing needs to know about a card: entitlements with
//     their validity, passes, the latest time ticket, the journey in
//     progress, open stays, incomplete journeys, granted corrections, cap
//     counters and e-purse counters. Every list has a named maximum.
//
// # Use
//
//	eng, err := tariff.NewEngine(region) // once; validates the region
//	err = list.Validate(eng.Region())    // once per price list
//	d := eng.Price(card, list, tariff.Tap{ID: txID, TimeUnixMs: t, Product: code, Line: l, Stop: s})
//	if !d.Accepted { decline with d.Decline (and d.Limit), show d.Reason }
//	post d.Entries to the ledger in one command, with d.Card as the card's
//	new tariff state, guarded by the card's version as every charge is
//	d2 := eng.Correct(card, journeyID, now) // CardService.RequestCorrection
//	card, refusal := eng.TopUp(card, balance, amount, now) // e-purse limits of a top-up
//
// Persist d.Card only together with the money of d.Entries, in the same
// ledger command: a state without its money (or the reverse) would price the
// next tap wrongly. A declined Decision carries the state given, unchanged.
//
// # Transport rules, in short
//
// A check-in charges the fare to the end of the line in the vehicle's
// direction (the farther end when unknown) after concession and caps; the
// check-out on the same line within OpenMinutesMax refunds the difference to
// the fare of the distance ridden. Any other transport tap ends an open
// journey: if it is at another stop of the journey's line within
// AutoCorrectMinutes, that proves where the passenger got off and the
// journey is corrected automatically; otherwise the charge stands and the
// journey is kept as incomplete, for the holder to ask a correction (Correct:
// within RequestDaysMax days, at most RequestsPer30DaysMax in 30 days,
// re-priced as the shortest ride). A valid time ticket or season pass covers
// a ride or a check-in at zero, still recorded. Caps count every capped
// fare of the local day and ISO week, a journey on the day it started.
//
// Money is int64 grosz throughout; every price is bounded (at most PLN
// 100,000 by Validate), so no product of a price and a quantity, step count
// or percentage can overflow.
package tariff
