// Package station is the software of one terminal: a validator, a library
// desk, a pool gate. For every card presented at one of its readers it
// authenticates the card (package cardapp), builds the tap with the
// terminal's own sequence number, signs it (package tapsig), sends it to the
// gateway and shows the answer. A card that fails authentication is refused
// at the reader and never reaches the gateway.
//
// It is pure Go: readers come in through the Reader interface, which
// cmd/civicard implements over package pcsc (build tag "pcsc").
package station
