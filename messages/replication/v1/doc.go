// Package replicationv1 is the forwarding protocol between the replication
// hosts of a cluster (cluster/replication): a host that does not lead a
// Raft group hands a proposal, a read (Query) or a membership change to the
// host that does. replication.proto describes the framing on the wire.
//
// Every .pb.go file is generated (`make generate`); this file is written by
// hand.
package replicationv1
