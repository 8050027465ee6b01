package tapsig

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	civicardv1 "civicard/messages/civicard/v1"
)

const domain = "civicard.v1.TapRequest/2\x00"

// Message returns the bytes a terminal signs for tap.
func Message(tap *civicardv1.TapRequest) []byte {
	b := make([]byte, 0, len(domain)+64+len(tap.GetTerminalId())+len(tap.GetCardId())+len(tap.GetServiceCode())+len(tap.GetLine())+len(tap.GetStop()))
	b = append(b, domain...)
	b = appendString(b, tap.GetTerminalId())
	b = binary.BigEndian.AppendUint64(b, tap.GetSequence())
	b = appendString(b, tap.GetCardId())
	b = binary.BigEndian.AppendUint64(b, uint64(tap.GetTimeUnixMs()))
	b = appendString(b, tap.GetServiceCode())
	b = binary.BigEndian.AppendUint32(b, tap.GetQuantity())
	b = appendString(b, tap.GetLine())
	b = appendString(b, tap.GetStop())
	b = binary.BigEndian.AppendUint32(b, uint32(tap.GetDirection()))
	if tap.GetPinVerified() {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendString appends s with a 2-byte length; longer strings are cut to
// 65535 bytes (the gateway refuses far shorter ones anyway), and the cut
// is part of what is signed, so two different strings never share a
// message unless both exceed the limit.
func appendString(b []byte, s string) []byte {
	if len(s) > 0xFFFF {
		s = s[:0xFFFF]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Sign sets tap.Signature to the terminal's signature.
func Sign(key ed25519.PrivateKey, tap *civicardv1.TapRequest) {
	tap.Signature = ed25519.Sign(key, Message(tap))
}

// ErrBadSignature means a tap's signature does not verify under the
// terminal's registered key.
var ErrBadSignature = errors.New("tap signature does not verify")

// Verify checks tap.Signature against the terminal's public key.
func Verify(publicKey []byte, tap *civicardv1.TapRequest) error {
	if len(publicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("public key is %d bytes, not %d", len(publicKey), ed25519.PublicKeySize)
	}
	if len(tap.GetSignature()) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, not %d", ErrBadSignature, len(tap.GetSignature()), ed25519.SignatureSize)
	}
	if !ed25519.Verify(ed25519.PublicKey(publicKey), Message(tap), tap.GetSignature()) {
		return ErrBadSignature
	}
	return nil
}

// versioned is a terminal's request for a list it keeps by version (the
// denylist, the tariff).
type versioned interface {
	GetTerminalId() string
	GetKnownVersion() string
	GetTimeUnixMs() int64
	GetSignature() []byte
}

// versionedMessage is what a terminal signs for a versioned request: the
// domain string, u16 len || terminal_id, u16 len || known_version, i64
// time_unix_ms.
func versionedMessage(domain string, req versioned) []byte {
	b := make([]byte, 0, len(domain)+12+len(req.GetTerminalId())+len(req.GetKnownVersion()))
	b = append(b, domain...)
	b = appendString(b, req.GetTerminalId())
	b = appendString(b, req.GetKnownVersion())
	return binary.BigEndian.AppendUint64(b, uint64(req.GetTimeUnixMs()))
}

func verifyVersioned(publicKey []byte, domain string, req versioned) error {
	if len(publicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("public key is %d bytes, not %d", len(publicKey), ed25519.PublicKeySize)
	}
	if len(req.GetSignature()) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(publicKey), versionedMessage(domain, req), req.GetSignature()) {
		return ErrBadSignature
	}
	return nil
}

const (
	denylistDomain = "civicard.v1.GetDenylistRequest\x00"
	tariffDomain   = "civicard.v1.GetTariffRequest\x00"
)

// DenylistMessage returns the bytes a terminal signs for a denylist request.
func DenylistMessage(req *civicardv1.GetDenylistRequest) []byte {
	return versionedMessage(denylistDomain, req)
}

// SignDenylist sets req.Signature.
func SignDenylist(key ed25519.PrivateKey, req *civicardv1.GetDenylistRequest) {
	req.Signature = ed25519.Sign(key, DenylistMessage(req))
}

// VerifyDenylist checks req.Signature against the terminal's public key.
func VerifyDenylist(publicKey []byte, req *civicardv1.GetDenylistRequest) error {
	return verifyVersioned(publicKey, denylistDomain, req)
}

// TariffMessage returns the bytes a terminal signs for a tariff request.
func TariffMessage(req *civicardv1.GetTariffRequest) []byte {
	return versionedMessage(tariffDomain, req)
}

// SignTariff sets req.Signature.
func SignTariff(key ed25519.PrivateKey, req *civicardv1.GetTariffRequest) {
	req.Signature = ed25519.Sign(key, TariffMessage(req))
}

// VerifyTariff checks req.Signature against the terminal's public key.
func VerifyTariff(publicKey []byte, req *civicardv1.GetTariffRequest) error {
	return verifyVersioned(publicKey, tariffDomain, req)
}
