package cardno

import (
	"errors"
	"fmt"
	"strconv"
)

const (
	// Length is the number of digits of a card number, check digit included.
	Length = 12
	// BodyLength is the number of digits before the check digit.
	BodyLength = Length - 1
	// BodyMax is the largest body [Make] accepts: 11 nines.
	BodyMax uint64 = 99_999_999_999
)

var (
	// ErrLength is returned for a card number that is not 12 characters long.
	ErrLength = errors.New("cardno: wrong length")
	// ErrNotDigit is returned for a card number with a character other than 0-9.
	ErrNotDigit = errors.New("cardno: not a digit")
	// ErrCheckDigit is returned when the last digit does not match the others:
	// usually a mistyped or swapped digit.
	ErrCheckDigit = errors.New("cardno: wrong check digit")
	// ErrBody is returned by Make for a body above BodyMax.
	ErrBody = errors.New("cardno: body out of range")
)

// Valid reports whether s is a well-formed card number: exactly 12 ASCII
// digits whose last digit is the Luhn check digit of the first 11. Nothing is
// trimmed or normalised; spaces and dashes are errors. The error wraps
// ErrNotDigit, ErrLength or ErrCheckDigit, checked in that order, and names
// the first offending character without echoing the whole input.
func Valid(s string) error {
	count := 0 // in characters, so that positions and lengths read as a person counts
	for _, r := range s {
		count++
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: %q at position %d (a card number is %d digits, no spaces)", ErrNotDigit, r, count, Length)
		}
	}
	if count != Length {
		return fmt.Errorf("%w: %d digits, want %d", ErrLength, count, Length)
	}
	// The message does not say which check digit would fit: a person told
	// that would "fix" the last digit and get another card's valid number.
	if checkDigit(s[:BodyLength]) != s[BodyLength] {
		return fmt.Errorf("%w: a digit is mistyped or two digits are swapped", ErrCheckDigit)
	}
	return nil
}

// Make returns the card number of body: body as 11 digits with leading zeros,
// followed by its Luhn check digit. Make(7992739871) == "079927398713".
func Make(body uint64) (string, error) {
	if body > BodyMax {
		return "", fmt.Errorf("%w: %d has more than %d digits", ErrBody, body, BodyLength)
	}
	var buf [Length]byte
	digits := strconv.AppendUint(buf[:0], body, 10)
	// Right-align the digits and pad with zeros.
	copy(buf[BodyLength-len(digits):BodyLength], digits)
	for i := range BodyLength - len(digits) {
		buf[i] = '0'
	}
	buf[BodyLength] = checkDigit(buf[:BodyLength])
	return string(buf[:]), nil
}

// checkDigit returns the Luhn check digit of body, which holds ASCII digits
// only: from the rightmost digit leftwards every other digit is doubled (and
// 9 subtracted when that exceeds 9), starting with the rightmost; the check
// digit brings the sum to a multiple of 10.
func checkDigit[T string | []byte](body T) byte {
	sum := 0
	double := true
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}
