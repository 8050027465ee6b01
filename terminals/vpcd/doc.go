// Package vpcd inserts virtual cards into the vpcd virtual reader of
// vsmartcard, so that pcscd, and every PC/SC client above it, sees a card
// that is a Go value (a cardapp.Card). It is pure Go: the card connects to
// the reader's TCP port, and the connection's life is the card's presence.
//
// The wire protocol, both ways: a 2-byte big-endian length, then that many
// bytes. From the reader, a 1-byte payload is a control byte (0 power off,
// 1 power on, 2 reset, 4 "send the ATR", only 4 is answered); anything longer
// is a command APDU, answered with a response APDU.
//
// vpcd listens on every interface without authentication: this is a test
// and demonstration tool, never part of a production terminal.
package vpcd
