// Package ledger is the double-entry ledger of the city card: a pure,
// deterministic state machine that a Raft FSM (cluster/replication) wraps.
// Commands go in, results come out; there is no clock, no randomness, no
// goroutine and no I/O other than writing and reading a snapshot, and no map
// iteration order reaches any output. Every replica that applies the same
// commands in the same order holds the same state, byte for byte: compare
// Freeze().Digest() to prove it.
//
// # Using it
//
//	s, err := ledger.New(ledger.DefaultConfig())
//	res := s.Apply(cmd)           // under the FSM's lock, once per committed command
//	f := s.Freeze()               // under the lock: cheap
//	f.WriteTo(sink)               // later, without the lock, while Apply goes on
//	s, err = ledger.Restore(cfg, snapshot)
//
// Apply the commands of a Raft entry's Batch in order, one Result each. Every
// replica must run with the same Config, and Restore with the Config the
// snapshot was taken under: the limits decide outcomes (Restore refuses a
// snapshot whose balances or currency the Config contradicts, but cannot see
// every difference).
//
// A State is not safe for concurrent use: the caller serialises Apply, the
// readers and Freeze. Apply's stored results and the Transactions it lists
// are shared with the ledger; marshal them freely, never mutate them.
//
// # Command kinds
//
// Every kind of command (a field of Command's oneof) has one row in the
// command table (commands.go): which Raft groups of a cluster apply it
// (its Route: the shard of its card, the registry, the registry and every
// shard, or a shard its sender names) and which handler applies it. Apply
// and the cluster's router both read the table; a command of a kind
// without a row is refused by both, never sent to a default. Adding a kind
// is a field in ledger.proto, a handler and one row: see commandKinds.
//
// # Reads
//
// A read of a ledger from anywhere in a cluster is a replication.v1.Query,
// and Answer (query.go) is what every kind of it means: a card, its
// transactions, an institution, a terminal, the tariff, the blocked cards,
// the node list, a cycle's totals and statements, the batches, the account
// totals. The Raft layer only carries a query to its group's leader and
// calls Answer there; it knows no kind. Adding a kind is a field in
// replication.proto and a case in Answer: a kind without one is an error
// (ErrUnknownQueryKind), and a test walks the oneof to find it.
//
// The registry group's ledger also holds a multi-node cluster's node list
// and the placement of its Raft groups (nodes.go): records that hold no
// money, replicated so that every node reconciles to one decision. A node
// goes active <-> draining -> removed, and never comes back under its name.
//
// The tariff is data too (tariff_registry.go): the region (the fare
// engine's common pricing policy) and each institution's price list, set
// by operators with who and why. The registry numbers every set one more
// than the last; each shard, which prices its cards' taps, is given the
// same set with the registry's number and keeps the highest it was given.
// A priced charge or a top-up names the versions it was decided under and
// is refused as stale (STATUS_STALE_VERSION, nothing recorded) once they
// changed, so no tap is charged by a list that was replaced before it
// committed.
//
// Every command that comes from outside (a tap, a top-up, a card's life, an
// operator's registration or tariff) keeps the digest of its request with
// its result: a retry must be the same request, another one under its id
// is a conflict (REJECT_REASON_CONFLICT, naming the id, nothing recorded),
// not a replay. What counts as the same request is set per kind in the
// command table (request.go): what the client sent, not what a grain
// computes again on each attempt.
//
// # Accounts and invariants
//
// There are five kinds of account: the funding account, which pays every
// top-up and so goes negative as money comes in; one e-purse per card; one
// receivable per institution, what the city owes it for the services its
// holders paid for; the payouts account, what was paid out to the
// institutions; the operator's fees account. Money only moves by transfers
// between two accounts (a top-up: funding to card; a charge: card to
// receivable; a refund: receivable to card; a replacement: card to card; a
// closing: card to funding; a payout: receivable to payouts and fees), so
// at all times
//
//	funding + Σ card balances + Σ receivables + payouts + fees == 0
//	0 <= card balance <= Config.BalanceMaxMinor (+ AmountMaxMinor after a refund)
//	receivable == Σ its postings - what payouts took from it
//
// A receivable may go below zero: a refund (a check-out, a correction) or a
// payout's fee can take more than the institution earned since its last
// payout (clearing carries the loss to its next one). A refund may take a
// card over its maximum by at most one purchase, since the money was the
// card's before.
//
// # Priced taps and the card's tariff state
//
// A tap priced by the fare engine (domain/tariff, which the ledger does
// not import) is one Charge with postings: the card pays an institution
// (> 0), an institution refunds the card (< 0), a use is recorded (0). With
// them comes the card's new tariff state (TariffState: concessions,
// passes, the journey in progress, cap and e-purse counters), which
// replaces the old one in the same step as the money, at the version the
// price was decided on: a state without its money would price the next tap
// wrongly. Refunds are applied first. A decline, the engine's (a limit) or
// the ledger's (blocked, closed, expired, short of money), is recorded with
// the amount refused and moves nothing; an offline tap is never declined
// and what the balance cannot cover becomes debt. Top-ups carry the
// e-purse's new counters the same way.
//
// # The card's life
//
// A personalised card is valid 48 months from its issue (OpenCard with an
// issue time; cards loaded without one have no expiry until renewed) and
// declined after. GrantEntitlement and RevokeEntitlement change its
// concessions; ReplaceCard opens the new card and moves onto it, in one
// command, the balance, the debt and the tariff state, and blocks the old
// card, which keeps nothing: both must be in this ledger (one shard; the
// router refuses a replacement across shards); RenewCard sets the expiry 48
// months from now; CloseCard pays the balance back to the funding account
// and closes the card for good (not with debt). Each carries an Audit (who,
// when, why) that its record keeps.
//
// # Clearing cycles and payouts
//
// Every transfer into or out of a receivable, by whatever command, is a
// posting (cycle.go). CycleClose{k} closes cycle k at its own place in the
// log: the postings since the previous close are cycle k, everything after
// it is cycle k+1, so every replica cuts at the same point while taps keep
// flowing, and a late offline tap lands in the cycle in which it arrived
// (its statement line keeps its own time). The close walks the cycle's
// postings once, deciding each transaction's fee (package clearing), and
// keeps the totals per institution. PayoutPost moves an institution's share
// of a closed cycle to the payouts and fees accounts; the registry's ledger
// records each cycle's SettlementBatch (payout.go). Their command ids are
// fixed by the cycle and institution (CycleCloseID, PayoutID ...), so the
// idempotency set makes each happen once, whoever sends it and however
// often (domain/settlement/cycle).
//
// A command handler decides a transfer on business grounds (blocked card,
// insufficient funds, balance maximum); the transfer is then checked again
// where it is applied, against the invariants and int64 overflow, before any
// balance changes. A failure there is a bug; it comes back as a rejection,
// never a panic and never a half-applied transfer. Check verifies all of it
// from scratch.
//
// # Idempotency
//
// Every command carries an id chosen by whoever sent it (a terminal's id and
// sequence, a request id), reused on retry. Raft may commit a retried command
// twice, and a client whose leader died cannot know whether its command was
// applied; so the first result of every id is stored, and a command whose id
// was seen returns that result with replayed set, whatever it now says. Every
// outcome is stored, rejections and declines included, except two that
// change nothing and must stay retryable: a stale version and a command with
// no valid id or no kind.
//
// # Versions: the ledger guards the money, not the grain
//
// A card grain decides a charge against the card it holds in memory. The
// actor cluster can activate the same grain twice for a moment, and two
// activations could each see enough money for their own tap. So a charge
// names the card version it was decided on, and the ledger applies it only at
// that version (STATUS_STALE_VERSION otherwise, with the current card, and
// nothing recorded): the grain reloads and decides again. Every change of the
// card's ledger state moves the version: a top-up, a charge (a free one too),
// the first block, every change of its life. A declined tap changes nothing
// and leaves the version where it was. A priced tap and a top-up with new
// counters are always checked against their version.
//
// # Snapshot format
//
// A snapshot is a stream of ledger.v1.SnapshotRecord messages, each preceded
// by its length as a uvarint (the framing of protodelim) and marshalled
// deterministically: the header (format version 1, ledger sequence, funding
// balance, the seeds in order, the receivables in institution id order, the
// number of records that follow), then the institutions, the terminals and
// the cards, each in id order, then every stored result in ledger order,
// then the closed cycles in order, the postings in runs of 65,536 (in
// columns, the institution as its index in id order), the batches in cycle
// order. The header also holds the payouts and fees accounts and, once a
// payout was posted, what payouts took from each receivable.
// The results carry no sequence of their own: the n results of a snapshot
// at sequence n are numbered 1..n, and Restore checks each transaction's
// ledger_sequence against that. Card histories are not written; Restore
// rebuilds them from the results. Restore refuses any record over 4 MiB, a
// wrong count, anything out of order, and any state that fails Check.
//
// # Users and the audit chain
//
// The registry keeps the API's users (users.go): a name, a role and its
// scope, the SHA-256 of an API token and its expiry. The ledger keeps them
// to their bounds and names and token hashes unique; what a role may do is
// the gateway's. A revoked user stays, so that no one else gets its name.
//
// Every ledger keeps an audit chain (audit_chain.go): each applied command
// that carries an audit record appends a link (sequence, command, kind,
// subject, who, when, why) with the SHA-256 of the link before it. The
// chain is built from the log alone, so replicas hold the same one; it is
// written last in the snapshot, and Restore refuses a chain whose links do
// not hold, naming the first broken one. It grows by one link per audited
// change and, like the results, is not pruned yet.
//
// # Memory, and what is not pruned yet
//
// The stored results are the idempotency set, and nothing removes them yet:
// they grow by one per command until clearing cycles bring pruning (dropping
// results older than a paid cycle, whose ids no client can still retry;
// the log is append-only today and a Frozen shares its prefix, so pruning
// must copy rather than cut in place). A result is kept small: ids and text
// are bounded (command id 128 bytes, card id 32, free text 256); a card
// command's result, card state, transaction and money are one allocation;
// the transaction is shared with the card's list, not copied. A stored
// charge costs about 0.8 KiB with its id and index entries
// (BenchmarkApplyCharge reports B/result), a priced tap, whose result keeps
// the card's tariff state of then, about 1.4 KiB
// (BenchmarkApplyPricedCharge), so a million taps a day is about 1.4 GiB a
// day per replica: pruning is due before long. Each card lists at
// most Config.HistoryMax transactions; older ones leave the list but stay
// in the results. The snapshot header names every institution and seed, so
// those are capped (10,000 and 1,024) to keep it far below the 4 MiB record
// limit. A posting costs 24 bytes more per charge; closing a cycle of 5
// million charges takes about 85 ms and 64 KiB (BenchmarkCycleClose5M),
// while the ledger holding them takes about 3.4 GiB.
package ledger
