package cardapp

// The civicard card application. Every instruction is an ISO 7816-4
// interindustry one, class 00, so a real card's applet implements the same
// exchange:
//
//	SELECT              00 A4 04 00 Lc AID            -> 9000
//	READ BINARY         00 B0 off off Le              -> card number (ASCII digits) 9000
//	GET CHALLENGE       00 84 00 00 10                -> RND.ICC (16) 9000
//	INTERNAL AUTHENTICATE 00 88 00 00 10 RND.IFD 10   -> CMAC(K_card, 02||RND.ICC||RND.IFD) 9000
//	VERIFY              00 20 00 81 Lc PIN            -> 9000 | 63Cx | 6983
//	VERIFY (status)     00 20 00 81                   -> 9000 if verified, else 63Cx
//
// INTERNAL AUTHENTICATE must come right after GET CHALLENGE (a challenge
// serves one command), and everything but SELECT needs the application
// selected; otherwise 6985. Wrong class 6E00, unknown instruction 6D00,
// wrong P1-P2 6A86, wrong Lc or Le 6700.

// AID is the application identifier: a proprietary (F-category) RID
// followed by "CIVICARD".
var AID = []byte{0xF0, 'C', 'I', 'V', 'I', 'C', 'A', 'R', 'D'}

// Instruction bytes.
const (
	CLA                     = 0x00
	INSSelect               = 0xA4
	INSReadBinary           = 0xB0
	INSGetChallenge         = 0x84
	INSInternalAuthenticate = 0x88
	INSVerify               = 0x20
)

// Parameters.
const (
	p1SelectByAID = 0x04
	p2FirstOrOnly = 0x00
	// p2PIN is the reference of the card's PIN (specific reference data 1).
	p2PIN = 0x81
)

// Sizes.
const (
	// ChallengeSize is the size of RND.ICC and RND.IFD.
	ChallengeSize = 16
	// PINSizeMin and PINSizeMax bound a PIN of ASCII digits.
	PINSizeMin = 4
	PINSizeMax = 8
	// PINTriesMax is how many wrong PINs in a row block VERIFY for good.
	PINTriesMax = 3
)

// ATR is the answer to reset of the virtual card: direct convention, T=0
// and T=1 offered, the historical bytes "CIVICARD01", and TCK.
var ATR = func() []byte {
	atr := []byte{0x3B, 0x8A, 0x80, 0x01}
	atr = append(atr, "CIVICARD01"...)
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}()
