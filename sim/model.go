package sim

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"civicard/domain/tariff"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/sim/demo"
)

// DayConfig describes one day of the city: who uses their card, and which
// parts of the system the day exercises.
type DayConfig struct {
	// Seed picks the day: the same seed, city and config give the same
	// events.
	Seed uint64
	// Riders is how many cards are used during the day, each by one
	// person; at most the city's cards and RidersMax.
	Riders int
	// CheckInOut makes riders on the network's lines check in and out
	// ("CICO" with line, stop and direction) instead of buying a time
	// ticket.
	CheckInOut bool
	// Passes makes some pass holders renew their 30-day pass ("PASS-30D").
	Passes bool
	// ForgottenCheckOutPercent of check-in/check-out journeys never check
	// out.
	ForgottenCheckOutPercent int
	// LostCards are reported lost and blocked between 10:00 and 15:00; the
	// finder keeps tapping them.
	LostCards int
	// OfflineTerminals lose their connection for 20 to 90 minutes of the
	// day and keep taking taps, which they upload when back.
	OfflineTerminals int
}

// Limits of a day.
const (
	RidersMax = 1_000_000
	// eventsPerRiderMax bounds what one rider does in a day (top-ups, two
	// journeys of two taps, a pass, two errands with a ride each).
	eventsPerRiderMax = 12
)

// DefaultDayConfig is a day in which a tenth of a city of cards is used.
func DefaultDayConfig(cards int) DayConfig {
	return DayConfig{
		Seed:                     1,
		Riders:                   max(1, cards/10),
		CheckInOut:               true,
		Passes:                   true,
		ForgottenCheckOutPercent: 4,
		LostCards:                max(1, cards/10/1000),
	}
}

// Validate reports what cannot work for a city with cards cards and
// terminals terminals.
func (c DayConfig) Validate(cards, terminals int) error {
	var errs []error
	if c.Riders < 1 || c.Riders > min(cards, RidersMax) {
		errs = append(errs, fmt.Errorf("sim: Riders %d outside [1, %d]", c.Riders, min(cards, RidersMax)))
	}
	if c.ForgottenCheckOutPercent < 0 || c.ForgottenCheckOutPercent > 100 {
		errs = append(errs, fmt.Errorf("sim: ForgottenCheckOutPercent %d outside [0, 100]", c.ForgottenCheckOutPercent))
	}
	if c.LostCards < 0 || c.LostCards > c.Riders {
		errs = append(errs, fmt.Errorf("sim: LostCards %d outside [0, Riders]", c.LostCards))
	}
	if c.OfflineTerminals < 0 || c.OfflineTerminals > terminals {
		errs = append(errs, fmt.Errorf("sim: OfflineTerminals %d outside [0, %d]", c.OfflineTerminals, terminals))
	}
	return errors.Join(errs...)
}

// EventKind says what happens.
type EventKind uint8

const (
	// EventTap is a card presented at a terminal.
	EventTap EventKind = iota + 1
	// EventTopUp is money put onto a card (portal or desk).
	EventTopUp
	// EventBlock is a card reported lost and blocked.
	EventBlock
	// EventOffline is a terminal losing its connection to the gateways.
	EventOffline
	// EventOnline is the terminal's connection back.
	EventOnline
)

func (k EventKind) String() string {
	switch k {
	case EventTap:
		return "tap"
	case EventTopUp:
		return "top-up"
	case EventBlock:
		return "block"
	case EventOffline:
		return "offline"
	case EventOnline:
		return "online"
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event is one thing that happens during the day.
type Event struct {
	// At is virtual time since the day's midnight.
	At   time.Duration
	Kind EventKind
	// Card is the card number (tap, top-up, block).
	Card string
	// Terminal indexes the city's terminals (tap, offline, online).
	Terminal int
	// Sequence numbers the taps of a terminal during the day from 1, in
	// the order of the events.
	Sequence uint64
	// Service and Quantity are what a tap buys; empty for the default.
	Service  string
	Quantity uint32
	// Line, Stop and Direction place a check-in or check-out.
	Line, Stop string
	Direction  int32
	// AmountMinor is a top-up's amount.
	AmountMinor int64
}

// streamDay is the PCG stream of the day's draws.
const streamDay = 0x646179 // "day"

// Plan returns the events of a day in the city, in time order. It is pure:
// the same city, network and config give the same events.
func Plan(city *demo.Dataset, network tariff.Network, cfg DayConfig) ([]Event, error) {
	if err := cfg.Validate(len(city.Cards), len(city.Terminals)); err != nil {
		return nil, err
	}
	p := newPlanner(city, network, cfg)
	for _, i := range p.pick(len(city.Cards), cfg.Riders) {
		p.rider(city.Cards[i])
	}
	p.loseCards()
	p.offlinePeriods()
	events := p.events
	slices.SortStableFunc(events, func(a, b Event) int { return cmp.Compare(a.At, b.At) })
	next := make([]uint64, len(city.Terminals))
	for i := range events {
		if events[i].Kind == EventTap {
			next[events[i].Terminal]++
			events[i].Sequence = next[events[i].Terminal]
		}
	}
	return events, nil
}

// planner holds the city as the model needs it.
type planner struct {
	cfg  DayConfig
	r    *rand.Rand
	city *demo.Dataset
	// byKind lists the terminals of each service kind; validators only
	// for transport (no train).
	byKind map[civicardv1.ServiceKind][]int
	// rail are the terminals of train operators.
	rail []int
	// institution is each terminal's institution.
	institution []*civicardv1.Institution
	lines       []lineTerminals
	events      []Event
	// riders are the cards used today, for lost cards to be picked from.
	riders []string
}

type lineTerminals struct {
	line      tariff.Line
	terminals []int
}

func newPlanner(city *demo.Dataset, network tariff.Network, cfg DayConfig) *planner {
	p := &planner{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, streamDay)), city: city,
		byKind: map[civicardv1.ServiceKind][]int{}}
	insts := map[string]*civicardv1.Institution{}
	for _, inst := range city.Institutions {
		insts[inst.GetInstitutionId()] = inst
	}
	byInstitution := map[string][]int{}
	for i, t := range city.Terminals {
		inst := insts[t.Terminal.GetInstitutionId()]
		p.institution = append(p.institution, inst)
		byInstitution[inst.GetInstitutionId()] = append(byInstitution[inst.GetInstitutionId()], i)
		switch {
		case sells(inst, "TRAIN-10KM"):
			p.rail = append(p.rail, i)
		default:
			p.byKind[inst.GetKind()] = append(p.byKind[inst.GetKind()], i)
		}
	}
	for _, l := range network.Lines {
		if ts := byInstitution[l.InstitutionID]; len(ts) > 0 && len(l.Stops) > 1 {
			p.lines = append(p.lines, lineTerminals{line: l, terminals: ts})
		}
	}
	return p
}

func sells(inst *civicardv1.Institution, code string) bool {
	return slices.ContainsFunc(inst.GetServices(), func(s *civicardv1.Service) bool { return s.GetCode() == code })
}

// pick returns k distinct indices below n, in the order drawn.
func (p *planner) pick(n, k int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := range k {
		j := i + p.r.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:k]
}

// persona is how a rider pays.
type persona uint8

const (
	personaNormal persona = iota
	// personaConcession rides and swims at the reduced price.
	personaConcession
	// personaPass holds a 30-day transport pass.
	personaPass
)

// Times of the day.
const (
	minute = time.Minute
	hour   = time.Hour
)

func (p *planner) rider(card demo.CardSeed) {
	p.riders = append(p.riders, card.CardID)
	who := personaNormal
	switch d := p.r.IntN(100); {
	case d < 25:
		who = personaConcession
	case d < 35:
		who = personaPass
	}
	var first time.Duration
	start := len(p.events)
	if p.r.IntN(100) < 60 {
		first = p.commute(card.CardID, who)
	} else {
		first = p.errands(card.CardID, who)
	}
	// Most people with little money on the card top it up before they
	// go; the rest find out at the validator.
	if card.BalanceMinor < 1000 && p.r.IntN(100) < 85 {
		at := max(first-time.Duration(5+p.r.IntN(55))*minute, 5*minute)
		p.topUp(card.CardID, at)
	}
	if p.r.IntN(100) < 5 {
		p.topUp(card.CardID, time.Duration(8*60+p.r.IntN(12*60))*minute)
	}
	if len(p.events)-start > eventsPerRiderMax {
		panic(fmt.Sprintf("sim: rider %s has %d events, more than %d", card.CardID, len(p.events)-start, eventsPerRiderMax))
	}
}

func (p *planner) topUp(card string, at time.Duration) {
	amounts := []int64{2000, 5000, 5000, 10000}
	p.events = append(p.events, Event{At: at, Kind: EventTopUp, Card: card, AmountMinor: amounts[p.r.IntN(len(amounts))]})
}

// peak draws a time around mean with the given spread, within [lo, hi].
func (p *planner) peak(mean, spread, lo, hi time.Duration) time.Duration {
	t := mean + time.Duration(p.r.NormFloat64()*float64(spread))
	return min(max(t, lo), hi).Truncate(time.Second)
}

// between draws a time in [lo, hi).
func (p *planner) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(p.r.Int64N(int64(hi-lo))).Truncate(time.Second)
}

// commute is a journey to work or school in the morning peak and, mostly,
// one back in the afternoon peak. It returns the time of the first tap.
func (p *planner) commute(card string, who persona) time.Duration {
	out := p.peak(7*hour+30*minute, 45*minute, 5*hour, 10*hour+30*minute)
	if who == personaPass && p.cfg.Passes && p.r.IntN(100) < 10 {
		if ts := p.byKind[civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT]; len(ts) > 0 {
			p.tap(out-2*minute, card, ts[p.r.IntN(len(ts))], "PASS-30D", 1)
		}
	}
	back := p.trip(card, who, out, nil)
	if p.r.IntN(100) < 90 {
		p.trip(card, who, p.peak(16*hour+15*minute, 60*minute, 13*hour, 21*hour), back)
	}
	return out - 2*minute
}

// journey is a check-in/check-out ride, remembered for the way back.
type journey struct {
	line     int
	from, to int
}

// trip is one ride at time at. A ride on the network's lines checks in and
// out; the way back (reverse set) rides the same line the other way.
func (p *planner) trip(card string, who persona, at time.Duration, reverse *journey) *journey {
	if p.cfg.CheckInOut && len(p.lines) > 0 && (reverse != nil || p.r.IntN(100) < 50) {
		var j journey
		if reverse != nil {
			j = journey{line: reverse.line, from: reverse.to, to: reverse.from}
		} else {
			j.line = p.r.IntN(len(p.lines))
			n := len(p.lines[j.line].line.Stops)
			j.from = p.r.IntN(n)
			j.to = (j.from + 1 + p.r.IntN(n-1)) % n
		}
		lt := p.lines[j.line]
		term := lt.terminals[p.r.IntN(len(lt.terminals))]
		direction := int32(1)
		if j.to < j.from {
			direction = -1
		}
		from, to := lt.line.Stops[j.from], lt.line.Stops[j.to]
		p.events = append(p.events, Event{At: at, Kind: EventTap, Card: card, Terminal: term, Service: "CICO", Line: lt.line.ID, Stop: from.ID, Direction: direction})
		if p.r.IntN(100) >= p.cfg.ForgottenCheckOutPercent {
			metres := int64(to.Metres) - int64(from.Metres)
			ride := 2*minute + time.Duration(abs(metres)*int64(time.Minute)/333) // 20 km/h
			p.events = append(p.events, Event{At: at + ride.Truncate(time.Second), Kind: EventTap, Card: card, Terminal: term, Service: "CICO", Line: lt.line.ID, Stop: to.ID, Direction: direction})
		}
		return &j
	}
	if len(p.rail) > 0 && p.r.IntN(100) < 8 {
		code := []string{"TRAIN-10KM", "TRAIN-10KM", "TRAIN-20KM", "TRAIN-40KM"}[p.r.IntN(4)]
		if who == personaConcession && code == "TRAIN-10KM" {
			code = "TRAIN-10KM-R"
		}
		p.tap(at, card, p.rail[p.r.IntN(len(p.rail))], code, 1)
		return nil
	}
	p.ride(card, who, at)
	return nil
}

// ride buys a time ticket at a validator or ticket machine.
func (p *planner) ride(card string, who persona, at time.Duration) {
	ts := p.byKind[civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT]
	if len(ts) == 0 {
		return
	}
	code := []string{"RIDE-20MIN", "RIDE-20MIN", "RIDE-40MIN", "RIDE-90MIN"}[p.r.IntN(4)]
	if who == personaConcession {
		code += "-R"
	}
	p.tap(at, card, ts[p.r.IntN(len(ts))], code, 1)
}

// errand is a visit to an institution other than transport.
type errand struct {
	kind   civicardv1.ServiceKind
	weight int
	// open and close are its hours.
	open, close time.Duration
}

func errandKinds() []errand {
	return []errand{
		{civicardv1.ServiceKind_SERVICE_KIND_LIBRARY, 30, 10 * hour, 19 * hour},
		{civicardv1.ServiceKind_SERVICE_KIND_SPORT, 25, 6 * hour, 22 * hour},
		{civicardv1.ServiceKind_SERVICE_KIND_PARKING, 25, 8 * hour, 18 * hour},
		{civicardv1.ServiceKind_SERVICE_KIND_CITY_OFFICE, 10, 8 * hour, 16 * hour},
		{civicardv1.ServiceKind_SERVICE_KIND_CULTURE, 10, 10 * hour, 20 * hour},
	}
}

// errands are one or two visits in the institutions' hours, some reached
// by a ride. It returns the time of the first tap.
func (p *planner) errands(card string, who persona) time.Duration {
	kinds := errandKinds()
	total := 0
	for _, e := range kinds {
		total += e.weight
	}
	first := 24 * hour
	for range 1 + p.r.IntN(2) {
		d := p.r.IntN(total)
		e := kinds[0]
		for _, k := range kinds {
			if d < k.weight {
				e = k
				break
			}
			d -= k.weight
		}
		ts := p.byKind[e.kind]
		if len(ts) == 0 {
			continue
		}
		at := p.between(e.open, e.close)
		if p.r.IntN(100) < 30 && at > e.open+30*minute {
			p.ride(card, who, at-20*minute)
			first = min(first, at-20*minute)
		}
		term := ts[p.r.IntN(len(ts))]
		code, quantity, stay := p.purchase(p.institution[term], who)
		p.tap(at, card, term, code, quantity)
		if out := min(at+stay, e.close-minute); stay > 0 && out > at {
			// Priced by the stay: the same gate on the way out, before
			// closing time.
			p.tap(out, card, term, code, quantity)
		}
		first = min(first, at)
	}
	return first
}

// purchase is what a visitor buys at an institution, and for a service
// priced by the stay (a pool, a car park: tap in, tap out) how long the
// visit lasts.
func (p *planner) purchase(inst *civicardv1.Institution, who persona) (code string, quantity uint32, stay time.Duration) {
	pick := func(codes ...string) string {
		code := codes[p.r.IntN(len(codes))]
		if who == personaConcession && sells(inst, code+"-R") {
			code += "-R"
		}
		if !sells(inst, code) {
			return "" // the institution's default
		}
		return code
	}
	switch inst.GetKind() {
	case civicardv1.ServiceKind_SERVICE_KIND_LIBRARY:
		switch d := p.r.IntN(10); {
		case d < 4:
			return pick("PRINT-A4"), uint32(1 + p.r.IntN(20)), 0
		case d < 7:
			return pick("COPY-A4"), uint32(1 + p.r.IntN(10)), 0
		case d < 8:
			return pick("SCAN"), uint32(1 + p.r.IntN(5)), 0
		default:
			return pick("FINE-DAY"), uint32(1 + p.r.IntN(14)), 0
		}
	case civicardv1.ServiceKind_SERVICE_KIND_SPORT:
		if p.r.IntN(4) == 0 {
			return pick("ENTRY-DAY"), 1, 0
		}
		return pick("ENTRY-60MIN"), 1, time.Duration(40+p.r.IntN(110)) * minute
	case civicardv1.ServiceKind_SERVICE_KIND_PARKING:
		return pick("PARK-15MIN"), 1, time.Duration(10+p.r.IntN(230)) * minute
	case civicardv1.ServiceKind_SERVICE_KIND_CITY_OFFICE:
		services := inst.GetServices()
		return services[p.r.IntN(min(len(services), 5))].GetCode(), 1, 0
	case civicardv1.ServiceKind_SERVICE_KIND_CULTURE:
		code := "TICKET-NORMAL"
		switch {
		case who == personaConcession:
			code = "TICKET-REDUCED"
		case p.r.IntN(10) == 0:
			code = "TICKET-FAMILY"
		}
		return pick(code), 1, 0
	}
	return "", 1, 0
}

func (p *planner) tap(at time.Duration, card string, terminal int, code string, quantity uint32) {
	p.events = append(p.events, Event{At: at, Kind: EventTap, Card: card, Terminal: terminal, Service: code, Quantity: quantity})
}

// loseCards blocks some riders' cards mid-day. Nobody tops up a card after
// reporting it lost; its finder keeps tapping it.
func (p *planner) loseCards() {
	for _, i := range p.pick(len(p.riders), p.cfg.LostCards) {
		card := p.riders[i]
		at := p.between(10*hour, 15*hour)
		p.events = slices.DeleteFunc(p.events, func(e Event) bool { return e.Card == card && e.Kind == EventTopUp && e.At > at })
		p.events = append(p.events, Event{At: at, Kind: EventBlock, Card: card})
	}
}

// offlinePeriods takes terminals offline for 20 to 90 minutes of the day.
// A city has thousands of terminals and most take few taps, so a terminal
// picked at random would mostly be offline with nothing to queue: each
// outage is built around a tap drawn from the day instead (busy terminals
// more often), starting 1 to 19 minutes before it, so that the terminal
// takes at least that tap offline. Outages begin between 6:00 and 20:00.
// Terminals that take no tap then are picked only when too few take one.
func (p *planner) offlinePeriods() {
	var taps []Event
	for _, ev := range p.events {
		if ev.Kind == EventTap && ev.At >= 6*hour+20*minute && ev.At < 20*hour {
			taps = append(taps, ev)
		}
	}
	offline := make(map[int]bool, p.cfg.OfflineTerminals)
	outage := func(terminal int, at time.Duration) {
		offline[terminal] = true
		p.events = append(p.events,
			Event{At: at, Kind: EventOffline, Terminal: terminal},
			Event{At: at + time.Duration(20+p.r.IntN(71))*minute, Kind: EventOnline, Terminal: terminal})
	}
	for _, i := range p.pick(len(taps), len(taps)) {
		if len(offline) == p.cfg.OfflineTerminals {
			return
		}
		if tap := taps[i]; !offline[tap.Terminal] {
			outage(tap.Terminal, tap.At-time.Duration(1+p.r.IntN(19))*minute)
		}
	}
	for _, t := range p.pick(len(p.city.Terminals), len(p.city.Terminals)) {
		if len(offline) == p.cfg.OfflineTerminals {
			return
		}
		if !offline[t] {
			outage(t, p.between(6*hour, 20*hour))
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// ServiceKindOf names the kind of service of a terminal's institution, for
// reports: "transport", "library" ...
func ServiceKindOf(city *demo.Dataset, terminal int) string {
	id := city.Terminals[terminal].Terminal.GetInstitutionId()
	i, ok := slices.BinarySearchFunc(city.Institutions, id, func(inst *civicardv1.Institution, id string) int {
		return cmp.Compare(inst.GetInstitutionId(), id)
	})
	if !ok {
		return "unknown"
	}
	return KindName(city.Institutions[i].GetKind())
}

// KindName is a service kind in a word.
func KindName(k civicardv1.ServiceKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "SERVICE_KIND_"))
}
