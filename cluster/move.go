package cluster

import (
	"errors"
	"slices"

	"civicard/cluster/replication"
)

// moveAction is what the orchestrator does next to bring one group's Raft
// configuration to its placement.
type moveAction int

const (
	// moveNone: the voters are the placed nodes and there is no other
	// member.
	moveNone moveAction = iota
	// moveWait: a placed node's replica has not started yet, or has not
	// caught up with the leader.
	moveWait
	moveAddNonvoter
	movePromote
	// moveTransferLeadership hands the leadership to node before the
	// leader's own replica is removed.
	moveTransferLeadership
	moveRemove
)

// moveStep is one action and the node it concerns.
type moveStep struct {
	action moveAction
	node   string
}

// nextMove decides the next step for a group placed on placed, from its
// leader's status and every replica's (by node; a node missing from
// statuses has no replica or did not answer). The order never loses a
// quorum: first every placed node joins as a non-voter and is promoted once
// within catchUpSlackEntries of the leader's commit index; only then are
// the other members removed, the leader last after handing over to the
// placed voter that applied the most. It is pure: the same statuses give
// the same step, so a repeated or resumed move goes on where it stands.
func nextMove(placed []string, leader replication.ReplicaStatus, statuses map[string]replication.ReplicaStatus) (moveStep, error) {
	members := append(slices.Clone(leader.Voters), leader.Nonvoters...)
	for _, name := range placed {
		if slices.Contains(members, name) {
			continue
		}
		if _, started := statuses[name]; !started {
			return moveStep{moveWait, name}, nil
		}
		return moveStep{moveAddNonvoter, name}, nil
	}
	for _, name := range placed {
		if !slices.Contains(leader.Nonvoters, name) {
			continue
		}
		if statuses[name].AppliedIndex+catchUpSlackEntries < leader.CommitIndex {
			return moveStep{moveWait, name}, nil
		}
		return moveStep{movePromote, name}, nil
	}
	// Followers first: the leader goes last, so the leadership moves at
	// most once.
	leaderLeaves := false
	for _, name := range members {
		switch {
		case slices.Contains(placed, name):
		case name == leader.Leader:
			leaderLeaves = true
		default:
			return moveStep{moveRemove, name}, nil
		}
	}
	if leaderLeaves {
		to := ""
		var applied uint64
		for _, p := range placed {
			st, ok := statuses[p]
			if ok && st.State == "Follower" && slices.Contains(leader.Voters, p) && (to == "" || st.AppliedIndex > applied) {
				to, applied = p, st.AppliedIndex
			}
		}
		if to == "" {
			return moveStep{}, errors.New("no placed voter to hand the leadership to")
		}
		return moveStep{moveTransferLeadership, to}, nil
	}
	return moveStep{moveNone, ""}, nil
}
