package cardapp

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// Transmitter sends one command APDU to a card and returns its response
// APDU (data and status word). A PC/SC card connection is one; so is a
// *Card in tests (see Direct).
type Transmitter interface {
	Transmit(command []byte) ([]byte, error)
}

// Direct adapts a Card to a Transmitter, for tests without a reader.
type Direct struct{ Card *Card }

// Transmit implements Transmitter.
func (d Direct) Transmit(command []byte) ([]byte, error) { return d.Card.Process(command), nil }

// ErrNotGenuine means the card did not prove it holds the key of the card
// number it shows: a clone, or a card of another issuer. Refuse it at the
// reader.
var ErrNotGenuine = errors.New("card failed authentication")

// ErrWrongPIN means VERIFY refused the PIN; TriesLeft says how often it may
// still be tried.
type ErrWrongPIN struct{ TriesLeft int }

func (e *ErrWrongPIN) Error() string {
	if e.TriesLeft == 0 {
		return "wrong PIN: PIN blocked"
	}
	return fmt.Sprintf("wrong PIN: %d tries left", e.TriesLeft)
}

// StatusError is a status word other than 9000 where the exchange needs
// one.
type StatusError struct {
	Step string // "SELECT", "READ BINARY", ...
	SW   SW
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s: status %s", e.Step, e.SW) }

// TransportError wraps a failure to exchange an APDU at all: the card went
// away, the reader or pcscd failed.
type TransportError struct {
	Step string
	Err  error
}

func (e *TransportError) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// Authenticator is the terminal's side of the card application.
type Authenticator struct {
	master [KeySize]byte
	rand   io.Reader
}

// NewAuthenticator returns an authenticator for cards of the issuer whose
// master key is master; rand supplies the terminal's challenges
// (crypto/rand.Reader in production).
func NewAuthenticator(master []byte, rand io.Reader) (*Authenticator, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(master), KeySize)
	}
	if rand == nil {
		return nil, errors.New("rand is required")
	}
	a := &Authenticator{rand: rand}
	copy(a.master[:], master)
	return a, nil
}

// Authenticate runs the card application's exchange on a card just
// presented: SELECT, READ BINARY (the card number), GET CHALLENGE, INTERNAL
// AUTHENTICATE, and checks the card's MAC under the key diversified for the
// number it showed. It returns the card number of a genuine card, an error
// wrapping ErrNotGenuine for a card that fails the check, a *StatusError for
// a card that does not run the application as specified, and a
// *TransportError when the card could not be reached.
func (a *Authenticator) Authenticate(t Transmitter) (cardID string, err error) {
	if _, err := exchange(t, "SELECT", Command{CLA: CLA, INS: INSSelect, P1: p1SelectByAID, P2: p2FirstOrOnly, Data: AID}); err != nil {
		return "", err
	}
	id, err := exchange(t, "READ BINARY", Command{CLA: CLA, INS: INSReadBinary, Le: leMax})
	if err != nil {
		return "", err
	}
	if len(id) == 0 {
		return "", fmt.Errorf("READ BINARY: empty card number: %w", ErrNotGenuine)
	}
	cardChallenge, err := exchange(t, "GET CHALLENGE", Command{CLA: CLA, INS: INSGetChallenge, Le: ChallengeSize})
	if err != nil {
		return "", err
	}
	if len(cardChallenge) != ChallengeSize {
		return "", fmt.Errorf("GET CHALLENGE: %d bytes: %w", len(cardChallenge), ErrNotGenuine)
	}
	terminalChallenge := make([]byte, ChallengeSize)
	if _, err := io.ReadFull(a.rand, terminalChallenge); err != nil {
		return "", fmt.Errorf("terminal challenge: %w", err)
	}
	mac, err := exchange(t, "INTERNAL AUTHENTICATE", Command{CLA: CLA, INS: INSInternalAuthenticate, Data: terminalChallenge, Le: MACSize})
	if err != nil {
		var sw *StatusError
		if errors.As(err, &sw) {
			return "", fmt.Errorf("%w: %w", ErrNotGenuine, err)
		}
		return "", err
	}
	key, err := DiversifyKey(a.master[:], string(id))
	if err != nil {
		return "", err
	}
	want, err := authMAC(key[:], cardChallenge, terminalChallenge)
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare(mac, want[:]) != 1 {
		return "", fmt.Errorf("card %s: %w", id, ErrNotGenuine)
	}
	return string(id), nil
}

// VerifyPIN presents the holder's PIN to an authenticated card (for
// payments above the no-PIN limit). A refusal is an *ErrWrongPIN.
func VerifyPIN(t Transmitter, pin string) error {
	if !validPIN([]byte(pin)) {
		return errors.New("PIN must be 4 to 8 digits")
	}
	_, err := exchange(t, "VERIFY", Command{CLA: CLA, INS: INSVerify, P2: p2PIN, Data: []byte(pin)})
	var sw *StatusError
	if errors.As(err, &sw) {
		switch {
		case sw.SW == SWAuthMethodBlocked:
			return &ErrWrongPIN{}
		case sw.SW&0xFFF0 == SWPINTriesLeft:
			return &ErrWrongPIN{TriesLeft: int(sw.SW & 0x000F)}
		}
	}
	return err
}

// exchange sends cmd and returns the response data when the status is 9000.
func exchange(t Transmitter, step string, cmd Command) ([]byte, error) {
	b, err := cmd.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	raw, err := t.Transmit(b)
	if err != nil {
		return nil, &TransportError{Step: step, Err: err}
	}
	res, err := ParseResponse(raw)
	if err != nil {
		return nil, &TransportError{Step: step, Err: err}
	}
	if res.SW != SWOK {
		return nil, &StatusError{Step: step, SW: res.SW}
	}
	return res.Data, nil
}
