package tapsig

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	civicardv1 "civicard/messages/civicard/v1"
)

func key(*testing.T) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
}

func tap() *civicardv1.TapRequest {
	return &civicardv1.TapRequest{TerminalId: "T-1", Sequence: 7, CardId: "320000002990", TimeUnixMs: 1_700_000_000_000, ServiceCode: "RIDE-20", Quantity: 2, Line: "T6", Stop: "KAT-RYNEK", Direction: -1, PinVerified: true}
}

// The encoding is a contract with every terminal in the field: pin it.
func TestMessageEncoding(t *testing.T) {
	want := hex.EncodeToString([]byte("civicard.v1.TapRequest/2\x00")) +
		"0003" + hex.EncodeToString([]byte("T-1")) +
		"0000000000000007" +
		"000c" + hex.EncodeToString([]byte("320000002990")) +
		"0000018bcfe56800" +
		"0007" + hex.EncodeToString([]byte("RIDE-20")) +
		"00000002" +
		"0002" + hex.EncodeToString([]byte("T6")) +
		"0009" + hex.EncodeToString([]byte("KAT-RYNEK")) +
		"ffffffff" +
		"01"
	if got := hex.EncodeToString(Message(tap())); got != want {
		t.Fatalf("message\n got %s\nwant %s", got, want)
	}
}

func TestEveryFieldIsSigned(t *testing.T) {
	k := key(t)
	pub := k.Public().(ed25519.PublicKey)
	signed := tap()
	Sign(k, signed)
	if err := Verify(pub, signed); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*civicardv1.TapRequest){
		"terminal":  func(r *civicardv1.TapRequest) { r.TerminalId = "T-2" },
		"sequence":  func(r *civicardv1.TapRequest) { r.Sequence++ },
		"card":      func(r *civicardv1.TapRequest) { r.CardId = "320000003006" },
		"time":      func(r *civicardv1.TapRequest) { r.TimeUnixMs++ },
		"service":   func(r *civicardv1.TapRequest) { r.ServiceCode = "RIDE-90" },
		"quantity":  func(r *civicardv1.TapRequest) { r.Quantity = 1 },
		"line":      func(r *civicardv1.TapRequest) { r.Line = "T11" },
		"stop":      func(r *civicardv1.TapRequest) { r.Stop = "KAT-ZAWODZIE" },
		"direction": func(r *civicardv1.TapRequest) { r.Direction = 1 },
		"pin":       func(r *civicardv1.TapRequest) { r.PinVerified = false },
		// Moving a byte between adjacent strings must not keep the message.
		"boundary": func(r *civicardv1.TapRequest) { r.TerminalId, r.CardId = "T-13", "20000002990" },
	} {
		r := proto.Clone(signed).(*civicardv1.TapRequest)
		change(r)
		if err := Verify(pub, r); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s changed: %v, want ErrBadSignature", name, err)
		}
	}
}

func TestVerifyRefusesMissingOrForeignSignatures(t *testing.T) {
	k := key(t)
	unsigned := tap()
	if err := Verify(k.Public().(ed25519.PublicKey), unsigned); !errors.Is(err, ErrBadSignature) {
		t.Errorf("unsigned: %v", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 1
	Sign(ed25519.NewKeyFromSeed(seed), unsigned)
	if err := Verify(k.Public().(ed25519.PublicKey), unsigned); !errors.Is(err, ErrBadSignature) {
		t.Errorf("signed by another key: %v", err)
	}
	if err := Verify([]byte{1, 2}, unsigned); err == nil {
		t.Error("a 2-byte public key verified")
	}
}
