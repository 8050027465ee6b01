package ledger

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// The registry group's ledger also holds the cluster's node list and where
// each Raft group's replicas should be, so that every node reconciles to one
// replicated decision (see package cluster). These records hold no money.

// Bounds of the cluster records.
const (
	clusterNodesMax         = 256
	nodeNameBytesMax        = 32
	addressBytesMax         = 256
	placementsMax           = 257 // the registry and up to 256 shards
	groupNameBytesMax       = 64
	replicasPerPlacementMax = 7
)

// clusterState is the node list and the placement, by name and group.
type clusterState struct {
	// nodes hold records cloned on write and never mutated: a change of
	// status stores a new record.
	nodes map[string]*ledgerv1.ClusterNode
	// placements hold the replica set of each group. Invariant: every node
	// named is in nodes and not removed.
	placements map[string][]string
}

// ClusterNodes returns the cluster's node list, sorted by name.
func (s *State) ClusterNodes() []*ledgerv1.ClusterNode {
	out := make([]*ledgerv1.ClusterNode, 0, len(s.cluster.nodes))
	for _, n := range s.cluster.nodes {
		out = append(out, proto.Clone(n).(*ledgerv1.ClusterNode))
	}
	slices.SortFunc(out, func(a, b *ledgerv1.ClusterNode) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out
}

// Placements returns the replica set of every placed group, sorted by group.
func (s *State) Placements() []*ledgerv1.GroupPlacement {
	out := make([]*ledgerv1.GroupPlacement, 0, len(s.cluster.placements))
	for g, nodes := range s.cluster.placements {
		out = append(out, &ledgerv1.GroupPlacement{Group: g, Nodes: slices.Clone(nodes)})
	}
	slices.SortFunc(out, func(a, b *ledgerv1.GroupPlacement) int { return cmp.Compare(a.GetGroup(), b.GetGroup()) })
	return out
}

func invalid(format string, args ...any) *ledgerv1.Result {
	return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, format, args...)
}

func (s *State) addClusterNode(cmd *ledgerv1.AddClusterNode) *ledgerv1.Result {
	n := cmd.GetNode()
	if err := checkNodeName(n.GetName()); err != nil {
		return invalid("%v", err)
	}
	for _, addr := range []string{n.GetActorAddr(), n.GetRaftAddr()} {
		if err := checkHostPort(addr); err != nil {
			return invalid("node %s: %v", n.GetName(), err)
		}
	}
	if old, ok := s.cluster.nodes[n.GetName()]; ok {
		switch {
		case old.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_REMOVED:
			return rejected(ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "node %s was removed: a name is never used again", n.GetName())
		case old.GetActorAddr() != n.GetActorAddr() || old.GetRaftAddr() != n.GetRaftAddr():
			return rejected(ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "node %s is listed with other addresses (%s, %s)", n.GetName(), old.GetActorAddr(), old.GetRaftAddr())
		}
		return okResult()
	}
	for _, other := range s.cluster.nodes {
		if other.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_REMOVED {
			continue
		}
		if other.GetActorAddr() == n.GetActorAddr() || other.GetRaftAddr() == n.GetRaftAddr() ||
			other.GetActorAddr() == n.GetRaftAddr() || other.GetRaftAddr() == n.GetActorAddr() {
			return rejected(ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "node %s shares an address with node %s", n.GetName(), other.GetName())
		}
	}
	if len(s.cluster.nodes) >= clusterNodesMax {
		return invalid("the cluster already lists %d nodes, its maximum", clusterNodesMax)
	}
	if s.cluster.nodes == nil {
		s.cluster.nodes = map[string]*ledgerv1.ClusterNode{}
	}
	s.cluster.nodes[n.GetName()] = &ledgerv1.ClusterNode{
		Name: n.GetName(), ActorAddr: n.GetActorAddr(), RaftAddr: n.GetRaftAddr(), Status: ledgerv1.NodeStatus_NODE_STATUS_ACTIVE,
	}
	return okResult()
}

// setClusterNodeStatus allows active <-> draining and draining -> removed,
// the latter only once no placement names the node.
func (s *State) setClusterNodeStatus(cmd *ledgerv1.SetClusterNodeStatus) *ledgerv1.Result {
	old, ok := s.cluster.nodes[cmd.GetName()]
	if !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "node %s is not listed", clip(cmd.GetName()))
	}
	from, to := old.GetStatus(), cmd.GetStatus()
	if from == to {
		return okResult()
	}
	switch {
	case to == ledgerv1.NodeStatus_NODE_STATUS_ACTIVE && from == ledgerv1.NodeStatus_NODE_STATUS_DRAINING,
		to == ledgerv1.NodeStatus_NODE_STATUS_DRAINING && from == ledgerv1.NodeStatus_NODE_STATUS_ACTIVE:
	case to == ledgerv1.NodeStatus_NODE_STATUS_REMOVED && from == ledgerv1.NodeStatus_NODE_STATUS_DRAINING:
		if g := s.groupPlacedOn(cmd.GetName()); g != "" {
			return invalid("node %s still holds a replica of %s: wait for the drain to finish", cmd.GetName(), g)
		}
	default:
		return invalid("node %s is %s: it cannot become %s (active <-> draining -> removed)", cmd.GetName(), statusName(from), statusName(to))
	}
	next := proto.Clone(old).(*ledgerv1.ClusterNode)
	next.Status = to
	s.cluster.nodes[cmd.GetName()] = next
	return okResult()
}

// groupPlacedOn returns the first group (by name) whose placement names
// node, or "".
func (s *State) groupPlacedOn(node string) string {
	var groups []string
	for g, nodes := range s.cluster.placements {
		if slices.Contains(nodes, node) {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return ""
	}
	return slices.Min(groups)
}

func (s *State) placeGroup(p *ledgerv1.GroupPlacement) *ledgerv1.Result {
	if err := checkText("group", p.GetGroup(), groupNameBytesMax, true); err != nil {
		return invalid("%v", err)
	}
	if len(p.GetNodes()) == 0 || len(p.GetNodes()) > replicasPerPlacementMax {
		return invalid("group %s: %d replicas, want 1-%d", p.GetGroup(), len(p.GetNodes()), replicasPerPlacementMax)
	}
	for i, name := range p.GetNodes() {
		n, ok := s.cluster.nodes[name]
		if !ok {
			return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "group %s: node %s is not listed", p.GetGroup(), clip(name))
		}
		if n.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_REMOVED {
			return invalid("group %s: node %s was removed", p.GetGroup(), name)
		}
		if slices.Contains(p.GetNodes()[:i], name) {
			return invalid("group %s: node %s named twice", p.GetGroup(), name)
		}
	}
	if _, ok := s.cluster.placements[p.GetGroup()]; !ok && len(s.cluster.placements) >= placementsMax {
		return invalid("already %d groups placed, the maximum", placementsMax)
	}
	if s.cluster.placements == nil {
		s.cluster.placements = map[string][]string{}
	}
	s.cluster.placements[p.GetGroup()] = slices.Clone(p.GetNodes())
	return okResult()
}

func statusName(st ledgerv1.NodeStatus) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "NODE_STATUS_"))
}

func checkNodeName(name string) error {
	if err := checkText("node name", name, nodeNameBytesMax, true); err != nil {
		return err
	}
	if strings.ContainsAny(name, "/=, ") {
		return fmt.Errorf("node name %q: no '/', '=', ',' or spaces", name)
	}
	return nil
}

// checkHostPort accepts host:port with a port of 1-65535 (an IPv6 host in
// brackets). It parses the text only: the ledger does no network I/O.
func checkHostPort(addr string) error {
	if err := checkText("address", addr, addressBytesMax, true); err != nil {
		return err
	}
	i := strings.LastIndexByte(addr, ':')
	if i <= 0 {
		return fmt.Errorf("address %q: want host:port", addr)
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("address %q: port must be 1-65535", addr)
	}
	if host := addr[:i]; strings.ContainsAny(host, " /") || strings.Contains(host, ":") && !(strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")) {
		return fmt.Errorf("address %q: bad host", addr)
	}
	return nil
}

// freeze copies the cluster records for a snapshot, sorted.
func (c clusterState) freeze() ([]*ledgerv1.ClusterNode, []*ledgerv1.GroupPlacement) {
	s := State{cluster: c}
	var nodes []*ledgerv1.ClusterNode
	if len(c.nodes) > 0 {
		nodes = s.ClusterNodes()
	}
	var placements []*ledgerv1.GroupPlacement
	if len(c.placements) > 0 {
		placements = s.Placements()
	}
	return nodes, placements
}

// restoreCluster reads the cluster records of a snapshot header, checking
// what Apply guarantees.
func (s *State) restoreCluster(h *ledgerv1.SnapshotHeader) error {
	if len(h.GetClusterNodes()) > clusterNodesMax || len(h.GetPlacements()) > placementsMax {
		return fmt.Errorf("%d cluster nodes and %d placements, more than %d and %d", len(h.GetClusterNodes()), len(h.GetPlacements()), clusterNodesMax, placementsMax)
	}
	for i, n := range h.GetClusterNodes() {
		if i > 0 && n.GetName() <= h.GetClusterNodes()[i-1].GetName() {
			return fmt.Errorf("cluster node %s not in increasing order", clip(n.GetName()))
		}
		if err := checkNodeName(n.GetName()); err != nil {
			return err
		}
		if n.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_UNSPECIFIED {
			return fmt.Errorf("cluster node %s has no status", n.GetName())
		}
		if s.cluster.nodes == nil {
			s.cluster.nodes = map[string]*ledgerv1.ClusterNode{}
		}
		s.cluster.nodes[n.GetName()] = proto.Clone(n).(*ledgerv1.ClusterNode)
	}
	for i, p := range h.GetPlacements() {
		if i > 0 && p.GetGroup() <= h.GetPlacements()[i-1].GetGroup() {
			return fmt.Errorf("placement of %s not in increasing order", clip(p.GetGroup()))
		}
		for _, name := range p.GetNodes() {
			if n, ok := s.cluster.nodes[name]; !ok || n.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_REMOVED {
				return fmt.Errorf("placement of %s names node %s, which is not listed or removed", p.GetGroup(), clip(name))
			}
		}
		if s.cluster.placements == nil {
			s.cluster.placements = map[string][]string{}
		}
		s.cluster.placements[p.GetGroup()] = slices.Clone(p.GetNodes())
	}
	return nil
}
