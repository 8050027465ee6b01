package cluster

import (
	"strings"
	"testing"

	"civicard/cluster/replication"
)

// Each step of a replica move, decided from what the replicas report: the
// cases run in the order a move goes through them.
func TestNextMove(t *testing.T) {
	follower := func(applied uint64) replication.ReplicaStatus {
		return replication.ReplicaStatus{State: "Follower", AppliedIndex: applied}
	}
	leaderOn := func(name string, voters, nonvoters string) replication.ReplicaStatus {
		st := replication.ReplicaStatus{State: "Leader", Leader: name, CommitIndex: 1000, Voters: strings.Split(voters, ",")}
		if nonvoters != "" {
			st.Nonvoters = strings.Split(nonvoters, ",")
		}
		return st
	}
	for _, tc := range []struct {
		name     string
		placed   string
		leader   replication.ReplicaStatus
		statuses map[string]replication.ReplicaStatus // besides the leader's
		want     moveStep
		err      string
	}{
		{"matches its placement", "n1,n2,n3", leaderOn("n1", "n1,n2,n3", ""),
			map[string]replication.ReplicaStatus{"n2": follower(1000), "n3": follower(1000)}, moveStep{moveNone, ""}, ""},
		{"the new node's replica has not started", "n4,n2,n3", leaderOn("n1", "n1,n2,n3", ""),
			map[string]replication.ReplicaStatus{"n2": follower(1000), "n3": follower(1000)}, moveStep{moveWait, "n4"}, ""},
		{"it has started: add it as a non-voter", "n4,n2,n3", leaderOn("n1", "n1,n2,n3", ""),
			map[string]replication.ReplicaStatus{"n2": follower(1000), "n3": follower(1000), "n4": follower(0)}, moveStep{moveAddNonvoter, "n4"}, ""},
		{"it is far behind: wait", "n4,n2,n3", leaderOn("n1", "n1,n2,n3", "n4"),
			map[string]replication.ReplicaStatus{"n2": follower(1000), "n3": follower(1000), "n4": follower(700)}, moveStep{moveWait, "n4"}, ""},
		{"it has caught up: promote it", "n4,n2,n3", leaderOn("n1", "n1,n2,n3", "n4"),
			map[string]replication.ReplicaStatus{"n2": follower(1000), "n3": follower(1000), "n4": follower(990)}, moveStep{movePromote, "n4"}, ""},
		{"the leader goes: hand over to the placed voter that applied most", "n4,n2,n3", leaderOn("n1", "n1,n2,n3,n4", ""),
			map[string]replication.ReplicaStatus{"n2": follower(998), "n3": follower(1000), "n4": follower(999)}, moveStep{moveTransferLeadership, "n3"}, ""},
		{"a follower goes: remove it before the leader", "n4,n5,n3", leaderOn("n1", "n1,n2,n3,n4,n5", ""),
			map[string]replication.ReplicaStatus{"n2": follower(1000), "n3": follower(1000), "n4": follower(1000), "n5": follower(1000)}, moveStep{moveRemove, "n2"}, ""},
		{"the new leader removes the old one", "n4,n2,n3", leaderOn("n3", "n1,n2,n3,n4", ""),
			map[string]replication.ReplicaStatus{"n1": follower(1000), "n2": follower(1000), "n4": follower(1000)}, moveStep{moveRemove, "n1"}, ""},
		{"a dead replica goes: removed although it does not answer", "n4,n2,n3", leaderOn("n2", "n1,n2,n3,n4", ""),
			map[string]replication.ReplicaStatus{"n3": follower(1000), "n4": follower(1000)}, moveStep{moveRemove, "n1"}, ""},
		{"a stray non-voter is removed", "n1,n2,n3", leaderOn("n1", "n1,n2,n3", "n9"),
			map[string]replication.ReplicaStatus{"n2": follower(1000), "n3": follower(1000)}, moveStep{moveRemove, "n9"}, ""},
		{"nobody placed answers to take over", "n4,n2,n3", leaderOn("n1", "n1,n2,n3,n4", ""),
			map[string]replication.ReplicaStatus{}, moveStep{}, "no placed voter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			statuses := map[string]replication.ReplicaStatus{tc.leader.Leader: tc.leader}
			for name, st := range tc.statuses {
				statuses[name] = st
			}
			got, err := nextMove(strings.Split(tc.placed, ","), tc.leader, statuses)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("nextMove = %+v, %v; want an error mentioning %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("nextMove = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
