package cardapp

import (
	"errors"
	"io"
	"testing"
)

// dropAfter passes n APDUs to the card, then fails like a card pulled away.
type dropAfter struct {
	card *Card
	n    int
}

func (d *dropAfter) Transmit(cmd []byte) ([]byte, error) {
	if d.n == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	d.n--
	return d.card.Process(cmd), nil
}

func TestAuthenticateSortsFailures(t *testing.T) {
	a, err := NewAuthenticator(unhex(t, testMaster), &counter{})
	if err != nil {
		t.Fatal(err)
	}
	clone, err := NewCard(CardConfig{CardID: "320000002990", Rand: &counter{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(Direct{clone}); !errors.Is(err, ErrNotGenuine) {
		t.Errorf("clone: %v, want ErrNotGenuine", err)
	}
	for n := 0; n < 4; n++ {
		_, err := a.Authenticate(&dropAfter{card: genuineCard(t, "320000002990", ""), n: n})
		var transport *TransportError
		if !errors.As(err, &transport) || errors.Is(err, ErrNotGenuine) {
			t.Errorf("card gone after %d APDUs: %v, want a TransportError", n, err)
		}
	}
	if id, err := a.Authenticate(&dropAfter{card: genuineCard(t, "320000002990", ""), n: 4}); err != nil || id != "320000002990" {
		t.Errorf("whole exchange: %q %v", id, err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []CardConfig{
		{CardID: "", Rand: &counter{}},
		{CardID: "1", PIN: "12a4", Rand: &counter{}},
		{CardID: "1", PIN: "123", Rand: &counter{}},
		{CardID: "1"},
	} {
		if _, err := NewCard(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	if _, err := NewAuthenticator(make([]byte, 32), &counter{}); err == nil {
		t.Error("a 32-byte master key accepted")
	}
}
