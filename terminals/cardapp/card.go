package cardapp

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"
)

// CardConfig describes one card for the virtual card.
type CardConfig struct {
	// CardID is what READ BINARY returns, e.g. "320000002990".
	CardID string
	// Key is the card's own key: DiversifyKey(master, CardID) for a genuine
	// card, anything else for a clone.
	Key [KeySize]byte
	// PIN of 4 to 8 ASCII digits; empty: VERIFY always fails.
	PIN string
	// Rand supplies challenges (crypto/rand.Reader in production).
	Rand io.Reader
}

// Validate rejects a configuration a card could not run with.
func (c CardConfig) Validate() error {
	if c.CardID == "" || len(c.CardID) > dataSizeMax {
		return fmt.Errorf("card id of %d bytes, want 1..%d", len(c.CardID), dataSizeMax)
	}
	if c.PIN != "" && !validPIN([]byte(c.PIN)) {
		return errors.New("PIN must be 4 to 8 ASCII digits")
	}
	if c.Rand == nil {
		return errors.New("a random source (Rand) is required")
	}
	return nil
}

// Card is the card application in Go: what the real cards' applet does,
// for the virtual card and for tests. It is safe for concurrent use; a
// reader serialises its APDUs anyway.
type Card struct {
	cfg CardConfig

	mu sync.Mutex
	// Session state, cleared by Reset (power cycle).
	selected    bool
	challenge   []byte // RND.ICC of the last GET CHALLENGE; nil when none is pending
	pinVerified bool
	// Persistent state (EEPROM on a real card).
	pinTriesLeft int
}

// NewCard returns a powered-up card with nothing selected.
func NewCard(cfg CardConfig) (*Card, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Card{cfg: cfg, pinTriesLeft: PINTriesMax}, nil
}

// Reset is a power cycle or warm reset: the session state goes, the PIN
// try counter stays.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.selected, c.challenge, c.pinVerified = false, nil, false
}

// Process answers one command APDU with a response APDU. It never fails:
// every error is a status word.
func (c *Card) Process(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.process(apdu).Bytes()
}

func (c *Card) process(apdu []byte) Response {
	// A challenge serves the one command after GET CHALLENGE, whatever it is.
	challenge := c.challenge
	c.challenge = nil
	cmd, err := ParseCommand(apdu)
	if err != nil {
		if len(apdu) >= 2 && apdu[0] != CLA {
			return Response{SW: SWCLANotSupported}
		}
		return Response{SW: SWWrongLength}
	}
	if cmd.CLA != CLA {
		return Response{SW: SWCLANotSupported}
	}
	switch cmd.INS {
	case INSSelect:
		return c.selectApp(cmd)
	case INSReadBinary, INSGetChallenge, INSInternalAuthenticate, INSVerify:
	default:
		return Response{SW: SWINSNotSupported}
	}
	if !c.selected {
		return Response{SW: SWConditionsNotSatisfied}
	}
	switch cmd.INS {
	case INSReadBinary:
		return c.readBinary(cmd)
	case INSGetChallenge:
		return c.getChallenge(cmd)
	case INSInternalAuthenticate:
		return c.internalAuthenticate(cmd, challenge)
	default:
		return c.verify(cmd)
	}
}

func (c *Card) selectApp(cmd Command) Response {
	if cmd.P1 != p1SelectByAID || (cmd.P2 != p2FirstOrOnly && cmd.P2 != 0x0C) {
		return Response{SW: SWWrongP1P2}
	}
	if len(cmd.Data) == 0 {
		return Response{SW: SWWrongLength}
	}
	// Selecting anything else deselects us, as on a multi-application card.
	c.selected, c.pinVerified = false, false
	if !bytes.Equal(cmd.Data, AID) {
		return Response{SW: SWFileNotFound}
	}
	c.selected = true
	return Response{SW: SWOK}
}

func (c *Card) readBinary(cmd Command) Response {
	if cmd.P1&0x80 != 0 { // short EF identifier: there is no other file
		return Response{SW: SWWrongP1P2}
	}
	if cmd.Data != nil {
		return Response{SW: SWWrongLength}
	}
	offset := int(cmd.P1)<<8 | int(cmd.P2)
	content := c.cfg.CardID
	if offset > len(content) {
		return Response{SW: SWWrongOffset}
	}
	rest := content[offset:]
	if cmd.Le > 0 && cmd.Le < len(rest) {
		rest = rest[:cmd.Le]
	}
	// Le 00 (256) or more than is left: what is left, as ISO allows.
	return Response{Data: []byte(rest), SW: SWOK}
}

func (c *Card) getChallenge(cmd Command) Response {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return Response{SW: SWWrongP1P2}
	}
	if cmd.Data != nil || cmd.Le != ChallengeSize {
		return Response{SW: SWWrongLength}
	}
	challenge := make([]byte, ChallengeSize)
	if _, err := io.ReadFull(c.cfg.Rand, challenge); err != nil {
		return Response{SW: 0x6F00} // no precise diagnosis
	}
	c.challenge = challenge
	return Response{Data: append([]byte(nil), challenge...), SW: SWOK}
}

func (c *Card) internalAuthenticate(cmd Command, challenge []byte) Response {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return Response{SW: SWWrongP1P2}
	}
	if len(cmd.Data) != ChallengeSize || (cmd.Le != 0 && cmd.Le != MACSize && cmd.Le != leMax) {
		return Response{SW: SWWrongLength}
	}
	if challenge == nil {
		return Response{SW: SWConditionsNotSatisfied}
	}
	mac, err := authMAC(c.cfg.Key[:], challenge, cmd.Data)
	if err != nil {
		return Response{SW: 0x6F00}
	}
	return Response{Data: mac[:], SW: SWOK}
}

func (c *Card) verify(cmd Command) Response {
	if cmd.P1 != 0 || cmd.P2 != p2PIN {
		return Response{SW: SWWrongP1P2}
	}
	if c.pinTriesLeft == 0 {
		return Response{SW: SWAuthMethodBlocked}
	}
	if cmd.Data == nil { // case 1: ask the state
		if c.pinVerified {
			return Response{SW: SWOK}
		}
		return Response{SW: SWPINTriesLeft | SW(c.pinTriesLeft)}
	}
	if !validPIN(cmd.Data) {
		return Response{SW: SWWrongData}
	}
	if c.cfg.PIN != "" && subtle.ConstantTimeCompare(cmd.Data, []byte(c.cfg.PIN)) == 1 {
		c.pinTriesLeft, c.pinVerified = PINTriesMax, true
		return Response{SW: SWOK}
	}
	c.pinVerified = false
	c.pinTriesLeft--
	if c.pinTriesLeft == 0 {
		return Response{SW: SWAuthMethodBlocked}
	}
	return Response{SW: SWPINTriesLeft | SW(c.pinTriesLeft)}
}

func validPIN(pin []byte) bool {
	if len(pin) < PINSizeMin || len(pin) > PINSizeMax {
		return false
	}
	for _, d := range pin {
		if d < '0' || d > '9' {
			return false
		}
	}
	return true
}
