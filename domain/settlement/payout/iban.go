package payout

import (
	"errors"
	"fmt"
)

// ibanLength is the IBAN length of the countries civicard pays to (SEPA
// members a Polish operator deals with), 0 for others: an IBAN of another
// country is refused rather than half-checked.
func ibanLength(country string) int {
	switch country {
	case "BE":
		return 16
	case "NL", "DK", "FI":
		return 18
	case "SI":
		return 19
	case "AT", "EE", "LT", "LU":
		return 20
	case "LV":
		return 21
	case "DE", "GB", "IE":
		return 22
	case "CZ", "ES", "SE", "SK":
		return 24
	case "PT":
		return 25
	case "FR", "IT":
		return 27
	case "PL", "HU":
		return 28
	}
	return 0
}

// CheckIBAN checks an IBAN in electronic format (no spaces, upper case):
// country, length for the country, characters, and the mod-97 check digits
// of ISO 7064.
func CheckIBAN(iban string) error {
	if len(iban) < 4 {
		return fmt.Errorf("IBAN %q is too short", iban)
	}
	want := ibanLength(iban[:2])
	if want == 0 {
		return fmt.Errorf("IBAN %q: country %q is not one civicard pays to", iban, iban[:2])
	}
	if len(iban) != want {
		return fmt.Errorf("IBAN %q has %d characters, %s IBANs have %d", iban, len(iban), iban[:2], want)
	}
	for i := 2; i < len(iban); i++ {
		c := iban[i]
		if !(c >= '0' && c <= '9') && !(c >= 'A' && c <= 'Z') {
			return fmt.Errorf("IBAN %q: character %q at %d is not a digit or capital letter", iban, c, i+1)
		}
		if i < 4 && !(c >= '0' && c <= '9') {
			return fmt.Errorf("IBAN %q: check digits must be digits", iban)
		}
	}
	if mod97(iban[4:]+iban[:4]) != 1 {
		return errors.New("IBAN " + iban + ": wrong check digits")
	}
	return nil
}

// mod97 is the remainder of the number the characters spell (letters count
// as 10..35), computed digit by digit so it never overflows.
func mod97(s string) int {
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			v := int(c-'A') + 10
			r = (r*100 + v) % 97
		} else {
			r = (r*10 + int(c-'0')) % 97
		}
	}
	return r
}

// PolishIBAN builds the IBAN of a Polish account number: an 8-digit bank
// sort code and a 16-digit account number, with the check digits computed.
func PolishIBAN(sortCode, account string) (string, error) {
	bban := sortCode + account
	if len(sortCode) != 8 || len(account) != 16 {
		return "", fmt.Errorf("a Polish account is 8 + 16 digits, not %d + %d", len(sortCode), len(account))
	}
	for i := 0; i < len(bban); i++ {
		if bban[i] < '0' || bban[i] > '9' {
			return "", fmt.Errorf("account %q is not all digits", bban)
		}
	}
	check := 98 - mod97(bban+"PL00")
	return fmt.Sprintf("PL%02d%s", check, bban), nil
}
