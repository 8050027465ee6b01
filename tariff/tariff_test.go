package tariff

import (
	"errors"
	"math"
	"strings"
	"testing"

	civicardv1 "civicard/messages/civicard/v1"
)

func service(code string, unitMinor int64) *civicardv1.Service {
	return &civicardv1.Service{Code: code, Name: code, UnitPriceMinor: unitMinor}
}

func TestPrice(t *testing.T) {
	defaults := DefaultLimits()
	tests := []struct {
		name     string
		service  *civicardv1.Service
		quantity uint32
		limits   Limits
		want     int64
		wantErr  error
	}{
		{"one ride", service("RIDE-20MIN", 340), 1, defaults, 340, nil},
		{"quantity 0 means 1", service("RIDE-20MIN", 340), 0, defaults, 340, nil},
		{"a group of three", service("RIDE-90MIN", 600), 3, defaults, 1800, nil},
		{"an hour of parking in quarters", service("PARK-15MIN", 100), 4, defaults, 400, nil},
		{"at the quantity limit", service("PRINT-A4", 50), 20, defaults, 1000, nil},
		{"one over the quantity limit", service("PRINT-A4", 50), 21, defaults, 0, ErrQuantity},
		{"far over the quantity limit", service("PRINT-A4", 50), math.MaxUint32, defaults, 0, ErrQuantity},
		{"exactly the amount limit", service("REJ-POJAZD", 20_000), 1, defaults, 20_000, nil},
		{"the amount limit by quantity", service("X", 1000), 20, defaults, 20_000, nil},
		{"one grosz over the amount limit", service("X", 20_001), 1, defaults, 0, ErrAmount},
		{"over the amount limit by quantity", service("X", 1001), 20, defaults, 0, ErrAmount},
		{"a product that would overflow int64", service("X", math.MaxInt64), 2, defaults, 0, ErrAmount},
		{"the largest unit price", service("X", math.MaxInt64), 1, defaults, 0, ErrAmount},
		{"overflow at the widest limits", service("X", math.MaxInt64/999), 1000, Limits{QuantityMax: 1000, AmountMaxMinor: 10_000_000}, 0, ErrAmount},
		{"free", service("X", 0), 1, defaults, 0, ErrAmount},
		{"negative price", service("X", -340), 1, defaults, 0, ErrAmount},
		{"most negative price", service("X", math.MinInt64), 2, defaults, 0, ErrAmount},
		{"no service", nil, 1, defaults, 0, ErrNoService},
		{"zero limits", service("RIDE-20MIN", 340), 1, Limits{}, 0, ErrLimits},
		{"custom limits", service("ENTRY-DAY", 4500), 10, Limits{QuantityMax: 10, AmountMaxMinor: 45_000}, 45_000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Price(tt.service, tt.quantity, tt.limits)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Price = %d, %v; want error %v", got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Price = %d, want %d", got, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "tariff: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

func TestPriceErrorsAreFitToShow(t *testing.T) {
	_, err := Price(service("RIDE-20MIN", 340), 25, DefaultLimits())
	if err == nil || !strings.Contains(err.Error(), "25 units of RIDE-20MIN, at most 20") {
		t.Errorf("quantity error = %v, want it to name the quantity, the service and the limit", err)
	}
	_, err = Price(service("PARK-DAY", 2500), 10, DefaultLimits())
	if err == nil || !strings.Contains(err.Error(), "PARK-DAY") || !strings.Contains(err.Error(), "20000") {
		t.Errorf("amount error = %v, want it to name the service and the limit", err)
	}
}

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

func TestFind(t *testing.T) {
	ride20 := service("RIDE-20MIN", 340)
	ride40 := service("RIDE-40MIN", 440)
	ride40again := service("RIDE-40MIN", 999)
	pkm := &civicardv1.Institution{
		InstitutionId: "KAT-TRA-01",
		Services:      []*civicardv1.Service{ride20, ride40, ride40again},
	}
	empty := &civicardv1.Institution{InstitutionId: "KAT-LIB-09"}
	nilFirst := &civicardv1.Institution{InstitutionId: "KAT-LIB-08", Services: []*civicardv1.Service{nil, ride20}}
	tests := []struct {
		name    string
		inst    *civicardv1.Institution
		code    string
		want    *civicardv1.Service
		wantErr error
	}{
		{"first", pkm, "RIDE-20MIN", ride20, nil},
		{"second", pkm, "RIDE-40MIN", ride40, nil},
		{"empty code is the default", pkm, "", ride20, nil},
		{"unknown code", pkm, "RIDE-60MIN", nil, ErrNoService},
		{"codes are exact", pkm, "ride-20min", nil, ErrNoService},
		{"no trimming", pkm, " RIDE-20MIN", nil, ErrNoService},
		{"empty price list", empty, "", nil, ErrNoService},
		{"empty price list, a code", empty, "PRINT-A4", nil, ErrNoService},
		{"nil default", nilFirst, "", nil, ErrNoService},
		{"nil entries are skipped", nilFirst, "RIDE-20MIN", ride20, nil},
		{"no institution", nil, "RIDE-20MIN", nil, ErrNoService},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(tt.inst, tt.code)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Find = %v, %v; want error %v", got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Find = %v, want %v", got, tt.want)
			}
		})
	}
	_, err := Find(pkm, "RIDE-60MIN")
	if err == nil || !strings.Contains(err.Error(), `KAT-TRA-01 does not sell "RIDE-60MIN"`) {
		t.Errorf("Find error = %v, want it to name the institution and the code", err)
	}
}

func BenchmarkPrice(b *testing.B) {
	s := service("RIDE-40MIN", 440)
	limits := DefaultLimits()
	for b.Loop() {
		if _, err := Price(s, 2, limits); err != nil {
			b.Fatal(err)
		}
	}
}
