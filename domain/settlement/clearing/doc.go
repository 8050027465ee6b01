// Package clearing decides what each institution is paid for a clearing
// cycle: the operator's fee on every transaction, the netting of every
// shard's closed totals into one settlement batch, and the sums a statement
// shows. It is pure and deterministic: no clock, no I/O, no map order in
// any output; the ledger (which closes cycles) and the settlement cycle
// (package cycle, which records batches) both call it, so the fee a
// statement line shows is, to the grosz, the fee the batch took.
//
// # Money of a cycle
//
// A posting moves money into an institution's receivable (a charge) or out
// of it (a refund, a correction). The postings of one ledger command to one
// institution make one transaction, and the fee is decided per transaction
// (LineFee): basis points of what was charged, rounded down, plus a fixed
// fee, never more than the charge; a correction gives back the percentage
// part of its amount. Per institution and cycle:
//
//	net = charged - corrections - fee
//
// A batch pays net plus what earlier batches carried (a loss to make good,
// or money held while the institution had no IBAN) when that is positive
// and the institution has a valid IBAN; otherwise it pays nothing and
// carries the sum to the next batch. Each shard keeps its own receivable of
// every institution, so the batch splits every payout into one part per
// shard, which that shard's PayoutPost moves: a part may be negative (the
// shard's postings were a loss the others cover), the parts sum to the
// payout.
package clearing
