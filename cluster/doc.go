// Package cluster starts a civicard node: the actor system and cluster
// membership (protoactor-go), the grains of package actors, and this node's
// replicas of the Raft groups that hold the ledger (package settlement),
// all wired together.
//
// Every node is a member of a cluster, the embedded default included:
//
//   - StartEmbedded is a cluster of one, in one process: the in-memory
//     membership provider, and the registry group and one ledger shard with
//     this node as their only voter.
//   - StartNode is one of several processes: the automanaged membership
//     provider over a static peer list, and the registry and shards placed
//     by NewLayout on three nodes each (topology.go). A node replicates the
//     groups naming it and reaches the others through settlement's
//     forwarding; the grains reach every group through routedLedger
//     (router.go), which sends a card's commands to its shard.
//
// Both build a startSpec and call start (start.go), so the embedded node
// runs exactly the code a cluster runs.
//
// Every node with a ledger has a Settler (settle.go): it serves the
// SettlementService and, on the node whose replica leads the registry,
// closes clearing cycles on schedule and finishes any cycle a previous
// leader left half done (package coordinator). A leader that loses the
// registry mid-way and a new one may both run the steps: each is
// idempotent by its id, so that costs nothing but a repeat.
//
// A node's data directory holds:
//
//	raft/<group>/              each Raft group it replicates: log, snapshots
//	terminal-credential.key    secret from which the demo terminals' credentials are derived
//	operator.token             the credential of the operator API
//
// The secrets live in the secrets directory instead when one is given (the
// same files on every node of a cluster); they are created on first start,
// readable only by the owner, and the first node to create one wins.
package cluster
