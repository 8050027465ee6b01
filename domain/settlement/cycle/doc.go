// Package cycle runs a clearing cycle to its paid settlement batch
// over the ledger's Raft groups: close the cycle in every shard, read each
// shard's closed totals, net them into a batch (package clearing), record
// the batch in the registry, post each institution's payout in every
// shard, mark the batch paid.
//
// Every step is a ledger command whose id is decided by the cycle (and the
// institution): "settle/cycle/k", "settle/batch/k", "settle/payout/k/<id>",
// "settle/paid/k". The ledger answers a repeated id with its first result,
// so running the steps again — a retry, or a new registry leader that finds
// the batch half done after its predecessor died — changes nothing that
// was done and does what was not. What a step decides (the close's fee
// policy, the batch's numbers) is read back from the ledger before the next
// step uses it, so a re-run follows the first run's decisions, not its own.
//
// It does no I/O itself and reads no clock: Ledgers is the cluster's
// replication host in production (cluster/settle.go) and plain ledger
// states in tests, and Config.Now, the clock that stamps the close and the
// batch, is the caller's.
//
// # Which cycle
//
// Batches are recorded in cycle order and a cycle is closed only after the
// previous batch is paid, so at any time at most one cycle is in flight:
// Pending finds it (a recorded batch not yet paid, or a cycle closed in
// some shard without a batch). Settle(0) finishes the pending cycle if
// there is one and otherwise closes the open one.
package cycle
