// Package procnode runs civicard as real operating-system processes —
// `civicard up`, or the `civicard node`s of a cluster — for the end-to-end
// tests, the benchmarks and `civicard sim --cluster`. It builds the binary
// once, starts each process on free loopback ports and a data directory of
// its own (in a network namespace when asked), waits until it takes taps,
// and can stop it gracefully, kill -9 it, signal it (SIGSTOP pauses it) and
// start it again on the same data.
package procnode
