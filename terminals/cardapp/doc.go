// Package cardapp is civicard's card application as ISO 7816-4 APDUs, both
// sides: Card is what the card (its applet, or the virtual card) answers,
// Authenticator is what the terminal sends and checks. It is pure: no cgo,
// no reader, no network; the readers (package pcsc, behind the "pcsc" build
// tag) and the virtual card's transport (package vpcd) plug in through
// Transmitter and Card.Process.
//
// # Proving a card genuine
//
// The issuer holds one AES-128 master key. Each card holds only its own key,
// diversified from the master by its number:
//
//	K_card = AES-CMAC(master, 0x01 || card number)
//
// A terminal holding the master key authenticates a card presented to it:
//
//	SELECT AID                     the civicard application
//	READ BINARY                    the card number N it claims
//	GET CHALLENGE                  RND.ICC, 16 bytes from the card
//	INTERNAL AUTHENTICATE RND.IFD  the card answers AES-CMAC(K_card, 0x02 || RND.ICC || RND.IFD)
//
// and compares the answer, in constant time, with the MAC under the key
// diversified for N. A clone that copied the number but not the key fails;
// fresh challenges on both sides keep a recorded answer from being replayed
// (the terminal's) and the card from being used as a MAC oracle for chosen
// inputs (the card's). CMAC is RFC 4493; its test vectors are in the tests.
//
// The exchanges and status words are listed in app.go and written out as
// scripts in testdata/, which a reviewer can read without reading Go.
package cardapp
