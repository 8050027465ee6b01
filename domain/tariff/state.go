package tariff

import "civicard/domain/purse"

// CardState is everything about a card that pricing depends on, and nothing
// else (the balance is the ledger's). It is plain data: the ledger stores it
// per card, and the engine given the same state, price lists and taps gives
// the same answers, so a card's pricing replays from its history. Every list
// has a named maximum, so the state of any card is at most a few KiB.
//
// The engine never changes a CardState it is given: Decision.Card is a new
// value whose lists do not share memory with the old one's.
type CardState struct {
	// Bearer is true for an anonymous card (the monthly spending limit).
	Bearer bool
	// Entitlements: concessions the holder has, with validity.
	// At most EntitlementsMax.
	Entitlements []Entitlement
	// Passes: season passes bought. Expired ones are dropped at the next
	// tap. At most PassesMax.
	Passes []Pass
	// Ticket is the latest zone-time ticket; zero when none was bought.
	Ticket TimeTicket
	// Journey is the check-in not yet checked out; zero when none.
	Journey Journey
	// Stays are open tap-ins at pools, rinks and car parks, one per
	// institution and product. At most StaysMax.
	Stays []Stay
	// Incomplete journeys: checked in, never checked out, not corrected
	// automatically; a holder may ask for a correction. Older than
	// JourneyRules.RequestDaysMax ones are dropped. At most IncompleteMax;
	// when full the oldest is dropped.
	Incomplete []Journey
	// Corrections: the days on which requested corrections were granted,
	// for JourneyRules.RequestsPer30DaysMax. At most requestsLimit.
	Corrections []int32
	// Caps counts the capped fares of the current day and week.
	Caps CapCounters
	// Purse counts spending and top-ups for the e-purse limits.
	Purse purse.Counters
}

// Bounds of a CardState.
const (
	EntitlementsMax = 8
	PassesMax       = 8
	StaysMax        = 4
	IncompleteMax   = 8
)

// Entitlement is a concession held by a personalised card.
type Entitlement struct {
	// Concession is the region-wide code, e.g. "STUDENT".
	Concession string
	// FromDay and UntilDay (day keys, inclusive) as the issuing institution
	// certified: a school year, a disability decision.
	FromDay, UntilDay int32
	// Issuer is who certified it, e.g. a school or the city's social office.
	Issuer string
}

// Pass is a season pass on the card.
type Pass struct {
	Product       string
	InstitutionID string
	// FromDay and UntilDay are day keys, inclusive.
	FromDay, UntilDay int32
	// Lines it covers; empty: all.
	Lines []string
}

// TimeTicket is a zone-time ticket.
type TimeTicket struct {
	Product       string
	InstitutionID string
	// UntilUnixMs: taps before this ride on it.
	UntilUnixMs int64
}

// Journey is a check-in on a line.
type Journey struct {
	// ID is the check-in tap's id.
	ID            string
	InstitutionID string
	Product       string
	Line          string
	Stop          string
	// Direction: +1 towards the line's last stop, -1 towards its first,
	// 0 unknown (charged to the farther end).
	Direction   int8
	StartUnixMs int64
	// FareMaxMinor is the end-of-line fare after concession, before caps.
	FareMaxMinor int64
	// ChargedMinor is what the check-in took, after caps.
	ChargedMinor int64
	// Pass names the season pass it rode on; ChargedMinor is then 0.
	Pass string
	// Concession applied at check-in, for the same at check-out.
	Concession string
}

// Active reports whether j is a journey (not the zero value).
func (j Journey) Active() bool { return j.Line != "" }

// Stay is an open tap-in at a pool, a rink or a car park.
type Stay struct {
	ID            string
	InstitutionID string
	Product       string
	StartUnixMs   int64
}

// CapCounters is what the card paid for capped fares in a day and a week.
// Invariant: 0 <= DaySpentMinor <= the day's cap, likewise the week.
type CapCounters struct {
	Day            int32
	DaySpentMinor  int64
	Week           int32
	WeekSpentMinor int64
}

// clone returns a copy of s that shares no list with it.
func (s CardState) clone() CardState {
	s.Entitlements = clip(s.Entitlements)
	s.Passes = clip(s.Passes)
	s.Stays = clip(s.Stays)
	s.Incomplete = clip(s.Incomplete)
	s.Corrections = clip(s.Corrections)
	return s
}

// clip copies a list into one of its own, nil for an empty one. Pass.Lines
// is shared: it is never changed in place.
func clip[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// Replace returns the tariff state a replacement card starts with: all of
// the old card's. Entitlements, passes, a valid ticket, the journey in
// progress, open stays, incomplete journeys, granted corrections and every
// counter move to the new card, so that nothing is bought twice, no cap or
// limit starts again by replacing a card, and a journey checked in with the
// lost card is checked out with the new one. The ledger applies it in the
// same command that moves the balance and blocks the old card.
func Replace(old CardState) CardState {
	return old.clone()
}
