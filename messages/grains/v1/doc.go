// Package grainsv1 holds the grain services, one virtual actor per card,
// terminal and institution (grains.proto), and the messages between grains
// that are not part of the public API (messages.proto). The grain generator
// of protoactor-go writes the dispatch (grains_grain.pb.go), so a grain is a
// typed implementation of its service (package actors).
//
// It links the actor library, so domain/ may not import it
// (internal/puritycheck refuses it). Every .pb.go file is generated (`make
// generate`); this file is written by hand.
package grainsv1
