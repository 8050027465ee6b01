package sim

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"civicard/domain/tariff"
	"civicard/sim/demo"
)

func testCity(t *testing.T, cards int) (*demo.Dataset, tariff.Network) {
	t.Helper()
	city, err := demo.Generate(demo.Config{Seed: 2015, Cards: cards, CredentialKey: []byte("a test key of sixteen bytes")})
	if err != nil {
		t.Fatal(err)
	}
	region, _ := demo.Tariff()
	return city, region.Network
}

func TestPlanIsReproducible(t *testing.T) {
	city, network := testCity(t, 3000)
	cfg := DefaultDayConfig(3000)
	cfg.OfflineTerminals = 10
	a, err := Plan(city, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Plan(city, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two different days")
	}
	cfg.Seed++
	c, err := Plan(city, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("another seed gave the same day")
	}
}

// TestPlanDay checks the day reads like a city's: in time order, taps
// numbered per terminal, transport peaks in the morning and afternoon,
// institutions used in their hours, check-ins on the lines' own vehicles,
// lost cards never topped up after the block.
func TestPlanDay(t *testing.T) {
	city, network := testCity(t, 20_000)
	cfg := DefaultDayConfig(20_000)
	cfg.LostCards, cfg.OfflineTerminals = 20, 15
	events, err := Plan(city, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(events, func(a, b Event) int { return int(a.At - b.At) }) {
		t.Fatal("events not in time order")
	}
	lines := map[string]tariff.Line{}
	for _, l := range network.Lines {
		lines[l.ID] = l
	}
	next := map[int]uint64{}
	kinds := map[EventKind]int{}
	byHour := map[string][24]int{}
	blockedAt := map[string]time.Duration{}
	checkIns, lostTaps := 0, 0
	offlineSince := map[int]time.Duration{} // terminals offline now
	offlineTaps := map[int]int{}            // taps each outage took
	for _, ev := range events {
		kinds[ev.Kind]++
		if ev.At < 0 || ev.At >= 24*time.Hour {
			t.Fatalf("event at %v, outside the day", ev.At)
		}
		switch ev.Kind {
		case EventTap:
			next[ev.Terminal]++
			if ev.Sequence != next[ev.Terminal] {
				t.Fatalf("terminal %d: tap %d numbered %d", ev.Terminal, next[ev.Terminal], ev.Sequence)
			}
			kind := ServiceKindOf(city, ev.Terminal)
			h := byHour[kind]
			h[int(ev.At/time.Hour)]++
			byHour[kind] = h
			if ev.Service == "CICO" {
				checkIns++
				line, ok := lines[ev.Line]
				if !ok || city.Terminals[ev.Terminal].Terminal.GetInstitutionId() != line.InstitutionID || ev.Direction == 0 ||
					!slices.ContainsFunc(line.Stops, func(s tariff.Stop) bool { return s.ID == ev.Stop }) {
					t.Fatalf("check-in/out %+v is not on a vehicle of its line at one of its stops", ev)
				}
			}
			if _, lost := blockedAt[ev.Card]; lost {
				lostTaps++
			}
			if _, off := offlineSince[ev.Terminal]; off {
				offlineTaps[ev.Terminal]++
			}
		case EventOffline:
			offlineSince[ev.Terminal] = ev.At
		case EventOnline:
			if offlineTaps[ev.Terminal] == 0 {
				t.Errorf("terminal %d was offline from %v to %v and took no tap meanwhile", ev.Terminal, offlineSince[ev.Terminal], ev.At)
			}
			delete(offlineSince, ev.Terminal)
		case EventBlock:
			blockedAt[ev.Card] = ev.At
		case EventTopUp:
			if at, lost := blockedAt[ev.Card]; lost && ev.At > at {
				t.Fatalf("card %s topped up at %v after it was blocked at %v", ev.Card, ev.At, at)
			}
			if ev.AmountMinor <= 0 {
				t.Fatalf("top-up of %d", ev.AmountMinor)
			}
		}
	}
	if kinds[EventBlock] != cfg.LostCards || kinds[EventOffline] != cfg.OfflineTerminals || kinds[EventOnline] != cfg.OfflineTerminals {
		t.Fatalf("events by kind %v, want %d blocks and %d offline periods", kinds, cfg.LostCards, cfg.OfflineTerminals)
	}
	if kinds[EventTap] < 2*cfg.Riders || kinds[EventTopUp] == 0 || checkIns == 0 || lostTaps == 0 {
		t.Fatalf("events by kind %v, %d check-ins/outs, %d taps of lost cards after their block for %d riders", kinds, checkIns, lostTaps, cfg.Riders)
	}
	transport := byHour["public_transport"]
	if !(transport[7] > 2*transport[12] && transport[16] > 2*transport[12] && transport[3] == 0) {
		t.Errorf("transport by hour %v: want the morning and afternoon peaks over midday, nothing at 3 am", transport)
	}
	for kind, hours := range map[string][2]int{"library": {10, 19}, "city_office": {8, 16}, "parking": {8, 18}} {
		h := byHour[kind]
		for hour, n := range h {
			if n > 0 && (hour < hours[0] || hour >= hours[1]) {
				t.Errorf("%s: %d taps at %02d:00, outside its hours %v", kind, n, hour, hours)
			}
		}
		if total := sum(h[:]); total == 0 {
			t.Errorf("%s: no taps", kind)
		}
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func TestPlanWithoutCheckInOut(t *testing.T) {
	city, network := testCity(t, 3000)
	cfg := DefaultDayConfig(3000)
	cfg.CheckInOut, cfg.Passes = false, false
	events, err := Plan(city, network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Service == "CICO" || ev.Service == "PASS-30D" || ev.Line != "" {
			t.Fatalf("event %+v with check-in/out and passes off", ev)
		}
	}
}

func TestPlanRefusesWhatCannotWork(t *testing.T) {
	city, network := testCity(t, 100)
	for name, change := range map[string]func(*DayConfig){
		"more riders than cards": func(c *DayConfig) { c.Riders = 101 },
		"no riders":              func(c *DayConfig) { c.Riders = 0 },
		"percent over 100":       func(c *DayConfig) { c.ForgottenCheckOutPercent = 101 },
		"more lost than riders":  func(c *DayConfig) { c.LostCards = c.Riders + 1 },
		"more offline terminals": func(c *DayConfig) { c.OfflineTerminals = len(city.Terminals) + 1 },
	} {
		cfg := DefaultDayConfig(100)
		change(&cfg)
		if _, err := Plan(city, network, cfg); err == nil || !strings.Contains(err.Error(), "sim:") {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
	}
}

func TestPlanNodeFaults(t *testing.T) {
	run := 60 * time.Second
	plan := PlanNodeFaults(7, 3, run)
	if !reflect.DeepEqual(plan, PlanNodeFaults(7, 3, run)) {
		t.Fatal("the same seed gave two plans")
	}
	if len(plan) < 3 {
		t.Fatalf("%d faults in %v, want one every %v", len(plan), run, faultEvery)
	}
	kinds := map[NodeFaultKind]int{}
	for i, f := range plan {
		kinds[f.Kind]++
		if f.Node < 0 || f.Node >= 3 || f.Down <= 0 || f.At < faultQuiet || f.At+f.Down > run {
			t.Errorf("fault %+v outside the run or the cluster", f)
		}
		if f.Kind == FaultPause && f.Down <= 2*time.Second {
			t.Errorf("pause %+v too short to be noticed", f)
		}
		if i > 0 && plan[i-1].At+plan[i-1].Down >= f.At {
			t.Errorf("faults %+v and %+v overlap", plan[i-1], f)
		}
	}
	if kinds[FaultKill] == 0 || kinds[FaultPause] == 0 {
		t.Errorf("faults by kind %v, want kills and pauses", kinds)
	}
	if PlanNodeFaults(7, 1, run) != nil {
		t.Error("faults planned for a single node")
	}
}
