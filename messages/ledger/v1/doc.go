// Package ledgerv1 holds the commands, results and snapshot records of the
// ledger state machine (domain/ledger), generated from ledger.proto, and
// the card's tariff state as the ledger stores it (TariffState;
// domain/tariff/tariffpb converts). A Raft log entry holds one Batch of
// Commands; the state machine answers it with one Result per command, in
// order. A snapshot is a stream of SnapshotRecords (domain/ledger says in
// what order).
//
// Every .pb.go file is generated (`make generate`); this file is written by
// hand.
package ledgerv1
