package tariff

import (
	"fmt"

	"civicard/domain/purse"
)

// Correct decides a holder's request to correct an incomplete journey
// (CardService.RequestCorrection): by rule, not by hand. The journey must be
// one the card holds as incomplete (a check-in still open for longer than
// OpenMinutesMax becomes incomplete first), asked for within
// RequestDaysMax days of the check-in, and the card granted fewer than
// RequestsPer30DaysMax corrections in the last 30 days. The journey is then
// priced as the shortest ride (the first band) with the concession it was
// checked in with, and the rest of the check-in charge refunded.
func (e *Engine) Correct(card CardState, journeyID string, nowUnixMs int64) Decision {
	if nowUnixMs < tapTimeMinUnixMs || nowUnixMs >= tapTimeMaxUnixMs {
		return Decision{Decline: DeclineTime, Reason: fmt.Sprintf("time %d ms is not between 2000 and 2200", nowUnixMs), Card: card}
	}
	x := &tariff{e: e, tap: Tap{TimeUnixMs: nowUnixMs}, date: When(nowUnixMs), card: card.clone(), p: &Product{}}
	x.prune()
	rules := e.r.Journeys
	if j := x.card.Journey; j.Active() && nowUnixMs-j.StartUnixMs > int64(rules.OpenMinutesMax)*msPerMinute {
		x.card.Journey = Journey{}
		x.card.Incomplete = append(x.card.Incomplete, j)
		if len(x.card.Incomplete) > IncompleteMax {
			x.card.Incomplete = x.card.Incomplete[1:]
		}
	}
	i := -1
	for k, j := range x.card.Incomplete {
		if j.ID == journeyID {
			i = k
		}
	}
	if i < 0 {
		return Decision{Decline: DeclineNoJourney, Reason: fmt.Sprintf("no incomplete journey %q on the card (too old, already corrected, or never incomplete)", journeyID), Card: card}
	}
	j := x.card.Incomplete[i]
	start := When(j.StartUnixMs)
	if age := x.date.Day - start.Day; age > int32(rules.RequestDaysMax) {
		return Decision{Decline: DeclineCorrection, Reason: fmt.Sprintf("asked %d days after the journey, at most %d", age, rules.RequestDaysMax), Card: card}
	}
	if n := len(x.card.Corrections); n >= int(rules.RequestsPer30DaysMax) {
		return Decision{Decline: DeclineCorrection, Reason: fmt.Sprintf("%d corrections granted in the last 30 days, at most %d", n, rules.RequestsPer30DaysMax), Card: card}
	}
	x.card.Incomplete = append(x.card.Incomplete[:i], x.card.Incomplete[i+1:]...)
	x.card.Corrections = append(x.card.Corrections, x.date.Day)
	shortest := reduce(e.r.Network.Bands[0].PriceMinor, e.r.concession(j.Concession))
	final := min(shortest, j.ChargedMinor)
	refund := j.ChargedMinor - final
	x.uncap(refund, start)
	x.explain("journey on %s from %s on %s %s priced as the shortest ride %s: refund %s", j.Line, stopName(e.r.line(j.Line), j.Stop), dayString(start.Day), clock(j.StartUnixMs), zl(final), zl(refund))
	x.entryFor(j.InstitutionID, j.Product, -refund, "correction on request")
	counters, _ := purse.CheckCharge(e.r.Purse, x.card.Purse, purse.Charge{AmountMinor: -refund, Bearer: x.card.Bearer, Month: x.date.Month})
	x.card.Purse = counters
	x.d.Accepted = true
	x.d.Card = x.card
	return x.d
}

// TopUp checks a top-up of amountMinor onto a card holding balanceMinor
// against the e-purse limits, and returns the state after it.
func (e *Engine) TopUp(card CardState, balanceMinor, amountMinor, nowUnixMs int64) (CardState, *purse.Refusal) {
	counters, refusal := purse.CheckTopUp(e.r.Purse, card.Purse, purse.TopUp{AmountMinor: amountMinor, BalanceMinor: balanceMinor, Year: When(nowUnixMs).Year})
	if refusal != nil {
		return card, refusal
	}
	card = card.clone()
	card.Purse = counters
	return card, nil
}
