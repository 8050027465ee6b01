package cluster

import (
	"slices"
	"strings"
	"time"

	"civicard/cluster/replication"
	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
)

// Describe tells an operator what this node hosts: the members it sees, its
// grains by kind and its replicas of the ledger.
func (n *Node) Describe(withDigests bool) *civicardv1.GetNodeResponse {
	out := &civicardv1.GetNodeResponse{Name: n.name, Grains: map[string]int32{}}
	for _, m := range n.Cluster.MemberList.Members().Members() {
		out.Members = append(out.Members, m.Address())
	}
	slices.Sort(out.Members)
	for _, kind := range grainKinds() {
		if k, ok := n.Cluster.TryGetClusterKind(kind); ok {
			out.Grains[kind] = k.Count()
		}
	}
	if n.describeLedger != nil {
		out.Groups = n.describeLedger(withDigests)
	}
	if n.scaler != nil && !n.scaler.membersOnly {
		if view, ok := n.scaler.currentView(); ok {
			if self := view.node(n.name); self != nil {
				out.ActorAddr, out.RaftAddr, out.Status = self.GetActorAddr(), self.GetRaftAddr(), statusText(self.GetStatus())
			}
		}
		if out.RaftAddr == "" {
			out.RaftAddr = n.scaler.host.Addr()
		}
		if out.ActorAddr == "" {
			out.ActorAddr = n.Cluster.ActorSystem.Address()
		}
	}
	return out
}

// describeHost is a cluster node's replicas.
func describeHost(host *replication.Host) func(bool) []*civicardv1.GroupReplica {
	return func(withDigests bool) []*civicardv1.GroupReplica {
		var out []*civicardv1.GroupReplica
		for _, status := range host.Groups() {
			replica := &civicardv1.GroupReplica{
				Group:        status.Name,
				State:        status.State,
				Leader:       status.Leader.NodeID,
				CommitIndex:  status.CommitIndex,
				AppliedIndex: status.AppliedIndex,
				LastIndex:    status.LastIndex,
				// The log entries not applied yet, and how long since the
				// leader was last heard: together, how far behind it is.
				ApplyLagEntries: status.LastIndex - min(status.LastIndex, status.AppliedIndex),
			}
			if status.State != "Leader" && !status.LastContact.IsZero() {
				replica.LeaderContactAgeMs = time.Since(status.LastContact).Milliseconds()
			}
			for _, p := range status.Voters {
				replica.Voters = append(replica.Voters, p.NodeID)
			}
			for _, p := range status.Nonvoters {
				replica.Nonvoters = append(replica.Nonvoters, p.NodeID)
			}
			_ = host.ReadLocal(status.Name, func(s *ledger.State) { replica.Totals = s.LedgerTotals() })
			if withDigests {
				if digest, err := host.Digest(status.Name); err == nil {
					replica.Digest = digest[:]
				}
			}
			out = append(out, replica)
		}
		slices.SortFunc(out, func(a, b *civicardv1.GroupReplica) int { return strings.Compare(a.Group, b.Group) })
		return out
	}
}
