package cardapp

import (
	"errors"
	"fmt"
)

// Command is a short ISO 7816-4 command APDU (cases 1, 2S, 3S and 4S).
// Extended length is not part of the card application and is refused.
type Command struct {
	CLA, INS, P1, P2 byte
	// Data is the command data (Lc bytes); nil when there is no Lc.
	Data []byte
	// Le is the expected response length: 0 when absent, 1..256 otherwise
	// (an Le byte of 0x00 means 256).
	Le int
}

// Limits of a short APDU.
const (
	commandHeaderSize = 4
	dataSizeMax       = 255
	leMax             = 256
	// CommandSizeMax is the longest short command APDU: header, Lc, 255
	// data bytes, Le.
	CommandSizeMax = commandHeaderSize + 1 + dataSizeMax + 1
)

// ErrMalformed is returned by ParseCommand for bytes that are no short
// command APDU. A card answers it with SWWrongLength.
var ErrMalformed = errors.New("malformed command APDU")

// ParseCommand decodes a short command APDU. It never panics and never
// keeps a reference to b.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < commandHeaderSize {
		return Command{}, fmt.Errorf("%w: %d bytes, header needs 4", ErrMalformed, len(b))
	}
	if len(b) > CommandSizeMax {
		return Command{}, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), CommandSizeMax)
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[commandHeaderSize:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2S: Le only
		c.Le = leValue(body[0])
	default:
		lc := int(body[0])
		if lc == 0 {
			// 00 followed by more bytes would be extended length.
			return Command{}, fmt.Errorf("%w: extended length is not supported", ErrMalformed)
		}
		switch len(body) {
		case 1 + lc: // case 3S
		case 1 + lc + 1: // case 4S
			c.Le = leValue(body[1+lc])
		default:
			return Command{}, fmt.Errorf("%w: Lc %d does not match %d body bytes", ErrMalformed, lc, len(body))
		}
		c.Data = append([]byte(nil), body[1:1+lc]...)
	}
	return c, nil
}

func leValue(b byte) int {
	if b == 0 {
		return leMax
	}
	return int(b)
}

// Bytes encodes c. It fails for data longer than 255 bytes or Le out of
// 0..256.
func (c Command) Bytes() ([]byte, error) {
	if len(c.Data) > dataSizeMax {
		return nil, fmt.Errorf("command data %d bytes, at most %d", len(c.Data), dataSizeMax)
	}
	if c.Le < 0 || c.Le > leMax {
		return nil, fmt.Errorf("expected length (Le) %d out of 0..%d", c.Le, leMax)
	}
	b := make([]byte, 0, CommandSizeMax)
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		b = append(b, byte(c.Le)) // 256 encodes as 0x00
	}
	return b, nil
}

func (c Command) String() string {
	return fmt.Sprintf("CLA=%02X INS=%02X P1=%02X P2=%02X Lc=%d Le=%d", c.CLA, c.INS, c.P1, c.P2, len(c.Data), c.Le)
}

// SW is a status word: SW1 in the high byte, SW2 in the low one.
type SW uint16

// The status words of the card application (ISO 7816-4, 5.1.3).
const (
	SWOK                     SW = 0x9000
	SWWrongLength            SW = 0x6700 // Lc or Le not what the instruction needs
	SWAuthMethodBlocked      SW = 0x6983 // PIN tries exhausted
	SWConditionsNotSatisfied SW = 0x6985 // wrong order: nothing selected, no challenge
	SWWrongData              SW = 0x6A80 // data field malformed (e.g. a PIN that is no PIN)
	SWFileNotFound           SW = 0x6A82 // SELECT of an unknown application
	SWWrongP1P2              SW = 0x6A86
	SWWrongOffset            SW = 0x6B00 // READ BINARY beyond the end
	SWINSNotSupported        SW = 0x6D00
	SWCLANotSupported        SW = 0x6E00
	SWPINTriesLeft           SW = 0x63C0 // | tries left (0..15)
)

func (sw SW) String() string { return fmt.Sprintf("%04X", uint16(sw)) }

// Response is a response APDU: data, then SW1 SW2.
type Response struct {
	Data []byte
	SW   SW
}

// Bytes encodes r.
func (r Response) Bytes() []byte {
	b := make([]byte, 0, len(r.Data)+2)
	b = append(b, r.Data...)
	return append(b, byte(r.SW>>8), byte(r.SW))
}

// ParseResponse decodes a response APDU: at least SW1 SW2.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("response APDU of %d bytes, want at least 2", len(b))
	}
	n := len(b) - 2
	return Response{Data: append([]byte(nil), b[:n]...), SW: SW(b[n])<<8 | SW(b[n+1])}, nil
}
