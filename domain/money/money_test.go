package money

import (
	"errors"
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr error
	}{
		{"20", 2000, nil},
		{"20.00", 2000, nil},
		{"20.5", 2050, nil},
		{"3,40", 340, nil},
		{" 0.01 ", 1, nil},
		{"-5.00", -500, nil},
		{"0", 0, nil},
		{"1000000000", 100_000_000_000, nil},
		{"1000000000.01", 0, ErrRange},
		{"99999999999999999999", 0, ErrRange},
		{"", 0, ErrSyntax},
		{"abc", 0, ErrSyntax},
		{"1.234", 0, ErrSyntax},
		{"1.", 0, ErrSyntax},
		{".5", 0, ErrSyntax},
		{"1e3", 0, ErrSyntax},
		{"+5", 0, ErrSyntax},
		{"--5", 0, ErrSyntax},
		{"1.2.3", 0, ErrSyntax},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Parse(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		minor int64
		want  string
	}{
		{0, "0.00 PLN"},
		{5, "0.05 PLN"},
		{340, "3.40 PLN"},
		{-340, "-3.40 PLN"},
		{math.MinInt64, "-92233720368547758.08 PLN"},
	}
	for _, tt := range tests {
		if got := Format(tt.minor, "PLN"); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.minor, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"20.00", "3,40", "-1", "", "1e9", "999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		minor, err := Parse(s)
		if err != nil {
			return
		}
		if minor > amountMaxMinor || minor < -amountMaxMinor {
			t.Fatalf("Parse(%q) = %d, beyond the limit", s, minor)
		}
		back, err := Parse(Format(minor, "")[:len(Format(minor, ""))-1])
		if err != nil || back != minor {
			t.Fatalf("round trip of %q: %d -> %d (%v)", s, minor, back, err)
		}
	})
}
