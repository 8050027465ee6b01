// Package actors holds the grains: one virtual actor per card, terminal and
// institution, hosted by the protoactor-go cluster.
//
// A grain is a cache and the single point of decision for its entity, not the
// guard of money. The cluster can briefly activate one identity twice, so the
// card grain's every proposal to the ledger carries the card version it decided
// on; the ledger (domain/ledger, replicated by cluster/replication) refuses
// a stale version and the grain reloads and decides again. A crash of a grain
// therefore loses nothing but its cache.
//
// The flow of a tap: the gateway hands a TerminalTap to the terminal grain,
// which checks the terminal's credential, drops retries it has already
// answered and asks the card grain to authorise, passing on the
// institution, where (line, stop, direction) and whether the PIN was
// verified. The card grain prices the tap with the fare engine under the
// region and the institution's price list as the card's ledger shard holds
// them (Deps.Tariffs: operators set them in the registry, every shard
// follows; each node reads them on first use and keeps them by version),
// on the card's tariff state as the ledger holds it (domain/tariff/tariffpb
// converts), proposes one Charge with the postings, the new state and the
// tariff versions at the card's version, and answers once the ledger has
// committed it. A charge priced by a list replaced meanwhile is refused as
// stale like one decided on an old card version: the grain reads the
// tariff again and prices again, so a tap is charged by the list in force
// when it commits, and records its versions. Engine declines about the card (a limit, the amount, a full card) are
// recorded as declined taps; those about the input (a product not sold, a
// place unknown) are INVALID_ARGUMENT and change nothing.
//
// The card grain also runs the card's life (Change: issue, concessions,
// replacement, renewal, closing) and corrections on request (Correct), each
// one ledger command under an id derived from the operator's request id,
// with an audit record. A refused top-up or correction is recorded under
// its id too, so that the retry of one that went through gets the first
// answer rather than a refusal computed on the state it left.
//
// Kinds makes a node's grain kinds with that node's Deps: the generated
// NewXKind (messages/grains/v1, by internal/protoc-gen-civicard-grain)
// keeps each kind's grain factory in the kind itself, not in a package
// variable, so nodes in one process never share their grains' Deps.
//
// Grains block on the ledger and the terminal grain blocks on the card grain:
// a grain serves one request at a time, which is what makes it the single
// writer of its entity. Calls only flow terminal -> card -> ledger, so they
// cannot wait on each other in a cycle.
package actors
