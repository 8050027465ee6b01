package tariff_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"civicard/domain/tariff"
	"civicard/domain/tariff/tarifftest"
)

type fixture struct {
	engine *tariff.Engine
	lists  map[string]*tariff.PriceList
	region *tariff.Region
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	region, lists := tarifftest.City(t)
	engine, err := tariff.NewEngine(region)
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{engine: engine, lists: map[string]*tariff.PriceList{}, region: engine.Region()}
	for i := range lists {
		f.lists[lists[i].InstitutionID] = &lists[i]
	}
	return f
}

// Monday 2026-11-23 05:00 in Katowice (UTC+1).
const mondayMs = 1_795_406_400_000

var concessionCodes = []string{"", "STUDENT", "PUPIL", "SENIOR70", "LARGE-FAMILY"}

func randomCard(r *rand.Rand) tariff.CardState {
	c := tariff.CardState{}
	if code := concessionCodes[r.IntN(len(concessionCodes))]; code != "" {
		c.Entitlements = []tariff.Entitlement{{Concession: code, FromDay: 0, UntilDay: 1 << 30}}
	}
	return c
}

// randomTransportTap is a capped tap: a time ticket, or a check-in/out
// validator tap at a random stop of a random line.
func (f fixture) randomTransportTap(r *rand.Rand, ms int64) (*tariff.PriceList, tariff.Tap) {
	tap := tariff.Tap{TimeUnixMs: ms, PINVerified: true}
	if r.IntN(4) == 0 {
		tap.Product = []string{"RIDE-20MIN", "RIDE-40MIN", "RIDE-90MIN", "RIDE-24H", "RIDE-20MIN-R"}[r.IntN(5)]
		return f.lists[[]string{"KAT-TRA-01", "CHO-TRA-01", "SOS-TRA-01"}[r.IntN(3)]], tap
	}
	lines := f.region.Network.Lines
	line := lines[r.IntN(len(lines))]
	tap.Product = "CICO"
	tap.Line = line.ID
	tap.Stop = line.Stops[r.IntN(len(line.Stops))].ID
	tap.Direction = int8(r.IntN(3) - 1)
	return f.lists[line.InstitutionID], tap
}

// capFor is the cap a card's concession gives, as the engine must apply it.
func capFor(c tariff.CardState, f fixture, capMinor int64) int64 {
	best := uint32(0)
	for _, e := range c.Entitlements {
		for _, code := range f.region.Capping.Concessions {
			if code == e.Concession {
				for _, con := range f.region.Concessions {
					if con.Code == code && con.PercentOff > best {
						best = con.PercentOff
					}
				}
			}
		}
	}
	return (capMinor*int64(100-best) + 49) / 100
}

// TestCappingNeverChargesMoreThanTheCap: whatever capped taps a card makes
// over two weeks, with whatever concession, what it pays on any local day is
// at most its daily cap and in any week at most its weekly cap.
func TestCappingNeverChargesMoreThanTheCap(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(4, 2026))
	for run := range 300 {
		card := randomCard(r)
		dayCap := capFor(card, f, f.region.Capping.DailyMinor)
		weekCap := capFor(card, f, f.region.Capping.WeeklyMinor)
		byDay := map[int32]int64{}
		byWeek := map[int32]int64{}
		ms := int64(mondayMs)
		for range 80 {
			ms += int64(r.IntN(300)+1) * 60_000 // up to 5 hours later
			list, tap := f.randomTransportTap(r, ms)
			d := f.engine.Price(card, list, tap)
			if !d.Accepted {
				t.Fatalf("run %d: %+v declined: %s", run, tap, d.Reason)
			}
			card = d.Card
			w := tariff.When(ms)
			byDay[w.Day] += d.AmountMinor
			byWeek[w.Week] += d.AmountMinor
			if byDay[w.Day] > dayCap {
				t.Fatalf("run %d: day %d paid %d, cap %d (last tap %+v: %v)", run, w.Day, byDay[w.Day], dayCap, tap, d.Breakdown)
			}
			if byWeek[w.Week] > weekCap {
				t.Fatalf("run %d: week %d paid %d, cap %d", run, w.Week, byWeek[w.Week], weekCap)
			}
		}
	}
}

// TestCheckInOutNeverMoreThanEndOfLine: from any stop, in any direction,
// with any concession and any spending already counted towards the caps, a
// check-in and its check-out together charge at least 0 and at most the
// fare to the end of the line; the check-in charges, the check-out refunds.
func TestCheckInOutNeverMoreThanEndOfLine(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(6, 11))
	bands := f.region.Network.Bands
	endOfLineMax := bands[len(bands)-1].PriceMinor
	for run := range 3000 {
		card := randomCard(r)
		ms := int64(mondayMs) + int64(r.IntN(7*24*60))*60_000
		// Some earlier rides that day, so the caps are somewhere.
		for range r.IntN(6) {
			list, tap := f.randomTransportTap(r, ms)
			if d := f.engine.Price(card, list, tap); d.Accepted {
				card = d.Card
			}
			ms += int64(r.IntN(60)+1) * 60_000
		}
		// Close whatever is open with a tap elsewhere, far enough later.
		ms += 4 * 60 * 60_000
		if d := f.engine.Price(card, f.lists["SOS-TRA-01"], tariff.Tap{TimeUnixMs: ms}); d.Accepted {
			card = d.Card
		}
		ms += 60 * 60_000
		lines := f.region.Network.Lines
		line := lines[r.IntN(len(lines))]
		from := r.IntN(len(line.Stops))
		dir := int8(r.IntN(3) - 1)
		in := f.engine.Price(card, f.lists[line.InstitutionID], tariff.Tap{TimeUnixMs: ms, Product: "CICO", Line: line.ID, Stop: line.Stops[from].ID, Direction: dir})
		if !in.Accepted {
			t.Fatalf("run %d: check-in declined: %s", run, in.Reason)
		}
		ms += int64(r.IntN(110)+1) * 60_000
		to := r.IntN(len(line.Stops))
		out := f.engine.Price(in.Card, f.lists[line.InstitutionID], tariff.Tap{TimeUnixMs: ms, Product: "CICO", Line: line.ID, Stop: line.Stops[to].ID})
		if !out.Accepted {
			t.Fatalf("run %d: check-out declined: %s", run, out.Reason)
		}
		// The end of the line: the vehicle's way, the farther end when the
		// direction is unknown or points off a terminus.
		last := len(line.Stops) - 1
		end := 0
		switch {
		case dir > 0 && from < last, dir == 0 && from == 0:
			end = last
		case dir < 0 && from > 0, from == last:
			end = 0
		case line.Stops[last].Metres-line.Stops[from].Metres >= line.Stops[from].Metres:
			end = last
		}
		endFare := fareOf(bands, absDiff(line.Stops[end].Metres, line.Stops[from].Metres))
		total := in.AmountMinor + out.AmountMinor
		switch {
		case in.AmountMinor < 0 || out.AmountMinor > 0:
			t.Fatalf("run %d: check-in %d, check-out %d: want a charge, then a refund", run, in.AmountMinor, out.AmountMinor)
		case total < 0 || total > endFare || total > endOfLineMax:
			t.Fatalf("run %d: %s %s→%s dir %d paid %d, end-of-line fare %d\n%v\n%v", run, line.ID, line.Stops[from].ID, line.Stops[to].ID, dir, total, endFare, in.Breakdown, out.Breakdown)
		case total > fareOf(bands, absDiff(line.Stops[to].Metres, line.Stops[from].Metres)):
			t.Fatalf("run %d: paid %d, more than the fare of the distance ridden", run, total)
		}
	}
}

func fareOf(bands []tariff.Band, d uint32) int64 {
	for _, b := range bands {
		if d <= b.UpToMetres {
			return b.PriceMinor
		}
	}
	return bands[len(bands)-1].PriceMinor
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestPriceDoesNotChangeItsInput: the state given is never modified, so a
// grain may price again after a stale version and get the same answer.
func TestPriceDoesNotChangeItsInput(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(8, 8))
	card := randomCard(r)
	ms := int64(mondayMs)
	for i := range 500 {
		ms += int64(r.IntN(200)+1) * 60_000
		list, tap := f.randomTransportTap(r, ms)
		before := snapshot(card)
		d1 := f.engine.Price(card, list, tap)
		d2 := f.engine.Price(card, list, tap)
		if snapshot(card) != before {
			t.Fatalf("tap %d changed the state it was given", i)
		}
		if snapshot(d1.Card) != snapshot(d2.Card) || d1.AmountMinor != d2.AmountMinor {
			t.Fatalf("tap %d: two pricings of the same tap differ", i)
		}
		card = d1.Card
	}
}

func snapshot(c tariff.CardState) string {
	return fmtState(c)
}

func fmtState(c tariff.CardState) string {
	return fmtAny(c)
}

// TestAnyTapKeepsTheInvariants: any product of any institution, tapped in
// any order at any time (clocks of offline terminals go backwards too),
// never panics, and every answer keeps the engine's promises: the amount is
// the sum of the entries, the state stays within its bounds, a decline
// changes nothing, and no single tap charges more than a purchase may cost.
func TestAnyTapKeepsTheInvariants(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for id := range f.lists {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	r := rand.New(rand.NewPCG(12, 34))
	for run := range 200 {
		card := randomCard(r)
		card.Bearer = r.IntN(3) == 0
		ms := int64(mondayMs)
		for range 60 {
			ms += int64(r.IntN(24*60)-120) * 60_000
			list := f.lists[ids[r.IntN(len(ids))]]
			tap := tariff.Tap{TimeUnixMs: ms, Quantity: uint32(r.IntN(4)), PINVerified: r.IntN(2) == 0}
			if r.IntN(10) > 0 {
				tap.Product = list.Products[r.IntN(len(list.Products))].Code
			}
			if lines := f.region.Network.Lines; r.IntN(2) == 0 {
				l := lines[r.IntN(len(lines))]
				tap.Line, tap.Stop, tap.Direction = l.ID, l.Stops[r.IntN(len(l.Stops))].ID, int8(r.IntN(3)-1)
			}
			before := fmtState(card)
			d := f.engine.Price(card, list, tap)
			if !d.Accepted {
				refused := d.Decline == tariff.DeclineLimit || d.Decline == tariff.DeclineAmount
				if fmtState(d.Card) != before || (d.AmountMinor != 0) != (refused && d.AmountMinor > 0) || d.AmountMinor < 0 || len(d.Entries) != 0 {
					t.Fatalf("run %d: a decline changed something: %+v", run, d)
				}
				continue
			}
			var sum int64
			for _, e := range d.Entries {
				sum += e.AmountMinor
			}
			if sum != d.AmountMinor || d.AmountMinor > f.region.Limits.AmountMaxMinor {
				t.Fatalf("run %d: amount %d, entries %d: %+v", run, d.AmountMinor, sum, d)
			}
			if err := d.Card.Validate(); err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			if len(d.Breakdown) == 0 {
				t.Fatalf("run %d: no breakdown for %+v", run, tap)
			}
			card = d.Card
		}
	}
}
