package tariff

import (
	"fmt"
	"strconv"
)

// Transport: check-in/check-out distance fares, zone-time tickets, season
// passes, fare caps, and what becomes of a journey never checked out.

// capsFor returns the card's daily and weekly caps on a date after the best
// concession the capping honours; has* is false where no cap is set.
func (x *tariff) capsFor(at Date) (day, week int64, hasDay, hasWeek bool, c *Concession) {
	cp := x.e.r.Capping
	c = x.e.concessionFor(&x.card, cp.Concessions, at.Day)
	return reduce(cp.DailyMinor, c), reduce(cp.WeeklyMinor, c), cp.DailyMinor > 0, cp.WeeklyMinor > 0, c
}

// capped returns what of amount the card pays under the caps of the date,
// and counts it. A tap dated before the counters' day (a late upload from
// an offline terminal) is priced without a cap: its day's counter is gone.
func (x *tariff) capped(amount int64, at Date) int64 {
	cc := &x.card.Caps
	if cc.Day < at.Day {
		cc.Day, cc.DaySpentMinor = at.Day, 0
	}
	if cc.Week < at.Week {
		cc.Week, cc.WeekSpentMinor = at.Week, 0
	}
	if cc.Day != at.Day {
		return amount
	}
	day, week, hasDay, hasWeek, c := x.capsFor(at)
	charge := amount
	if hasDay && charge > day-cc.DaySpentMinor {
		room := max(0, day-cc.DaySpentMinor)
		x.explain("daily cap %s%s reached: -%s", zl(day), concessionNote(c), zl(charge-room))
		charge = room
	}
	if hasWeek && charge > week-cc.WeekSpentMinor {
		room := max(0, week-cc.WeekSpentMinor)
		x.explain("weekly cap %s%s reached: -%s", zl(week), concessionNote(c), zl(charge-room))
		charge = room
	}
	cc.DaySpentMinor += charge
	cc.WeekSpentMinor += charge
	return charge
}

// uncap takes back a charge counted on date at, for a refund.
func (x *tariff) uncap(amount int64, at Date) {
	cc := &x.card.Caps
	if cc.Day == at.Day {
		cc.DaySpentMinor = max(0, cc.DaySpentMinor-amount)
	}
	if cc.Week == at.Week {
		cc.WeekSpentMinor = max(0, cc.WeekSpentMinor-amount)
	}
}

func concessionNote(c *Concession) string {
	if c == nil {
		return ""
	}
	return " (" + c.Code + ")"
}

// covering returns the product a transport tap on line rides on without
// paying: a valid zone-time ticket, or a valid season pass for the line.
func (x *tariff) covering(line string) (product, note string) {
	if t := x.card.Ticket; t.UntilUnixMs > x.tap.TimeUnixMs {
		return t.Product, fmt.Sprintf("transfer on %s valid until %s", t.Product, x.moment(t.UntilUnixMs))
	}
	for _, p := range x.card.Passes {
		if p.FromDay > x.date.Day || p.UntilDay < x.date.Day {
			continue
		}
		if len(p.Lines) == 0 || contains(p.Lines, line) {
			return p.Product, fmt.Sprintf("season pass %s valid until %s", p.Product, dayString(p.UntilDay))
		}
	}
	return "", ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// settleOpenJourney ends a journey in progress that this tap does not check
// out: a tap on another line, a later tap than OpenMinutesMax, a zone-time
// ticket. If the tap is at another stop of the journey's line within
// AutoCorrectMinutes, that is where the passenger got off: the journey is
// priced as checked out there and the difference refunded. Otherwise the
// check-in charge stands and the journey is kept as incomplete.
func (x *tariff) settleOpenJourney() {
	j := x.card.Journey
	if !j.Active() {
		return
	}
	elapsed := x.tap.TimeUnixMs - j.StartUnixMs
	rules := x.e.r.Journeys
	if x.p.Rule == RuleDistance && x.tap.Line == j.Line && elapsed <= int64(rules.OpenMinutesMax)*msPerMinute {
		return // a check-out
	}
	x.card.Journey = Journey{}
	line := x.e.r.line(j.Line)
	if j.Pass != "" {
		x.explain("journey on %s from %s at %s on %s was not checked out: nothing to correct", j.Line, stopName(line, j.Stop), clock(j.StartUnixMs), j.Pass)
		return
	}
	if rules.AutoCorrect && line != nil && x.tap.Stop != "" && x.tap.Stop != j.Stop && elapsed <= int64(rules.AutoCorrectMinutes)*msPerMinute {
		if at := line.stopIndex(x.tap.Stop); at >= 0 {
			x.explain("journey on %s from %s at %s was not checked out; this tap at %s shows where it ended", j.Line, stopName(line, j.Stop), clock(j.StartUnixMs), line.Stops[at].Name)
			refund := x.finish(j, line, at)
			x.entryFor(j.InstitutionID, j.Product, -refund, "automatic correction")
			return
		}
	}
	if len(x.card.Incomplete) >= IncompleteMax {
		x.card.Incomplete = append(x.card.Incomplete[:0], x.card.Incomplete[1:]...)
	}
	x.card.Incomplete = append(x.card.Incomplete, j)
	x.explain("journey on %s from %s at %s was not checked out: the %s charged stands (incomplete)", j.Line, stopName(line, j.Stop), clock(j.StartUnixMs), zl(j.ChargedMinor))
}

func stopName(l *Line, id string) string {
	if l != nil {
		if i := l.stopIndex(id); i >= 0 {
			return l.Stops[i].Name
		}
	}
	return id
}

// finish prices journey j as ended at stop index at of its line and returns
// what to refund of its check-in charge: never negative, never more than
// the charge. The caps take back the check-in charge and count the final
// fare on the journey's own day.
func (x *tariff) finish(j Journey, line *Line, at int) int64 {
	from := line.stopIndex(j.Stop)
	if j.Pass != "" || from < 0 {
		x.explain("check-out at %s on %s: 0.00 PLN", line.Stops[at].Name, j.Pass)
		return 0
	}
	dist := absDiff(line.Stops[at].Metres, line.Stops[from].Metres)
	fare := x.e.r.Network.fare(dist)
	actual := reduce(fare, x.e.r.concession(j.Concession))
	if j.Concession != "" {
		x.explain("check-out at %s, %s from %s: fare %s, %s %s", line.Stops[at].Name, km(dist), line.Stops[from].Name, zl(fare), j.Concession, zl(actual))
	} else {
		x.explain("check-out at %s, %s from %s: fare %s", line.Stops[at].Name, km(dist), line.Stops[from].Name, zl(fare))
	}
	start := When(j.StartUnixMs)
	final := min(actual, j.ChargedMinor)
	if x.card.Caps.Day == start.Day {
		x.uncap(j.ChargedMinor, start)
		final = min(x.capped(actual, start), j.ChargedMinor)
	}
	refund := j.ChargedMinor - final
	x.explain("check-in took %s, the journey costs %s: refund %s", zl(j.ChargedMinor), zl(final), zl(refund))
	return refund
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func km(metres uint32) string {
	return strconv.FormatUint(uint64(metres/1000), 10) + "." + string(rune('0'+metres%1000/100)) + " km"
}

func (x *tariff) entryFor(inst, product string, amount int64, what string) {
	x.d.Entries = append(x.d.Entries, Entry{InstitutionID: inst, Product: product, AmountMinor: amount, What: what})
	x.d.AmountMinor += amount
}

// distance is a tap on a check-in/check-out validator.
func (x *tariff) distance() *Decision {
	line := x.e.r.line(x.tap.Line)
	if line == nil {
		d := x.decline(CardState{}, DeclineWhere, "no line %q in the network", x.tap.Line)
		return &d
	}
	if line.InstitutionID != x.list.InstitutionID {
		d := x.decline(CardState{}, DeclineWhere, "line %s is run by %s, not %s", line.ID, line.InstitutionID, x.list.InstitutionID)
		return &d
	}
	at := line.stopIndex(x.tap.Stop)
	if at < 0 {
		d := x.decline(CardState{}, DeclineWhere, "stop %q is not on line %s", x.tap.Stop, line.ID)
		return &d
	}
	x.settleOpenJourney()
	if j := x.card.Journey; j.Active() {
		x.card.Journey = Journey{}
		refund := x.finish(j, line, at)
		x.entryFor(j.InstitutionID, j.Product, -refund, "check-out")
		return nil
	}
	j := Journey{
		ID: x.tap.ID, InstitutionID: x.list.InstitutionID, Product: x.p.Code, Line: line.ID, Stop: x.tap.Stop,
		Direction: x.tap.Direction, StartUnixMs: x.tap.TimeUnixMs,
	}
	if product, note := x.covering(line.ID); product != "" {
		j.Pass = product
		x.card.Journey = j
		x.explain("check-in on %s at %s, %s: 0.00 PLN", line.ID, line.Stops[at].Name, note)
		x.entry(x.list.InstitutionID, 0, "check-in on "+product)
		return nil
	}
	end := farEnd(line, at, x.tap.Direction)
	dist := absDiff(line.Stops[end].Metres, line.Stops[at].Metres)
	fare := x.e.r.Network.fare(dist)
	x.explain("check-in on %s at %s: fare to the end of the line (%s, %s) %s", line.ID, line.Stops[at].Name, line.Stops[end].Name, km(dist), zl(fare))
	fare, c := x.withConcession(fare, x.date)
	if c != nil {
		j.Concession = c.Code
	}
	j.FareMaxMinor = fare
	j.ChargedMinor = fare
	if x.p.Capped {
		j.ChargedMinor = x.capped(fare, x.date)
	}
	x.card.Journey = j
	x.entry(x.list.InstitutionID, j.ChargedMinor, "check-in")
	return nil
}

// farEnd is the stop index a check-in is charged to: the last stop going
// forward, the first going back, the farther of the two when the direction
// is unknown.
func farEnd(l *Line, at int, dir int8) int {
	last := len(l.Stops) - 1
	switch {
	case dir > 0 && at < last:
		return last
	case dir < 0 && at > 0:
		return 0
	case at == last: // a terminus: the vehicle can only go back
		return 0
	case l.Stops[last].Metres-l.Stops[at].Metres >= l.Stops[at].Metres:
		return last
	default:
		return 0
	}
}

// timeTicket is a tap on a validator that sells zone-time tickets.
func (x *tariff) timeTicket() *Decision {
	x.settleOpenJourney()
	if x.units == 1 {
		if product, note := x.covering(x.tap.Line); product != "" {
			x.explain("%s: 0.00 PLN", note)
			x.entry(x.list.InstitutionID, 0, "ride on "+product)
			return nil
		}
	}
	price := x.p.PriceMinor * x.units // units <= 1000, price <= 10^7
	until := x.tap.TimeUnixMs + int64(x.p.Minutes)*msPerMinute
	if x.units > 1 {
		x.explain("%s %s for %d, valid until %s: %d × %s = %s (no concession or cap on group tickets)", x.p.Code, x.p.Name, x.units, x.moment(until), x.units, zl(x.p.PriceMinor), zl(price))
	} else {
		x.explain("%s %s valid until %s: %s", x.p.Code, x.p.Name, x.moment(until), zl(price))
		price, _ = x.withConcession(price, x.date)
	}
	if x.p.Capped && x.units == 1 {
		price = x.capped(price, x.date) // a cap is the holder's: group tickets are not capped
	}
	x.card.Ticket = TimeTicket{Product: x.p.Code, InstitutionID: x.list.InstitutionID, UntilUnixMs: until}
	x.entry(x.list.InstitutionID, price, "ticket")
	return nil
}

// pass sells a season pass. A pass bought while one of the same product is
// valid starts the day after it ends.
func (x *tariff) pass() *Decision {
	if len(x.card.Passes) >= PassesMax {
		d := x.decline(CardState{}, DeclineFull, "the card holds %d passes, the most it may", PassesMax)
		return &d
	}
	from := x.date.Day
	for _, p := range x.card.Passes {
		if p.Product == x.p.Code && p.UntilDay >= from {
			from = p.UntilDay + 1
		}
	}
	until := from + int32(x.p.Days) - 1
	scope := "all lines"
	if len(x.p.Lines) > 0 {
		scope = fmt.Sprintf("lines %v", x.p.Lines)
	}
	x.explain("%s %s, %s, valid %s to %s: %s", x.p.Code, x.p.Name, scope, dayString(from), dayString(until), zl(x.p.PriceMinor))
	price, _ := x.withConcession(x.p.PriceMinor, x.date)
	if x.p.Capped {
		price = x.capped(price, x.date)
	}
	x.card.Passes = append(x.card.Passes, Pass{Product: x.p.Code, InstitutionID: x.list.InstitutionID, FromDay: from, UntilDay: until, Lines: x.p.Lines})
	x.entry(x.list.InstitutionID, price, "season pass")
	return nil
}

// moment prints a time as 07:05 on the tap's day, with the date otherwise.
func (x *tariff) moment(unixMs int64) string {
	if d := When(unixMs).Day; d != x.date.Day {
		return dayString(d) + " " + clock(unixMs)
	}
	return clock(unixMs)
}
