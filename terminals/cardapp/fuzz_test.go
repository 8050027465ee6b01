package cardapp

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseCommand: the parser never panics, and what it accepts encodes
// back to the same bytes (modulo Le 256, written 00 either way).
func FuzzParseCommand(f *testing.F) {
	for _, seed := range []string{
		"00A4040009F04349564943415244", "00B0000000", "0084000010",
		"0088000010101112131415161718191A1B1C1D1E1F10", "00200081", "002000810431323334",
		"00B00000000100", "00A4", "",
	} {
		f.Add(unhex(f, seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := ParseCommand(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := cmd.Bytes()
		if err != nil {
			t.Fatalf("parsed %X to %v, which does not encode: %v", b, cmd, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("parsed %X, encoded back %X", b, again)
		}
	})
}

// FuzzCard: whatever arrives, the card answers with a status word, and a
// genuine card still authenticates afterwards.
func FuzzCard(f *testing.F) {
	f.Add(unhex(f, "0084000010"), unhex(f, "0088000010101112131415161718191A1B1C1D1E1F10"))
	f.Add(unhex(f, "00200081043132333A"), unhex(f, "80CA"))
	f.Add([]byte{}, unhex(f, "00A4040009F04349564943415244"))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		card := genuineCard(t, "320000002990", "1234")
		for _, apdu := range [][]byte{first, second} {
			res, err := ParseResponse(card.Process(apdu))
			if err != nil {
				t.Fatal(err)
			}
			if res.SW == 0 {
				t.Fatalf("no status word for %X", apdu)
			}
		}
		a, err := NewAuthenticator(unhex(t, testMaster), &counter{})
		if err != nil {
			t.Fatal(err)
		}
		if id, err := a.Authenticate(Direct{card}); err != nil || id != "320000002990" {
			t.Fatalf("after %X %X: %q %v", first, second, id, err)
		}
	})
}
