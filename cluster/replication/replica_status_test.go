package replication

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

// Any host answers for its own replica, leader or not, with the group's
// configuration; a host without one says ErrNoGroup. The registry's node
// list is read at its leader from a host that does not replicate it, and a
// replica left is deleted from disk.
func TestReplicaStatusAndClusterList(t *testing.T) {
	hosts := startCluster(t, 4, RegistryGroup) // the fourth replicates nothing
	leader := leaderOf(t, hosts, RegistryGroup)
	for _, h := range hosts[:3] {
		wantState := "Follower"
		if h == leader {
			wantState = "Leader"
		}
		// A follower knows its leader at the first heartbeat, the voters
		// and an index only once the leader's first entries reach it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := hosts[3].ReplicaStatusAt(t.Context(), h.Addr(), RegistryGroup)
			voters := slices.Clone(st.Voters)
			slices.Sort(voters)
			if err == nil && st.State == wantState && st.Leader == leader.id && slices.Equal(voters, []string{"node-1", "node-2", "node-3"}) && st.LastIndex > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("status at %s: %+v, %v; want %s led by %s with voters node-1..3", h.id, st, err, wantState, leader.id)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if _, err := hosts[0].ReplicaStatusAt(t.Context(), hosts[3].Addr(), RegistryGroup); !errors.Is(err, ErrNoGroup) {
		t.Errorf("status at a host without the group: %v, want ErrNoGroup", err)
	}

	if err := hosts[3].Route(RegistryGroup, []Peer{hosts[0].Self(), hosts[1].Self(), hosts[2].Self()}); err != nil {
		t.Fatal(err)
	}
	add := &ledgerv1.Command{Id: "node/n9", Kind: &ledgerv1.Command_AddClusterNode{AddClusterNode: &ledgerv1.AddClusterNode{
		Node: &ledgerv1.ClusterNode{Name: "n9", ActorAddr: "127.0.0.1:7190", RaftAddr: "127.0.0.1:7290"},
	}}}
	if res, err := hosts[3].Propose(t.Context(), RegistryGroup, add); err != nil || res.GetStatus() != ledgerv1.Status_STATUS_OK {
		t.Fatalf("add n9: %v %v", res, err)
	}
	r, err := hosts[3].Query(t.Context(), RegistryGroup, &replicationv1.Query{Kind: &replicationv1.Query_ClusterList{ClusterList: &replicationv1.ClusterListQuery{}}})
	if err != nil {
		t.Fatal(err)
	}
	list := r.GetClusterList()
	if len(list.GetNodes()) != 1 || list.GetNodes()[0].GetName() != "n9" || list.GetNodes()[0].GetStatus() != ledgerv1.NodeStatus_NODE_STATUS_ACTIVE {
		t.Errorf("node list %v, want n9 active", list)
	}

	// A shard's blocked cards, read at its leader from a host without it.
	const shard = "shard-0"
	for _, h := range hosts[:3] {
		if err := h.Join(t.Context(), GroupSpec{Name: shard, Voters: []Peer{hosts[0].Self(), hosts[1].Self(), hosts[2].Self()}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := hosts[3].Route(shard, []Peer{hosts[0].Self(), hosts[1].Self(), hosts[2].Self()}); err != nil {
		t.Fatal(err)
	}
	hostAllOK(t, hosts[3], shard, append(setupCommands("C-1", "C-2"), &ledgerv1.Command{
		Id: "block/C-2", Kind: &ledgerv1.Command_BlockCard{BlockCard: &ledgerv1.BlockCard{CardId: "C-2", Reason: "stolen", TimeUnixMs: 1}},
	}))
	r, err = hosts[3].Query(t.Context(), shard, &replicationv1.Query{Kind: &replicationv1.Query_BlockedCards{BlockedCards: &replicationv1.BlockedCardsQuery{}}})
	if blocked := r.GetBlockedCards().GetCardIds(); err != nil || !slices.Equal(blocked, []string{"C-2"}) {
		t.Errorf("blocked cards of %s: %v, %v; want [C-2]", shard, blocked, err)
	}

	follower := hosts[0]
	if follower == leader {
		follower = hosts[1]
	}
	if err := follower.DeleteGroupData(RegistryGroup); !errors.Is(err, ErrInvalid) {
		t.Errorf("delete a group still replicated: %v, want ErrInvalid", err)
	}
	if err := leader.RemoveServer(t.Context(), RegistryGroup, follower.id); err != nil {
		t.Fatal(err)
	}
	if err := follower.Leave(RegistryGroup); err != nil {
		t.Fatal(err)
	}
	if err := follower.DeleteGroupData(RegistryGroup); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(follower.dir, RegistryGroup)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the left replica's directory: %v, want it gone", err)
	}
}
