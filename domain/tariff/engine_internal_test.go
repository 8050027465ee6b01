package tariff

import (
	"math"
	"testing"

	"civicard/domain/money"
)

// zl must print exactly what money.Format prints.
func TestZlIsMoneyFormat(t *testing.T) {
	for _, v := range []int64{0, 1, 9, 10, 99, 100, 340, -340, 123456789, -1, math.MaxInt64, math.MinInt64} {
		if got, want := zl(v), money.Format(v, "PLN"); got != want {
			t.Errorf("zl(%d) = %q, want %q", v, got, want)
		}
	}
	if got := km(15400); got != "15.4 km" {
		t.Errorf("km(15400) = %q", got)
	}
}

// When puts moments in the right local day across both changes of time.
func TestWhen(t *testing.T) {
	tests := []struct {
		unixMs      int64
		day         string
		minuteOfDay int32
	}{
		{1_795_406_400_000, "2026-11-23", 5 * 60},        // 04:00 UTC, CET
		{1_795_474_740_000, "2026-11-23", 23*60 + 59},    // 22:59 UTC
		{1_795_474_800_000, "2026-11-24", 0},             // 23:00 UTC: local midnight
		{1_774_746_000_000 - 1, "2026-03-29", 1*60 + 59}, // 00:59:59.999 UTC on the last Sunday of March: CET
		{1_774_746_000_000, "2026-03-29", 3 * 60},        // 01:00 UTC: CEST begins, 03:00 local
		{1_792_890_000_000 - 1, "2026-10-25", 2*60 + 59}, // 00:59:59.999 UTC on the last Sunday of October: CEST
		{1_792_890_000_000, "2026-10-25", 2 * 60},        // 01:00 UTC: CET again, 02:00 local
		{1_798_758_000_000, "2027-01-01", 0},             // new year, local
	}
	for _, tt := range tests {
		w := When(tt.unixMs)
		if dayString(w.Day) != tt.day || w.MinuteOfDay != tt.minuteOfDay {
			t.Errorf("When(%d) = %s %d, want %s %d", tt.unixMs, dayString(w.Day), w.MinuteOfDay, tt.day, tt.minuteOfDay)
		}
	}
	if w := When(1_798_758_000_000); w.Year != 2027 || w.Month != 2027*12 {
		t.Errorf("new year: %+v", w)
	}
	if a, b := When(1_795_406_400_000), When(1_795_406_400_000+6*msPerDay); a.Week != b.Week {
		t.Errorf("Monday and Sunday of one week: %d, %d", a.Week, b.Week)
	}
	if a, b := When(1_795_406_400_000), When(1_795_406_400_000-msPerDay); a.Week == b.Week {
		t.Error("a Sunday and the Monday after share a week")
	}
}
