package cluster

import (
	"slices"
	"strings"

	"civicard/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/settlement"
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
	return out
}

// describeHost is a cluster node's replicas.
func describeHost(host *settlement.Host) func(bool) []*civicardv1.GroupReplica {
	return func(withDigests bool) []*civicardv1.GroupReplica {
		var out []*civicardv1.GroupReplica
		for _, status := range host.Groups() {
			replica := &civicardv1.GroupReplica{
				Group:        status.Name,
				State:        status.State,
				Leader:       status.Leader.NodeID,
				CommitIndex:  status.CommitIndex,
				AppliedIndex: status.AppliedIndex,
			}
			for _, p := range status.Voters {
				replica.Voters = append(replica.Voters, p.NodeID)
			}
			for _, p := range status.Nonvoters {
				replica.Nonvoters = append(replica.Nonvoters, p.NodeID)
			}
			_ = host.ReadLocal(status.Name, func(s *ledger.State) { replica.Totals = settlement.Totals(s) })
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
