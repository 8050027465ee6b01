package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"civicard/cluster/replication"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// The operator's node commands (gateway.NodeAdmin): they only change the
// node list in the registry; the scalers of every node do the rest.

// refusedError is a node command the cluster understood and refused.
type refusedError struct{ reason string }

func (e refusedError) Error() string { return e.reason }

// Refused marks the error as a refusal, not a failure to ask.
func (e refusedError) Refused() bool { return true }

var errNotClustered = refusedError{"this node is not a member of a multi-node cluster"}

// ListNodes returns the node list and the placement, read at the
// registry's leader.
func (n *Node) ListNodes(ctx context.Context) (*civicardv1.ListNodesResponse, error) {
	if n.scaler == nil {
		return nil, errNotClustered
	}
	list, err := ledgerReads{n.scaler.host}.ClusterList(ctx)
	if err != nil {
		return nil, err
	}
	out := &civicardv1.ListNodesResponse{}
	for _, node := range list.GetNodes() {
		out.Nodes = append(out.Nodes, nodeInfo(node))
	}
	for _, p := range list.GetPlacements() {
		out.Placements = append(out.Placements, &civicardv1.GroupPlacementInfo{Group: p.GetGroup(), Nodes: p.GetNodes()})
	}
	return out, nil
}

// AddNode lists a new node as active; the registry leader then moves
// replicas onto it and the membership moves grains onto it.
func (n *Node) AddNode(ctx context.Context, info *civicardv1.ClusterNodeInfo) (*civicardv1.ClusterNodeInfo, error) {
	cmd := &ledgerv1.Command{Id: "cluster/node/" + info.GetName(), Kind: &ledgerv1.Command_AddClusterNode{AddClusterNode: &ledgerv1.AddClusterNode{
		Node: &ledgerv1.ClusterNode{Name: info.GetName(), ActorAddr: info.GetActorAddr(), RaftAddr: info.GetRaftAddr()},
	}}}
	if err := n.proposeNodeCommand(ctx, cmd); err != nil {
		return nil, err
	}
	return n.listed(ctx, info.GetName())
}

// DrainNode takes a node out of the membership (its grains activate on the
// others) and makes the registry leader move its replicas off.
func (n *Node) DrainNode(ctx context.Context, name string) (*civicardv1.ClusterNodeInfo, error) {
	if err := n.setStatus(ctx, name, ledgerv1.NodeStatus_NODE_STATUS_DRAINING); err != nil {
		return nil, err
	}
	return n.listed(ctx, name)
}

// RemoveNode forgets a drained node: one that no placement names and that
// no group counts as a member any more. Its process then exits.
func (n *Node) RemoveNode(ctx context.Context, name string) (*civicardv1.ClusterNodeInfo, error) {
	if n.scaler == nil {
		return nil, errNotClustered
	}
	list, err := ledgerReads{n.scaler.host}.ClusterList(ctx)
	if err != nil {
		return nil, err
	}
	view := viewOf(list)
	if node := view.node(name); node != nil && node.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_DRAINING {
		for _, g := range sortedKeys(view.placements) {
			leader, ok := n.scaler.leaderStatus(ctx, view, g)
			if !ok {
				return nil, fmt.Errorf("group %s has no leader to ask", g)
			}
			if slices.Contains(leader.Voters, name) || slices.Contains(leader.Nonvoters, name) {
				return nil, refusedError{fmt.Sprintf("node %s is still a member of %s: wait for the drain to finish", name, g)}
			}
		}
	}
	if err := n.setStatus(ctx, name, ledgerv1.NodeStatus_NODE_STATUS_REMOVED); err != nil {
		return nil, err
	}
	return n.listed(ctx, name)
}

func (n *Node) setStatus(ctx context.Context, name string, status ledgerv1.NodeStatus) error {
	// A change of status is idempotent by itself; the id only has to be
	// new, so that draining, activating and draining again all apply.
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	cmd := &ledgerv1.Command{
		Id:   fmt.Sprintf("cluster/status/%s/%s/%s", name, strings.ToLower(strings.TrimPrefix(status.String(), "NODE_STATUS_")), hex.EncodeToString(nonce)),
		Kind: &ledgerv1.Command_SetClusterNodeStatus{SetClusterNodeStatus: &ledgerv1.SetClusterNodeStatus{Name: name, Status: status}},
	}
	return n.proposeNodeCommand(ctx, cmd)
}

func (n *Node) proposeNodeCommand(ctx context.Context, cmd *ledgerv1.Command) error {
	if n.scaler == nil {
		return errNotClustered
	}
	res, err := n.scaler.host.Propose(ctx, replication.RegistryGroup, cmd)
	if err != nil {
		if errors.Is(err, replication.ErrInvalid) {
			return refusedError{err.Error()}
		}
		return err
	}
	if res.GetStatus() != ledgerv1.Status_STATUS_OK {
		return refusedError{res.GetError()}
	}
	return nil
}

// listed returns the node as the registry now lists it.
func (n *Node) listed(ctx context.Context, name string) (*civicardv1.ClusterNodeInfo, error) {
	list, err := ledgerReads{n.scaler.host}.ClusterList(ctx)
	if err != nil {
		return nil, err
	}
	if node := viewOf(list).node(name); node != nil {
		return nodeInfo(node), nil
	}
	return nil, fmt.Errorf("node %s is not listed after the change", name)
}

func nodeInfo(n *ledgerv1.ClusterNode) *civicardv1.ClusterNodeInfo {
	return &civicardv1.ClusterNodeInfo{Name: n.GetName(), ActorAddr: n.GetActorAddr(), RaftAddr: n.GetRaftAddr(), Status: statusText(n.GetStatus())}
}

// statusText is active, draining, removed, or "" for a node not listed.
func statusText(st ledgerv1.NodeStatus) string {
	if st == ledgerv1.NodeStatus_NODE_STATUS_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(st.String(), "NODE_STATUS_"))
}
