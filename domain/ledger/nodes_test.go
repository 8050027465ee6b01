package ledger_test

import (
	"fmt"
	"strings"
	"testing"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
)

func cmdAddNode(id, name, actor, raft string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_AddClusterNode{AddClusterNode: &ledgerv1.AddClusterNode{
		Node: &ledgerv1.ClusterNode{Name: name, ActorAddr: actor, RaftAddr: raft},
	}}}
}

func cmdNodeStatus(id, name string, st ledgerv1.NodeStatus) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_SetClusterNodeStatus{SetClusterNodeStatus: &ledgerv1.SetClusterNodeStatus{Name: name, Status: st}}}
}

func cmdPlace(id, group string, nodes ...string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_PlaceGroup{PlaceGroup: &ledgerv1.GroupPlacement{Group: group, Nodes: nodes}}}
}

const (
	active   = ledgerv1.NodeStatus_NODE_STATUS_ACTIVE
	draining = ledgerv1.NodeStatus_NODE_STATUS_DRAINING
	removed  = ledgerv1.NodeStatus_NODE_STATUS_REMOVED
)

// threeNodes is a ledger listing n1-n3 with shard-0 on all three.
func threeNodes(t *testing.T) *ledger.State {
	s := newState(t, ledger.DefaultConfig())
	for i := 1; i <= 3; i++ {
		mustApply(t, s, cmdAddNode(fmt.Sprintf("add/n%d", i), fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.1:71%d0", i), fmt.Sprintf("127.0.0.1:72%d0", i)))
	}
	mustApply(t, s, cmdPlace("place/1", "shard-0", "n1", "n2", "n3"))
	return s
}

// The node list and placement commands: what is accepted, what is refused
// and why, and that a refusal changes neither the list nor the placement.
func TestClusterCommands(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cmds   []*ledgerv1.Command // applied in order; the last is checked
		reason ledgerv1.RejectReason
		want   string // in the error; "" for STATUS_OK
		nodes  string // the node list afterwards, name:status
		shard0 string // shard-0's placement afterwards
	}{
		{"add a fourth node", []*ledgerv1.Command{cmdAddNode("a", "n4", "127.0.0.1:7140", "127.0.0.1:7240")}, 0, "",
			"n1:active n2:active n3:active n4:active", "n1,n2,n3"},
		{"add again, same addresses", []*ledgerv1.Command{cmdAddNode("a", "n1", "127.0.0.1:7110", "127.0.0.1:7210")}, 0, "",
			"n1:active n2:active n3:active", "n1,n2,n3"},
		{"add again, other addresses", []*ledgerv1.Command{cmdAddNode("a", "n1", "127.0.0.1:9999", "127.0.0.1:7210")},
			ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "other addresses", "n1:active n2:active n3:active", "n1,n2,n3"},
		{"add with a taken address", []*ledgerv1.Command{cmdAddNode("a", "n4", "127.0.0.1:7220", "127.0.0.1:7240")},
			ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "shares an address with node n2", "n1:active n2:active n3:active", "n1,n2,n3"},
		{"add with a bad name", []*ledgerv1.Command{cmdAddNode("a", "n/4", "127.0.0.1:7140", "127.0.0.1:7240")},
			ledgerv1.RejectReason_REJECT_REASON_INVALID, "no '/'", "n1:active n2:active n3:active", "n1,n2,n3"},
		{"add with no port", []*ledgerv1.Command{cmdAddNode("a", "n4", "127.0.0.1", "127.0.0.1:7240")},
			ledgerv1.RejectReason_REJECT_REASON_INVALID, "want host:port", "n1:active n2:active n3:active", "n1,n2,n3"},
		{"add with port 0", []*ledgerv1.Command{cmdAddNode("a", "n4", "127.0.0.1:0", "127.0.0.1:7240")},
			ledgerv1.RejectReason_REJECT_REASON_INVALID, "port must be 1-65535", "n1:active n2:active n3:active", "n1,n2,n3"},
		{"drain", []*ledgerv1.Command{cmdNodeStatus("d", "n2", draining)}, 0, "",
			"n1:active n2:draining n3:active", "n1,n2,n3"},
		{"drain an unknown node", []*ledgerv1.Command{cmdNodeStatus("d", "n9", draining)},
			ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "not listed", "n1:active n2:active n3:active", "n1,n2,n3"},
		{"remove without draining", []*ledgerv1.Command{cmdNodeStatus("r", "n2", removed)},
			ledgerv1.RejectReason_REJECT_REASON_INVALID, "cannot become removed", "n1:active n2:active n3:active", "n1,n2,n3"},
		{"remove while still placed", []*ledgerv1.Command{cmdNodeStatus("d", "n2", draining), cmdNodeStatus("r", "n2", removed)},
			ledgerv1.RejectReason_REJECT_REASON_INVALID, "still holds a replica of shard-0", "n1:active n2:draining n3:active", "n1,n2,n3"},
		{"drain, move, remove", []*ledgerv1.Command{
			cmdAddNode("a", "n4", "127.0.0.1:7140", "127.0.0.1:7240"), cmdNodeStatus("d", "n2", draining),
			cmdPlace("p", "shard-0", "n1", "n4", "n3"), cmdNodeStatus("r", "n2", removed),
		}, 0, "", "n1:active n2:removed n3:active n4:active", "n1,n4,n3"},
		{"a removed node stays removed", []*ledgerv1.Command{
			cmdNodeStatus("d", "n2", draining), cmdPlace("p", "shard-0", "n1", "n3"), cmdNodeStatus("r", "n2", removed),
			cmdNodeStatus("a", "n2", active),
		}, ledgerv1.RejectReason_REJECT_REASON_INVALID, "is removed: it cannot become active", "n1:active n2:removed n3:active", "n1,n3"},
		{"a removed name is never reused", []*ledgerv1.Command{
			cmdNodeStatus("d", "n2", draining), cmdPlace("p", "shard-0", "n1", "n3"), cmdNodeStatus("r", "n2", removed),
			cmdAddNode("a", "n2", "127.0.0.1:7120", "127.0.0.1:7220"),
		}, ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "never used again", "n1:active n2:removed n3:active", "n1,n3"},
		{"place on an unknown node", []*ledgerv1.Command{cmdPlace("p", "shard-0", "n1", "n9")},
			ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, `node "n9" is not listed`, "n1:active n2:active n3:active", "n1,n2,n3"},
		{"place a node twice", []*ledgerv1.Command{cmdPlace("p", "shard-0", "n1", "n1")},
			ledgerv1.RejectReason_REJECT_REASON_INVALID, "named twice", "n1:active n2:active n3:active", "n1,n2,n3"},
		{"place on nobody", []*ledgerv1.Command{cmdPlace("p", "shard-0")},
			ledgerv1.RejectReason_REJECT_REASON_INVALID, "0 replicas", "n1:active n2:active n3:active", "n1,n2,n3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := threeNodes(t)
			var res *ledgerv1.Result
			for _, cmd := range tc.cmds {
				res = s.Apply(cmd)
			}
			switch {
			case tc.want == "" && res.GetStatus() != ledgerv1.Status_STATUS_OK:
				t.Fatalf("Apply = %v, want OK", res)
			case tc.want != "" && (res.GetStatus() != ledgerv1.Status_STATUS_REJECTED || res.GetRejectReason() != tc.reason || !strings.Contains(res.GetError(), tc.want)):
				t.Fatalf("Apply = %v, want REJECTED %v %q", res, tc.reason, tc.want)
			}
			var nodes []string
			for _, n := range s.ClusterNodes() {
				nodes = append(nodes, n.GetName()+":"+strings.ToLower(strings.TrimPrefix(n.GetStatus().String(), "NODE_STATUS_")))
			}
			if got := strings.Join(nodes, " "); got != tc.nodes {
				t.Errorf("nodes %q, want %q", got, tc.nodes)
			}
			var shard0 string
			for _, p := range s.Placements() {
				if p.GetGroup() == "shard-0" {
					shard0 = strings.Join(p.GetNodes(), ",")
				}
			}
			if shard0 != tc.shard0 {
				t.Errorf("shard-0 on %q, want %q", shard0, tc.shard0)
			}
			if err := s.Check(); err != nil {
				t.Fatal(err)
			}
			// The list and placement survive a snapshot, digest included.
			r := roundTrip(t, s)
			if len(r.ClusterNodes()) != len(s.ClusterNodes()) || len(r.Placements()) != len(s.Placements()) {
				t.Fatalf("restored %d nodes and %d placements, want %d and %d", len(r.ClusterNodes()), len(r.Placements()), len(s.ClusterNodes()), len(s.Placements()))
			}
		})
	}
}

// The cluster records are part of the state's digest: two ledgers that
// differ only in a node's status differ.
func TestClusterRecordsInDigest(t *testing.T) {
	a, b := threeNodes(t), threeNodes(t)
	if digest(a) != digest(b) {
		t.Fatal("equal ledgers, different digests")
	}
	mustApply(t, b, cmdNodeStatus("d", "n2", draining))
	mustApply(t, a, cmdNodeStatus("d", "n2", active))
	if digest(a) == digest(b) {
		t.Fatal("a draining node does not change the digest")
	}
}
