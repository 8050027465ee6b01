// Package cardno checks and makes card numbers.
//
// A card number is the card's id everywhere in civicard: printed on the card,
// typed by a holder or an operator, read by a terminal, used as the ledger's
// account key. It is 12 decimal digits: an 11-digit body and a Luhn check
// digit, so that a mistyped digit or two swapped neighbours are caught at the
// edge (the gateway) before anything asks the ledger about a card that does
// not exist.
//
// Use [Valid] wherever a card number comes in from outside, and [Make] where
// one is issued. The package is pure: no I/O, no state.
package cardno
