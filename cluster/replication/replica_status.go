package replication

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	replicationv1 "civicard/messages/replication/v1"
)

// ReplicaStatus is how one host's replica of a group stands, as that host
// sees it.
type ReplicaStatus struct {
	State                                string // Leader, Follower, Candidate, Shutdown
	LastIndex, CommitIndex, AppliedIndex uint64
	// Leader is the leader's node id as this replica knows it; Voters and
	// Nonvoters the group's configuration in its log, by node id.
	Leader            string
	Voters, Nonvoters []string
}

// ReplicaStatusAt asks the host at raftAddr (this one included) how its own
// replica of a group stands, without forwarding to the leader: the way to
// watch a new replica catch up, or to find that a host does not (or no
// longer) replicate a group (ErrNoGroup). One attempt; retry as needed.
func (h *Host) ReplicaStatusAt(ctx context.Context, raftAddr, group string) (ReplicaStatus, error) {
	if err := checkGroupName(group); err != nil {
		return ReplicaStatus{}, err
	}
	if raftAddr == h.addr {
		rep := h.replica(group)
		if rep == nil {
			return ReplicaStatus{}, fmt.Errorf("%w: %s", ErrNoGroup, group)
		}
		return toReplicaStatus(replicaStatusOf(rep.g)), nil
	}
	resp, err := h.fwd.call(ctx, raftAddr, &replicationv1.ForwardRequest{
		Group: group,
		Kind:  &replicationv1.ForwardRequest_ReplicaStatus{ReplicaStatus: &replicationv1.ReplicaStatusRequest{}},
	})
	if err != nil {
		return ReplicaStatus{}, fmt.Errorf("replication: status of %s at %s: %w", group, raftAddr, err)
	}
	switch resp.GetStatus() {
	case replicationv1.ForwardStatus_FORWARD_STATUS_OK:
		return toReplicaStatus(resp.GetReplicaStatus()), nil
	case replicationv1.ForwardStatus_FORWARD_STATUS_NO_GROUP:
		return ReplicaStatus{}, fmt.Errorf("%w: %s at %s", ErrNoGroup, group, raftAddr)
	default:
		return ReplicaStatus{}, fmt.Errorf("replication: status of %s at %s: %v %s", group, raftAddr, resp.GetStatus(), resp.GetError())
	}
}

func replicaStatusOf(g *Group) *replicationv1.ReplicaStatus {
	st := g.status("")
	out := &replicationv1.ReplicaStatus{
		State: st.State, LastIndex: st.LastIndex, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, Leader: st.Leader.NodeID,
	}
	for _, p := range st.Voters {
		out.Voters = append(out.Voters, p.NodeID)
	}
	for _, p := range st.Nonvoters {
		out.Nonvoters = append(out.Nonvoters, p.NodeID)
	}
	return out
}

func toReplicaStatus(s *replicationv1.ReplicaStatus) ReplicaStatus {
	return ReplicaStatus{
		State: s.GetState(), LastIndex: s.GetLastIndex(), CommitIndex: s.GetCommitIndex(), AppliedIndex: s.GetAppliedIndex(),
		Leader: s.GetLeader(), Voters: s.GetVoters(), Nonvoters: s.GetNonvoters(),
	}
}

// DeleteGroupData deletes what this node kept of a group it no longer
// replicates (after Leave): its log and snapshots. A replica added again
// later starts empty and catches up from the leader.
func (h *Host) DeleteGroupData(group string) error {
	if err := checkGroupName(group); err != nil {
		return err
	}
	if h.replica(group) != nil {
		return fmt.Errorf("%w: %s is still replicated here: Leave it first", ErrInvalid, group)
	}
	if err := os.RemoveAll(filepath.Join(h.cfg.Dir, group)); err != nil {
		return fmt.Errorf("replication: delete %s: %w", group, err)
	}
	return nil
}
