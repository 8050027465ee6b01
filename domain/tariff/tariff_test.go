package tariff

import (
	"errors"
	"testing"
)

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		ok     bool
	}{
		{"defaults", DefaultLimits(), true},
		{"zero", Limits{}, false},
		{"no quantity", Limits{QuantityMax: 0, AmountMaxMinor: 20_000}, false},
		{"no amount", Limits{QuantityMax: 20, AmountMaxMinor: 0}, false},
		{"negative amount", Limits{QuantityMax: 20, AmountMaxMinor: -1}, false},
		{"smallest", Limits{QuantityMax: 1, AmountMaxMinor: 1}, true},
		{"widest", Limits{QuantityMax: 1000, AmountMaxMinor: 10_000_000}, true},
		{"quantity over the ceiling", Limits{QuantityMax: 1001, AmountMaxMinor: 20_000}, false},
		{"amount over the ceiling", Limits{QuantityMax: 20, AmountMaxMinor: 10_000_001}, false},
	}
	for _, tt := range tests {
		err := tt.limits.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate(%+v) = %v, want ok=%v", tt.name, tt.limits, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrLimits) {
			t.Errorf("%s: error %v does not wrap ErrLimits", tt.name, err)
		}
	}
	if d := DefaultLimits(); d.QuantityMax != 20 || d.AmountMaxMinor != 20_000 {
		t.Errorf("DefaultLimits() = %+v, want 20 units and 20000 grosz", d)
	}
}
