package tariff_test

import (
	"encoding/json"
	"testing"

	"civicard/domain/tariff"
)

func fmtAny(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// A commuter's card mid-week: a concession, a line pass, some caps counted.
func benchCard() tariff.CardState {
	return tariff.CardState{
		Entitlements: []tariff.Entitlement{{Concession: "STUDENT", FromDay: 0, UntilDay: 1 << 30}},
		Passes:       []tariff.Pass{{Product: "PASS-30D-T6", FromDay: 0, UntilDay: 1 << 30, Lines: []string{"T6"}}},
		Caps:         tariff.CapCounters{Day: tariff.When(mondayMs).Day, DaySpentMinor: 300, Week: tariff.When(mondayMs).Week, WeekSpentMinor: 900},
	}
}

func BenchmarkPriceCheckIn(b *testing.B) {
	f := newFixture(b)
	card := benchCard()
	list := f.lists["CHO-TRA-01"]
	tap := tariff.Tap{ID: "tap/T-CHO-TRA-01-001/1", TimeUnixMs: mondayMs + 3_600_000, Product: "CICO", Line: "T11", Stop: "CHO-BATORY", Direction: 1}
	for b.Loop() {
		if d := f.engine.Price(card, list, tap); !d.Accepted {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkPriceCheckOut(b *testing.B) {
	f := newFixture(b)
	list := f.lists["CHO-TRA-01"]
	in := f.engine.Price(benchCard(), list, tariff.Tap{ID: "t1", TimeUnixMs: mondayMs, Product: "CICO", Line: "T11", Stop: "CHO-BATORY", Direction: 1})
	tap := tariff.Tap{ID: "t2", TimeUnixMs: mondayMs + 1_200_000, Product: "CICO", Line: "T11", Stop: "KAT-RYNEK"}
	for b.Loop() {
		if d := f.engine.Price(in.Card, list, tap); !d.Accepted {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkPricePoolOut(b *testing.B) {
	f := newFixture(b)
	list := f.lists["KAT-SPO-01"]
	in := f.engine.Price(benchCard(), list, tariff.Tap{ID: "t1", TimeUnixMs: mondayMs, Product: "ENTRY-60MIN"})
	tap := tariff.Tap{ID: "t2", TimeUnixMs: mondayMs + 5_400_000, Product: "ENTRY-60MIN"}
	for b.Loop() {
		if d := f.engine.Price(in.Card, list, tap); !d.Accepted {
			b.Fatal(d.Reason)
		}
	}
}

// TestStateRoundTrips: the tariff state is plain data; through JSON and
// back it prices the next tap the same.
func TestStateRoundTrips(t *testing.T) {
	f := newFixture(t)
	list := f.lists["CHO-TRA-01"]
	in := f.engine.Price(benchCard(), list, tariff.Tap{ID: "t1", TimeUnixMs: mondayMs, Product: "CICO", Line: "T11", Stop: "CHO-BATORY", Direction: 1})
	var back tariff.CardState
	if err := json.Unmarshal([]byte(fmtAny(in.Card)), &back); err != nil {
		t.Fatal(err)
	}
	tap := tariff.Tap{ID: "t2", TimeUnixMs: mondayMs + 1_200_000, Product: "CICO", Line: "T11", Stop: "KAT-RYNEK"}
	a, b := f.engine.Price(in.Card, list, tap), f.engine.Price(back, list, tap)
	if fmtAny(a) != fmtAny(b) {
		t.Errorf("after a round trip:\n%s\nwant\n%s", fmtAny(b), fmtAny(a))
	}
}
