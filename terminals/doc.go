// Package terminals is the software on a validator, a library desk or a pool
// gate: it sends the terminal's taps to the gateway and shows the answer.
//
// A tap is identified by the terminal's id and its own sequence number, so a
// terminal that hears no answer sends the very same tap again and is charged
// at most once. Client does exactly that, a bounded number of times, for
// answers that leave the outcome unknown (UNAVAILABLE, DEADLINE_EXCEEDED).
// A client made with NewSigningClient signs every tap with the terminal's
// ed25519 key (package tapsig) instead of sending a bearer credential.
//
// The subpackages: cardapp is the card application (APDUs, both sides);
// pcsc reads cards through PC/SC (build tag "pcsc"); vpcd puts a Go card
// into the vpcd virtual reader; station runs a whole terminal, online and
// offline.
package terminals
