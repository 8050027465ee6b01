// Package cluster starts a civicard node: the actor system and cluster
// membership (protoactor-go), the grains of package actors, and this node's
// replicas of the Raft groups that hold the ledger (cluster/replication),
// all wired together.
//
// Every node is a member of a cluster, the embedded default included:
//
//   - StartEmbedded is a cluster of one, in one process: the in-memory
//     membership provider, and the registry group and one ledger shard with
//     this node as their only voter.
//   - StartNode is one of several processes: a membership provider (by
//     default the automanaged protocol over the replicated node list, see
//     Scaling below; Consul, etcd or Kubernetes in a binary built with
//     their tag, provider.go). A new cluster's nodes are given the same
//     peer list (--peers); the registry and shards are placed by NewLayout
//     on three nodes each (topology.go). A node replicates the groups
//     naming it and reaches the others through replication's forwarding; the
//     grains reach every group through routedLedger (router.go), which
//     sends a card's commands to its shard. Every read of a group's ledger
//     from here (a card, a statement, the node list) is one of ledgerReads
//     (reads.go): a query its leader answers from its ledger.
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
// # Start and stop
//
// A node is an ordered list of components (lifecycle.go), each with a
// start, a stop with its own bound, and, for some, a readiness and a
// hand-over. The node starts them in this order and stops them in the
// reverse order:
//
//	   component            start                                   stop (its bound)
//	1  raft groups          open the host, join or restart the      close every group (10 s)
//	                        replicas, wait for every group's leader
//	2  settlement schedule  the Settler; its schedule runs          the schedule ends (5 s)
//	3  seed                 the demo city, when given (first node)  nothing to stop
//	4  actor member         the grains, the member                  shut down (5 s + leave grace)
//	5  scaler               follow the node list, move replicas     the loop ends (1 s)
//	6  pause watch          fail after a long pause                 the loop ends (1 s)
//	7  quorum watch         fail when cut off from most nodes       the loop ends (1 s)
//
// Each needs only those before it. The settlement schedule, the seed
// and the grains write to the Raft groups, so the groups come first and go
// last: nothing outlives the ledger it writes to. The seed (the demo city) is
// loaded before the grains exist, so no tap meets a city half loaded. The member
// is what other nodes reach; the scaler (which changes the hosts the
// member polls and the nodes the quorum watch counts) and the watches
// (which read the member's list) come after it, and stop before it.
//
// A stop begins, unless the node was taken for dead, with the hand-overs,
// in start order: the groups this node leads get another leader (a planned
// stop costs no election, handOverTimeout), then a cluster node's member
// leaves the membership and waits three membership polls for the others
// to notice (they activate its grains elsewhere, while calls already
// routed here are still answered). Then each component stops, in the reverse order, each
// within its bound: one that overruns is logged as stuck and left behind,
// and the next one stops. A node taken for dead (ErrRestartRequired) hands
// nothing over, nobody would take it, and stops within lostStopMax
// (2 s); its process ends within 3 s of the failure whatever happens
// (cmd/civicard), as after a crash, which the ledger is built to survive.
//
// The node is ready (/healthz) when every component is: every group has a
// leader it knows, the node is not draining (scaler), and it sees a quorum
// of the cluster (quorum watch).
//
// The embedded node has the groups, the schedule, the seed and the
// member. A gateway has a route to the registry in place of the groups (it
// replicates nothing), a member hosting no grains, the scaler and the
// watches. The HTTP gateway is not a component: cmd/civicard starts it
// once the node is up, and stops it (draining requests) before
// Node.Close.
//
// Every node with a ledger has a Settler (settle.go): it serves the
// SettlementService and, on the node whose replica leads the registry,
// closes clearing cycles on schedule and finishes any cycle a previous
// leader left half done (domain/settlement/cycle). A leader that loses the
// registry mid-way and a new one may both run the steps: each is
// idempotent by its id, so that costs nothing but a repeat.
//
// # Scaling: adding, draining and removing nodes
//
// The peer list is only where a cluster starts. What holds afterwards is
// replicated in the registry group (domain/ledger/nodes.go): the node list
// (name, actor and Raft address, status active, draining or removed) and
// the placement, the nodes each Raft group should have replicas on. The nodes
// of a new cluster seed both from the layout, with fixed command ids, so
// whichever node does it first wins and the others replay. Every node of a
// multi-node cluster runs a scaler (scaling.go) that reads both every
// 500 ms and reconciles to them:
//
//   - Membership: the node's provider (nodelist_provider.go, the
//     automanaged provider's health protocol over a host list that can
//     change) polls the active nodes of the list, so a node added later is
//     seen by all, and a draining node leaves every member's topology, its
//     own included. The rendezvous placement of grains (placement/) then
//     moves grains onto a new member, and off a draining one, by itself.
//   - Replicas: a node starts an empty replica of each group placed on it,
//     routes to every group through its placement, and stops and deletes a
//     replica once the group's leader no longer counts it as a member.
//   - On the registry's leader only, the orchestrator: for each group whose
//     Raft configuration differs from its placement it takes the next step,
//     in the order that never loses a quorum (add before remove): add the
//     new replica as a non-voter, wait until it has caught up with the
//     leader's commit index, promote it, move the leadership off a replica
//     that goes (leadership transfer), remove that replica. When every
//     group matches, it plans again (PlanPlacement, pure: draining nodes'
//     replicas go to the least loaded active nodes, then replicas move from
//     the busiest node to the idlest while they differ by two or more) and
//     writes the placements that change. Each step is decided from what
//     the replicas report at that moment, so a retry, or a new registry
//     leader, finishes what another began.
//
// The operator only changes the list (AdminService: AddNode, DrainNode,
// RemoveNode; `civicard admin nodes add|drain|remove`). A new node starts
// with --join (the Raft addresses of running nodes, asked for the list) and
// hosts nothing until it is added. A draining node answers /healthz with
// 503 and hosts no grain from the next membership poll on; once no group
// counts it a member, RemoveNode marks it removed and its process exits. A
// tap in flight on a moving grain or replica fails with UNAVAILABLE and is
// retried by the terminal with the same sequence; the ledger answers a
// repeat with its first result, so a retry is never charged twice.
//
// A gateway (civicard gateway) follows the node list too, read through a
// replication host that replicates nothing. The shard count stays what the
// cluster was created with.
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
