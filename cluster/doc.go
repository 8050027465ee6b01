// Package cluster starts a civicard node: the actor system and cluster
// membership (protoactor-go), the grains of package actors, and the Raft
// group that holds the ledger (package settlement), all wired together.
//
// The embedded default (StartEmbedded) is one process: one cluster member
// with the in-memory membership provider, one Raft group with a single voter
// on disk, and on first start the city's demo data. Multi-node clusters add
// providers, shards and membership changes here without changing the grains.
//
// A node's data directory holds:
//
//	ledger/                    the Raft group: write-ahead log and snapshots
//	terminal-credential.key    secret from which the demo terminals' credentials are derived
//	operator.token             the credential of the operator API (CardService)
//
// Both secrets are created on first start, readable only by the owner.
package cluster
