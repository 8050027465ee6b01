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
//   - StartNode is one of several processes: a membership provider (by
//     default automanaged over the static peer list; Consul, etcd or
//     Kubernetes in a binary built with their tag, provider.go), and the
//     registry and shards placed by NewLayout on three nodes each
//     (topology.go). A node replicates the groups naming it and reaches the
//     others through settlement's forwarding; the grains reach every group
//     through routedLedger (router.go), which sends a card's commands to
//     its shard.
//
// The actor library never takes back a member it has declared dead. So a
// cluster node watches for the two ways of being declared dead while still
// running — a long pause (pause.go) and being cut off from most of the
// cluster (quorum.go) — and then fails with ErrRestartRequired, for its
// supervisor to start it again as a new member. Money is safe meanwhile
// either way: a cut-off node cannot commit, and a card grain active on
// both sides of a split is held to the ledger's card versions.
//
// Both build a startSpec and call start (start.go), so the embedded node
// runs exactly the code a cluster runs.
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
