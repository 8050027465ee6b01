// Package sim drives a running civicard from the outside, through the same
// gateway API and terminal credentials that real terminals use, and measures
// what it sees: taps per second, latency percentiles, results by kind.
//
// Load runs a fixed number of taps from a fixed number of concurrent
// terminals, each sending its next tap when the last one was answered (a
// closed loop, like a queue of passengers at a validator). Every tap is
// recorded with its terminal and sequence number, so the caller can check
// afterwards that each acknowledged tap is in the ledger exactly once.
package sim
