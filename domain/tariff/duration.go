package tariff

import "fmt"

// Stays: pools, rinks, gyms and car parks priced by the time between a tap
// in and a tap out, per started step, at most a ceiling per day.

// stayMaxMs: a stay still open a day after its tap-in was left without a
// tap out; it is charged one day and the tap starts a new stay.
const stayMaxMs = msPerDay

func (x *tariff) duration() *Decision {
	i := -1
	for k, s := range x.card.Stays {
		if s.InstitutionID == x.list.InstitutionID && s.Product == x.p.Code {
			i = k
			break
		}
	}
	if i >= 0 {
		s := x.card.Stays[i]
		x.card.Stays = append(x.card.Stays[:i], x.card.Stays[i+1:]...)
		elapsed := max(0, x.tap.TimeUnixMs-s.StartUnixMs)
		if elapsed <= stayMaxMs {
			x.stayOut(s, elapsed)
			return nil
		}
		x.explain("stay from %s %s was never tapped out: charged one day", dayString(When(s.StartUnixMs).Day), clock(s.StartUnixMs))
		x.charge(x.dayPrice(), When(s.StartUnixMs), "stay not tapped out")
	}
	if len(x.card.Stays) >= StaysMax {
		d := x.decline(CardState{}, DeclineFull, "the card has %d stays open, the most it may", StaysMax)
		return &d
	}
	x.card.Stays = append(x.card.Stays, Stay{ID: x.tap.ID, InstitutionID: x.list.InstitutionID, Product: x.p.Code, StartUnixMs: x.tap.TimeUnixMs})
	ceiling := ""
	if x.p.CeilingMinor > 0 {
		ceiling = fmt.Sprintf(", at most %s a day", zl(x.p.CeilingMinor))
	}
	x.explain("%s %s: in at %s; paid on the way out, %s per started %d min%s", x.p.Code, x.p.Name, clock(x.tap.TimeUnixMs), zl(x.p.PriceMinor), x.p.Minutes, ceiling)
	x.entry(x.list.InstitutionID, 0, "in")
	return nil
}

// dayPrice is what a whole day of the stay costs: the ceiling, or the steps
// of 24 hours without one.
func (x *tariff) dayPrice() int64 {
	if x.p.CeilingMinor > 0 {
		return x.p.CeilingMinor
	}
	return x.p.PriceMinor * int64(ceilDiv(msPerDay, int64(x.p.Minutes)*msPerMinute))
}

func (x *tariff) stayOut(s Stay, elapsed int64) {
	step := int64(x.p.Minutes) * msPerMinute
	steps := max(1, ceilDiv(elapsed, step)) // elapsed <= a day: steps <= 1440
	cost := steps * x.p.PriceMinor
	x.explain("in %s, out %s: %d min, %d × %d min at %s = %s", clock(s.StartUnixMs), clock(x.tap.TimeUnixMs), ceilDiv(elapsed, msPerMinute), steps, x.p.Minutes, zl(x.p.PriceMinor), zl(cost))
	if x.p.CeilingMinor > 0 && cost > x.p.CeilingMinor {
		x.explain("daily maximum %s: -%s", zl(x.p.CeilingMinor), zl(cost-x.p.CeilingMinor))
		cost = x.p.CeilingMinor
	}
	x.charge(cost, x.date, "out")
}

// charge adds an entry for cost after the concession and the caps.
func (x *tariff) charge(cost int64, at Date, what string) {
	cost, _ = x.withConcession(cost, at)
	if x.p.Capped {
		cost = x.capped(cost, at)
	}
	x.entry(x.list.InstitutionID, cost, what)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
