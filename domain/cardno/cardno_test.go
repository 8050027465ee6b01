package cardno

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// luhnOK is a second, independent reading of the Luhn rule: over the whole
// number, double every second digit counting from the right, sum the digits
// of the products, and the total is a multiple of 10.
func luhnOK(s string) bool {
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			d = d/10 + d%10
		}
		sum += d
	}
	return sum%10 == 0
}

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"wikipedia example with a leading zero", "079927398713", nil},
		{"all zeros", "000000000000", nil},
		{"largest body", "999999999991", nil},
		{"empty", "", ErrLength},
		{"eleven digits", "07992739871", ErrLength},
		{"thirteen digits", "0799273987130", ErrLength},
		{"wrong check digit", "079927398710", ErrCheckDigit},
		{"one digit mistyped", "079927398813", ErrCheckDigit},
		{"two neighbours swapped", "709927398713", ErrCheckDigit},
		{"space inside", "0799 27398713", ErrNotDigit},
		{"dash inside", "0799-2739-8713", ErrNotDigit},
		{"letter", "07992739871a", ErrNotDigit},
		{"leading plus", "+79927398713", ErrNotDigit},
		{"trailing newline", "079927398713\n", ErrNotDigit},
		{"arabic-indic digits", "٠٧٩٩٢٧٣٩٨٧١٣", ErrNotDigit},
		{"fullwidth digits", "０７９９２７３９８７１３", ErrNotDigit},
		{"invalid utf-8", "07992739871\xff", ErrNotDigit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Valid(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Valid(%q) = %v, want %v", tt.in, err, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "cardno: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

func TestValidErrorSaysWhere(t *testing.T) {
	err := Valid("0799 27398713")
	if err == nil || !strings.Contains(err.Error(), `' ' at position 5`) {
		t.Errorf("Valid with a space = %v, want it to name the space and its position", err)
	}
	err = Valid("07992739871")
	if err == nil || !strings.Contains(err.Error(), "11 digits, want 12") {
		t.Errorf("Valid with 11 digits = %v, want it to give both lengths", err)
	}
	// The check-digit error must not give away the digit that would fit.
	err = Valid("079927398710")
	if err == nil || strings.Contains(err.Error(), "3") {
		t.Errorf("Valid with a bad check digit = %v, must not name the right one", err)
	}
}

func TestMake(t *testing.T) {
	tests := []struct {
		body    uint64
		want    string
		wantErr error
	}{
		{0, "000000000000", nil},
		{7992739871, "079927398713", nil},
		{1, "000000000018", nil},
		{32_000_000_000, "320000000002", nil},
		{BodyMax, "999999999991", nil},
		{BodyMax + 1, "", ErrBody},
		{1 << 63, "", ErrBody},
	}
	for _, tt := range tests {
		got, err := Make(tt.body)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Make(%d) error = %v, want %v", tt.body, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("Make(%d) = %q, want %q", tt.body, got, tt.want)
		}
		if err == nil {
			if !luhnOK(got) {
				t.Errorf("Make(%d) = %q fails the reference Luhn check", tt.body, got)
			}
			if err := Valid(got); err != nil {
				t.Errorf("Valid(Make(%d)) = %v", tt.body, err)
			}
		}
	}
}

// TestExactlyOneCheckDigit: for a body, one of the ten last digits is valid
// and it is the one Make appends.
func TestExactlyOneCheckDigit(t *testing.T) {
	for body := uint64(0); body < 100_000_000_000; body += 7_777_777_777 {
		made, err := Make(body)
		if err != nil {
			t.Fatal(err)
		}
		valid := 0
		for d := byte('0'); d <= '9'; d++ {
			candidate := made[:BodyLength] + string(d)
			if Valid(candidate) == nil {
				valid++
				if candidate != made {
					t.Errorf("%q is valid but Make(%d) = %q", candidate, body, made)
				}
			}
		}
		if valid != 1 {
			t.Errorf("body %d: %d valid check digits, want 1", body, valid)
		}
	}
}

// TestCatchesTypos: the Luhn digit catches every single mistyped digit and
// every swap of two neighbours except 0 and 9.
func TestCatchesTypos(t *testing.T) {
	for body := uint64(12_345); body < BodyMax; body = body*3 + 1 {
		made, err := Make(body)
		if err != nil {
			t.Fatal(err)
		}
		for i := range Length {
			for d := byte('0'); d <= '9'; d++ {
				if d == made[i] {
					continue
				}
				typo := made[:i] + string(d) + made[i+1:]
				if !errors.Is(Valid(typo), ErrCheckDigit) {
					t.Errorf("typo %q of %q passed", typo, made)
				}
			}
		}
		for i := range Length - 1 {
			a, b := made[i], made[i+1]
			if a == b || (a == '0' && b == '9') || (a == '9' && b == '0') {
				continue
			}
			swapped := made[:i] + string(b) + string(a) + made[i+2:]
			if !errors.Is(Valid(swapped), ErrCheckDigit) {
				t.Errorf("swap %q of %q passed", swapped, made)
			}
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{"", "079927398713", "079927398710", "0799 2739 8713", "٠٧٩٩٢٧٣٩٨٧١٣", "\xff\xfe", "999999999991", "1234567890123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := Valid(s)
		if (err == nil) != (len(s) == Length && isDigits(s) && luhnOK(s)) {
			t.Fatalf("Valid(%q) = %v disagrees with the reference", s, err)
		}
		if err != nil {
			if !errors.Is(err, ErrLength) && !errors.Is(err, ErrNotDigit) && !errors.Is(err, ErrCheckDigit) {
				t.Fatalf("Valid(%q) = %v wraps no sentinel", s, err)
			}
			return
		}
		body, perr := strconv.ParseUint(s[:BodyLength], 10, 64)
		if perr != nil {
			t.Fatalf("valid %q has an unparsable body: %v", s, perr)
		}
		made, merr := Make(body)
		if merr != nil || made != s {
			t.Fatalf("Make(%d) = %q, %v; want %q", body, made, merr, s)
		}
	})
}

func FuzzMake(f *testing.F) {
	for _, body := range []uint64{0, 1, 7992739871, BodyMax, BodyMax + 1, 1<<64 - 1} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body uint64) {
		made, err := Make(body)
		if body > BodyMax {
			if !errors.Is(err, ErrBody) || made != "" {
				t.Fatalf("Make(%d) = %q, %v; want ErrBody", body, made, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Make(%d): %v", body, err)
		}
		if err := Valid(made); err != nil {
			t.Fatalf("Valid(Make(%d) = %q) = %v", body, made, err)
		}
		if got, _ := strconv.ParseUint(made[:BodyLength], 10, 64); got != body {
			t.Fatalf("Make(%d) = %q carries body %d", body, made, got)
		}
	})
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func BenchmarkValid(b *testing.B) {
	for b.Loop() {
		if err := Valid("079927398713"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMake(b *testing.B) {
	for b.Loop() {
		if _, err := Make(7992739871); err != nil {
			b.Fatal(err)
		}
	}
}
