package tariff_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"civicard/domain/money"
	"civicard/domain/tariff"
	"civicard/domain/tariff/tapline"
	"civicard/domain/tariff/tarifftest"

	"github.com/cockroachdb/datadriven"
)

// scenariosMin is how many scenarios testdata/ must hold (issue 4).
const scenariosMin = 60

// TestScenarios runs the fare scenarios in testdata/*.txt against the
// region and price lists of tarifftest/city.json. Each file opens
// with a comment saying what it tests; each `run` block is one scenario,
// starting from a fresh card. `go test ./domain/tariff/ -run Scenarios
// -rewrite` refreshes the expectations (review the diff).
//
// Lines of a run:
//
//	card personal|bearer [CONCESSION:FROM..UNTIL ...]   a fresh card
//	day 2026-11-23                                      the date of what follows
//	tap HH:MM INSTITUTION [PRODUCT] [line=L stop=S dir=±1] [qty=N] [pin] [offline]
//	correct HH:MM TAP-ID                                 CardService.RequestCorrection
//	topup HH:MM AMOUNT balance=AMOUNT                    the e-purse limits of a top-up
//	state                                                the card's tariff state
//	replace                                              the card is replaced (tariff.Replace)
//
// Taps are numbered t1, t2, ... in the run; a journey is named by its
// check-in tap. Every accepted answer also checks the engine's own promises:
// the amount is the sum of the entries, and the state stays in its bounds.
func TestScenarios(t *testing.T) {
	region, lists := tarifftest.City(t)
	engine, err := tariff.NewEngine(region)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*tariff.PriceList{}
	for i := range lists {
		if err := lists[i].Validate(engine.Region()); err != nil {
			t.Fatal(err)
		}
		byID[lists[i].InstitutionID] = &lists[i]
	}
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	scenarios := 0
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				if d.Cmd != "run" {
					d.Fatalf(t, "unknown directive %q", d.Cmd)
				}
				scenarios++
				r := &runner{t: t, d: d, engine: engine, lists: byID}
				return r.run()
			})
		})
	}
	if !t.Failed() && scenarios < scenariosMin {
		t.Errorf("%d scenarios, want at least %d", scenarios, scenariosMin)
	}
	t.Logf("%d scenarios", scenarios)
}

type runner struct {
	t      *testing.T
	d      *datadriven.TestData
	engine *tariff.Engine
	lists  map[string]*tariff.PriceList
	card   tariff.CardState
	day    time.Time
	taps   int
	out    strings.Builder
}

func (r *runner) fail(format string, args ...any) {
	r.d.Fatalf(r.t, format, args...)
}

func (r *runner) run() string {
	for line := range strings.SplitSeq(r.d.Input, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "card":
			r.newCard(f[1:])
		case "day":
			r.day = r.date(f[1])
		case "tap":
			r.tap(f[1:])
		case "correct":
			r.correct(f[1:])
		case "topup":
			r.topUp(f[1:])
		case "state":
			r.state()
		case "replace":
			r.card = tariff.Replace(r.card)
			fmt.Fprintf(&r.out, "replaced: the new card carries the old one's tariff state\n")
		default:
			r.fail("unknown line %q", line)
		}
	}
	return r.out.String()
}

func (r *runner) date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		r.fail("bad date %q", s)
	}
	return d
}

func dayKey(d time.Time) int32 { return int32(d.Unix() / 86400) }

func (r *runner) newCard(args []string) {
	if len(args) == 0 {
		r.fail("card needs personal or bearer")
	}
	r.card = tariff.CardState{Bearer: args[0] == "bearer"}
	for _, a := range args[1:] {
		code, span, ok1 := strings.Cut(a, ":")
		from, until, ok2 := strings.Cut(span, "..")
		if !ok1 || !ok2 {
			r.fail("bad entitlement %q", a)
		}
		r.card.Entitlements = append(r.card.Entitlements, tariff.Entitlement{
			Concession: code, FromDay: dayKey(r.date(from)), UntilDay: dayKey(r.date(until)), Issuer: "test",
		})
	}
}

// at turns a local HH:MM on the current day into Unix ms (Polish time).
func (r *runner) at(hhmm string) int64 {
	h, m, ok := strings.Cut(hhmm, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || r.day.IsZero() {
		r.fail("bad time %q (or no day line before it)", hhmm)
	}
	local := r.day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	// Find the UTC moment whose local time this is: try both offsets.
	for _, offset := range []time.Duration{time.Hour, 2 * time.Hour} {
		ms := local.Add(-offset).UnixMilli()
		w := tariff.When(ms)
		if w.Day == dayKey(r.day) && int(w.MinuteOfDay) == hh*60+mm {
			return ms
		}
	}
	r.fail("no moment is %s local on %s", hhmm, r.day.Format(time.DateOnly))
	return 0
}

func (r *runner) tap(args []string) {
	line, err := tapline.ParseTap(args)
	if err != nil {
		r.fail("%v", err)
	}
	r.taps++
	tap := tariff.Tap{
		ID:          fmt.Sprintf("t%d", r.taps),
		TimeUnixMs:  r.at(line.At),
		Product:     line.Product,
		Quantity:    line.Quantity,
		Line:        line.Line,
		Stop:        line.Stop,
		Direction:   line.Direction,
		PINVerified: line.PINVerified,
		Offline:     line.Offline,
	}
	list := r.lists[line.Institution]
	if list == nil {
		list = &tariff.PriceList{InstitutionID: line.Institution}
	}
	r.report(line.Head(tap.ID), r.engine.Price(r.card, list, tap))
}

func (r *runner) correct(args []string) {
	if len(args) != 2 {
		r.fail("correct HH:MM TAP-ID")
	}
	d := r.engine.Correct(r.card, args[1], r.at(args[0]))
	r.report(fmt.Sprintf("correct %s %s", args[0], args[1]), d)
}

func (r *runner) topUp(args []string) {
	if len(args) != 3 || !strings.HasPrefix(args[2], "balance=") {
		r.fail("topup HH:MM AMOUNT balance=AMOUNT")
	}
	amount, err1 := money.Parse(args[1])
	balance, err2 := money.Parse(strings.TrimPrefix(args[2], "balance="))
	if err1 != nil || err2 != nil {
		r.fail("bad amounts in %v", args)
	}
	card, refusal := r.engine.TopUp(r.card, balance, amount, r.at(args[0]))
	if refusal != nil {
		fmt.Fprintf(&r.out, "topup %s %s: DECLINED %s: %s\n", args[0], args[1], refusal.Reason, refusal.Error())
		return
	}
	r.card = card
	fmt.Fprintf(&r.out, "topup %s %s: ok, %s loaded this year\n", args[0], args[1], money.Format(card.Purse.YearTopUpMinor, "PLN"))
}

func (r *runner) report(head string, d tariff.Decision) {
	if !d.Accepted {
		reason := d.Decline.String()
		if d.Decline == tariff.DeclineLimit {
			reason += " (" + d.Limit.String() + ")"
		}
		fmt.Fprintf(&r.out, "%s: DECLINED %s: %s\n", head, reason, d.Reason)
		return
	}
	var sum int64
	for _, e := range d.Entries {
		sum += e.AmountMinor
	}
	if sum != d.AmountMinor {
		r.fail("%s: amount %d is not the sum of the entries %d", head, d.AmountMinor, sum)
	}
	if err := d.Card.Validate(); err != nil {
		r.fail("%s: %v", head, err)
	}
	switch {
	case d.AmountMinor > 0:
		fmt.Fprintf(&r.out, "%s: charge %s\n", head, money.Format(d.AmountMinor, "PLN"))
	case d.AmountMinor < 0:
		fmt.Fprintf(&r.out, "%s: refund %s\n", head, money.Format(-d.AmountMinor, "PLN"))
	default:
		fmt.Fprintf(&r.out, "%s: free, recorded\n", head)
	}
	for _, b := range d.Breakdown {
		fmt.Fprintf(&r.out, "  %s\n", b)
	}
	r.card = d.Card
}

func (r *runner) state() {
	c := r.card
	fmt.Fprintf(&r.out, "state: caps day %s week %s; month spent %s\n",
		money.Format(c.Caps.DaySpentMinor, "PLN"), money.Format(c.Caps.WeekSpentMinor, "PLN"), money.Format(c.Purse.MonthSpentMinor, "PLN"))
	if c.Journey.Active() {
		fmt.Fprintf(&r.out, "  journey %s on %s from %s, charged %s\n", c.Journey.ID, c.Journey.Line, c.Journey.Stop, money.Format(c.Journey.ChargedMinor, "PLN"))
	}
	for _, j := range c.Incomplete {
		fmt.Fprintf(&r.out, "  incomplete %s on %s from %s, charged %s\n", j.ID, j.Line, j.Stop, money.Format(j.ChargedMinor, "PLN"))
	}
	for _, p := range c.Passes {
		fmt.Fprintf(&r.out, "  pass %s days %d..%d\n", p.Product, p.FromDay, p.UntilDay)
	}
	for _, s := range c.Stays {
		fmt.Fprintf(&r.out, "  stay %s at %s %s\n", s.ID, s.InstitutionID, s.Product)
	}
	if c.Ticket.Product != "" {
		fmt.Fprintf(&r.out, "  ticket %s\n", c.Ticket.Product)
	}
}
