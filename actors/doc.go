// Package actors holds the grains: one virtual actor per card, terminal and
// institution, hosted by the protoactor-go cluster.
//
// A grain is a cache and the single point of decision for its entity, not the
// guard of money. The cluster can briefly activate one identity twice, so the
// card grain's every proposal to the ledger carries the card version it decided
// on; the ledger (package ledger, replicated by package settlement) refuses a
// stale version and the grain reloads and decides again. A crash of a grain
// therefore loses nothing but its cache.
//
// The flow of a tap: the gateway hands a TerminalTap to the terminal grain,
// which checks the terminal's credential, drops retries it has already
// answered, finds the service in its institution's price list and asks the
// card grain to authorise. The card grain prices the purchase (package
// tariff), proposes a Charge at its version and answers once the ledger has
// committed it.
//
// Grains block on the ledger and the terminal grain blocks on the card grain:
// a grain serves one request at a time, which is what makes it the single
// writer of its entity. Calls only flow terminal -> card -> ledger, so they
// cannot wait on each other in a cycle.
package actors
