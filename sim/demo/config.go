package demo

import (
	"errors"
	"fmt"
)

// Limits on a Config.
const (
	// CardsMax is the most cards a demo city may have. The card numbers of
	// the demo fit 10 million cards (see cardSerialGapMax).
	CardsMax = 10_000_000
	// CredentialKeyBytesMin is the shortest credential key: 128 bits.
	CredentialKeyBytesMin = 16
	// CredentialKeyBytesMax bounds the credential key, so that a whole file
	// passed by mistake is refused.
	CredentialKeyBytesMax = 1024
)

// Config says which city to generate.
type Config struct {
	// Seed picks the city: the same seed gives the same terminals and cards.
	// It is not a secret. Default 2015, the year ŚKUP started.
	Seed uint64
	// Cards is how many cards to issue, in [1, CardsMax]. Default 150 000,
	// as many as ŚKUP planned.
	Cards int
	// CredentialKey is the installation's secret from which terminal
	// credentials are derived (HMAC-SHA256), so that knowing the seed does
	// not let anyone act as a terminal. At least CredentialKeyBytesMin bytes,
	// at most CredentialKeyBytesMax, not all zero. No default: the caller
	// must set it.
	CredentialKey []byte
}

// DefaultConfig returns the ŚKUP-sized city of seed 2015. CredentialKey is
// nil and must be set before Generate.
func DefaultConfig() Config {
	return Config{
		Seed:  2015,
		Cards: 150_000,
	}
}

// Validate reports every setting that cannot work, joined in one error.
func (c Config) Validate() error {
	var errs []error
	if c.Cards < 1 || c.Cards > CardsMax {
		errs = append(errs, fmt.Errorf("demo: Cards %d outside [1, %d]", c.Cards, CardsMax))
	}
	switch n := len(c.CredentialKey); {
	case n == 0:
		errs = append(errs, errors.New("demo: CredentialKey is not set (it is the installation's secret, at least 16 bytes)"))
	case n < CredentialKeyBytesMin:
		errs = append(errs, fmt.Errorf("demo: CredentialKey has %d bytes, want at least %d", n, CredentialKeyBytesMin))
	case n > CredentialKeyBytesMax:
		errs = append(errs, fmt.Errorf("demo: CredentialKey has %d bytes, want at most %d", n, CredentialKeyBytesMax))
	case allZero(c.CredentialKey):
		errs = append(errs, errors.New("demo: CredentialKey is all zero bytes (an unfilled buffer?)"))
	}
	return errors.Join(errs...)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
