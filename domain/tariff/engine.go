package tariff

import (
	"errors"
	"fmt"
	"strconv"

	"civicard/domain/purse"
)

// Engine prices taps under one region. It holds only the validated Region,
// never changes it, and is safe for concurrent use.
type Engine struct {
	r Region
}

// NewEngine validates r and returns an engine for it. The engine keeps r;
// the caller must not change it afterwards.
func NewEngine(r Region) (*Engine, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &Engine{r: r}, nil
}

// Region returns the region the engine prices under. Read only.
func (e *Engine) Region() *Region { return &e.r }

// Tap is one presentation of the card at a terminal, with what the terminal
// knows: what is bought, where and when.
type Tap struct {
	// ID is the tap's idempotency key ("tap/<terminal>/<seq>"); it names a
	// journey or a stay begun by this tap.
	ID string
	// TimeUnixMs is when the card was presented.
	TimeUnixMs int64
	// Product is a code of the institution's price list; "" the first.
	Product string
	// Quantity of units; 0 means 1.
	Quantity uint32
	// Line and Stop: where a transport validator is (its vehicle's line,
	// the stop it is at). Required for RuleDistance.
	Line, Stop string
	// Direction of the vehicle: +1 towards the last stop, -1 towards the
	// first, 0 unknown.
	Direction int8
	// PINVerified: the terminal verified the holder's PIN.
	PINVerified bool
	// Offline: the terminal accepted the tap without reaching the system and
	// uploads it now; the service was given, so the e-purse limits are
	// counted but not enforced (the ledger records what the balance cannot
	// cover as debt).
	Offline bool
}

// Bounds of a tap's time: day keys of the calendar fit an int32 and no sum
// of times overflows.
const (
	tapTimeMinUnixMs = 946_684_800_000   // 2000-01-01
	tapTimeMaxUnixMs = 7_258_118_400_000 // 2200-01-01
)

// DeclineReason says why the engine declined. A decline changes nothing.
type DeclineReason uint8

const (
	DeclineNone DeclineReason = iota
	// DeclineNoProduct: no such product in the institution's price list.
	DeclineNoProduct
	// DeclineQuantity: too many units, or more than one of a product sold
	// singly.
	DeclineQuantity
	// DeclineAmount: the price is over Limits.AmountMaxMinor.
	DeclineAmount
	// DeclineWhere: a transport tap without a known line and stop, or on a
	// line of another operator.
	DeclineWhere
	// DeclineTime: a tap time outside 2000..2200.
	DeclineTime
	// DeclineFull: the card holds the most passes or open stays it may.
	DeclineFull
	// DeclineLimit: an e-purse limit; Decision.Limit says which.
	DeclineLimit
	// DeclineNoJourney: a correction asked for a journey the card does not
	// hold as incomplete.
	DeclineNoJourney
	// DeclineCorrection: the correction rule refused (too late, too many).
	DeclineCorrection
	declineEnd
)

var declineNames = [...]string{"none", "no such product", "quantity", "amount", "where", "time", "card full", "limit", "no such journey", "correction refused"}

func (d DeclineReason) String() string {
	if d < declineEnd {
		return declineNames[d]
	}
	return fmt.Sprintf("DeclineReason(%d)", d)
}

// Entry is one movement of money a decision asks the ledger for: the card
// pays an institution (AmountMinor > 0), is refunded by one (< 0), or a
// use is recorded at no charge (0).
type Entry struct {
	InstitutionID string
	Product       string
	AmountMinor   int64
	// What, for the holder's statement: "check-in", "check-out refund",
	// "automatic correction", "season pass" ...
	What string
}

// Decision is the engine's answer.
type Decision struct {
	Accepted bool
	// Decline and Reason say why not; Limit which e-purse limit when
	// Decline is DeclineLimit.
	Decline DeclineReason
	Limit   purse.Reason
	Reason  string
	// AmountMinor is the net the card pays: the sum of Entries' amounts.
	// Negative: a refund. When declined for the amount or a limit, what the
	// tap would have cost (the ledger records it as refused); otherwise 0.
	AmountMinor int64
	// Entries in the order they happened (a correction of an earlier
	// journey before the new check-in).
	Entries []Entry
	// Card is the tariff state after the tap; when declined, the state
	// given.
	Card CardState
	// Breakdown explains the amount, a line a step, fit to show.
	Breakdown []string
}

// ErrState is returned by CardState.Validate.
var ErrState = errors.New("tariff: invalid card state")

// Validate checks the bounds of a stored state, e.g. after reading it back.
func (s *CardState) Validate() error {
	switch {
	case len(s.Entitlements) > EntitlementsMax:
		return fmt.Errorf("%w: %d entitlements, at most %d", ErrState, len(s.Entitlements), EntitlementsMax)
	case len(s.Passes) > PassesMax:
		return fmt.Errorf("%w: %d passes, at most %d", ErrState, len(s.Passes), PassesMax)
	case len(s.Stays) > StaysMax:
		return fmt.Errorf("%w: %d stays, at most %d", ErrState, len(s.Stays), StaysMax)
	case len(s.Incomplete) > IncompleteMax:
		return fmt.Errorf("%w: %d incomplete journeys, at most %d", ErrState, len(s.Incomplete), IncompleteMax)
	case len(s.Corrections) > requestsLimit:
		return fmt.Errorf("%w: %d corrections, at most %d", ErrState, len(s.Corrections), requestsLimit)
	case s.Caps.DaySpentMinor < 0 || s.Caps.WeekSpentMinor < 0:
		return fmt.Errorf("%w: negative cap counters", ErrState)
	}
	return nil
}

// pricing is one decision in the making.
type tariff struct {
	e     *Engine
	list  *PriceList
	p     *Product
	tap   Tap
	date  Date
	card  CardState
	d     Decision
	units int64
}

func (x *tariff) explain(format string, args ...any) {
	x.d.Breakdown = append(x.d.Breakdown, fmt.Sprintf(format, args...))
}

func (x *tariff) entry(inst string, amount int64, what string) {
	x.d.Entries = append(x.d.Entries, Entry{InstitutionID: inst, Product: x.p.Code, AmountMinor: amount, What: what})
	x.d.AmountMinor += amount
}

func (x *tariff) decline(given CardState, reason DeclineReason, format string, args ...any) Decision {
	return Decision{Decline: reason, Reason: fmt.Sprintf(format, args...), Card: given}
}

// Price prices one tap of card at the institution of list. It is a pure
// function of its arguments and the engine's region.
func (e *Engine) Price(card CardState, list *PriceList, tap Tap) Decision {
	if tap.TimeUnixMs < tapTimeMinUnixMs || tap.TimeUnixMs >= tapTimeMaxUnixMs {
		return Decision{Decline: DeclineTime, Reason: fmt.Sprintf("tap time %d ms is not between 2000 and 2200", tap.TimeUnixMs), Card: card}
	}
	p, ok := list.Product(tap.Product)
	if !ok {
		inst := ""
		if list != nil {
			inst = list.InstitutionID
		}
		return Decision{Decline: DeclineNoProduct, Reason: fmt.Sprintf("%s does not sell %q", inst, tap.Product), Card: card}
	}
	x := &tariff{e: e, list: list, p: p, tap: tap, date: When(tap.TimeUnixMs), card: card.clone()}
	// Room for a usual answer in one allocation each: a correction and a
	// check-in; a fare, a concession, a cap and a refund line.
	x.d.Entries = make([]Entry, 0, 2)
	x.d.Breakdown = make([]string, 0, 5)
	q := tap.Quantity
	if q == 0 {
		q = 1
	}
	if q > e.r.Limits.QuantityMax {
		return x.decline(card, DeclineQuantity, "%d units of %s, at most %d", q, p.Code, e.r.Limits.QuantityMax)
	}
	if q > 1 && p.Rule != RuleUnit && p.Rule != RuleTimeTicket {
		return x.decline(card, DeclineQuantity, "%d units of %s, which is sold one at a time", q, p.Code)
	}
	x.units = int64(q)
	x.prune()
	var declined *Decision
	switch p.Rule {
	case RuleUnit:
		declined = x.unit()
	case RuleDistance:
		declined = x.distance()
	case RuleTimeTicket:
		declined = x.timeTicket()
	case RuleDuration:
		declined = x.duration()
	case RulePass:
		declined = x.pass()
	}
	if declined != nil {
		declined.Card = card
		return *declined
	}
	if x.d.AmountMinor > e.r.Limits.AmountMaxMinor {
		d := x.decline(card, DeclineAmount, "%s of %s is over the %s a purchase may cost", zl(x.d.AmountMinor), p.Code, zl(e.r.Limits.AmountMaxMinor))
		d.AmountMinor = x.d.AmountMinor
		return d
	}
	charge := purse.Charge{AmountMinor: x.d.AmountMinor, Bearer: x.card.Bearer, PINVerified: tap.PINVerified, Month: x.date.Month}
	counters, refusal := purse.CheckCharge(e.r.Purse, x.card.Purse, charge)
	if refusal != nil && tap.Offline {
		x.explain("accepted offline over the %s: %s", refusal.Reason, refusal.Error())
		counters, refusal = purse.Record(x.card.Purse, charge), nil
	}
	if refusal != nil {
		return Decision{Decline: DeclineLimit, Limit: refusal.Reason, Reason: refusal.Error(), Card: card, AmountMinor: x.d.AmountMinor}
	}
	x.card.Purse = counters
	x.d.Accepted = true
	x.d.Card = x.card
	return x.d
}

// prune drops what can no longer matter: expired passes and tickets,
// incomplete journeys too old to correct, corrections older than 30 days.
func (x *tariff) prune() {
	today := x.date.Day
	x.card.Passes = dropIf(x.card.Passes, func(p Pass) bool { return p.UntilDay < today })
	if x.card.Ticket.UntilUnixMs != 0 && x.card.Ticket.UntilUnixMs <= x.tap.TimeUnixMs {
		x.card.Ticket = TimeTicket{}
	}
	oldest := today - int32(x.e.r.Journeys.RequestDaysMax)
	x.card.Incomplete = dropIf(x.card.Incomplete, func(j Journey) bool { return When(j.StartUnixMs).Day < oldest })
	x.card.Corrections = dropIf(x.card.Corrections, func(d int32) bool { return d <= today-30 })
}

func dropIf[T any](s []T, drop func(T) bool) []T {
	out := s[:0]
	for _, v := range s {
		if !drop(v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// money helpers

// zl prints grosz as money.Format does ("-3.40 PLN"), without fmt: it is
// called a few times for every tap's breakdown.
func zl(minor int64) string {
	var buf [32]byte
	b := buf[:0]
	magnitude := uint64(minor)
	if minor < 0 {
		b = append(b, '-')
		magnitude = uint64(-(minor + 1)) + 1 // no overflow at math.MinInt64
	}
	b = strconv.AppendUint(b, magnitude/100, 10)
	b = append(b, '.', byte('0'+magnitude%100/10), byte('0'+magnitude%10), ' ', 'P', 'L', 'N')
	return string(b)
}

// reduce applies a concession: the price less PercentOff per cent, rounded
// to the nearest grosz, halves in the holder's favour. price <= 10^7 and
// percent <= 100, so the product stays far below int64's range.
func reduce(price int64, c *Concession) int64 {
	if c == nil {
		return price
	}
	return (price*int64(100-c.PercentOff) + 49) / 100
}

// concessionFor returns the best concession card holds on day among the
// codes honoured, nil if none.
func (e *Engine) concessionFor(card *CardState, honoured []string, day int32) *Concession {
	if card.Bearer {
		return nil // entitlements belong to a named holder
	}
	var best *Concession
	for _, ent := range card.Entitlements {
		if day < ent.FromDay || day > ent.UntilDay {
			continue
		}
		for _, code := range honoured {
			if code != ent.Concession {
				continue
			}
			if c := e.r.concession(code); c != nil && (best == nil || c.PercentOff > best.PercentOff) {
				best = c
			}
		}
	}
	return best
}

// withConcession reduces price by the best concession p honours, and says
// so in the breakdown. It returns the reduced price and the concession.
func (x *tariff) withConcession(price int64, at Date) (int64, *Concession) {
	c := x.e.concessionFor(&x.card, x.p.Concessions, at.Day)
	if c == nil {
		return price, nil
	}
	reduced := reduce(price, c)
	x.explain("concession %s (%d%% off): -%s", c.Code, c.PercentOff, zl(price-reduced))
	return reduced, c
}

// unit: price × quantity, at most the ceiling.
func (x *tariff) unit() *Decision {
	price := x.p.PriceMinor
	if price > x.e.r.Limits.AmountMaxMinor/x.units {
		d := x.decline(CardState{}, DeclineAmount, "%d × %s at %s is over the %s a purchase may cost", x.units, x.p.Code, zl(price), zl(x.e.r.Limits.AmountMaxMinor))
		return &d
	}
	total := price * x.units
	if x.units > 1 {
		x.explain("%s %s: %d × %s = %s", x.p.Code, x.p.Name, x.units, zl(price), zl(total))
	} else {
		x.explain("%s %s: %s", x.p.Code, x.p.Name, zl(total))
	}
	if x.p.CeilingMinor > 0 && total > x.p.CeilingMinor {
		x.explain("at most %s: -%s", zl(x.p.CeilingMinor), zl(total-x.p.CeilingMinor))
		total = x.p.CeilingMinor
	}
	total, _ = x.withConcession(total, x.date)
	if x.p.Capped {
		total = x.capped(total, x.date)
	}
	x.entry(x.list.InstitutionID, total, "purchase")
	return nil
}
