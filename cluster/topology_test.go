package cluster

import (
	"fmt"
	"strings"
	"testing"

	"civicard/cluster/replication"
)

func peersOf(n int) []Peer {
	peers := make([]Peer, n)
	for i := range peers {
		peers[i] = Peer{Name: fmt.Sprintf("n%d", i+1), Actor: fmt.Sprintf("127.0.0.1:%d", 7100+i), Raft: fmt.Sprintf("127.0.0.1:%d", 7200+i)}
	}
	return peers
}

func TestParsePeers(t *testing.T) {
	peers, err := ParsePeers("n1=127.0.0.1:7101=127.0.0.1:7201, n2=127.0.0.1:7102=127.0.0.1:7202")
	if err != nil || len(peers) != 2 || peers[1] != (Peer{"n2", "127.0.0.1:7102", "127.0.0.1:7202"}) {
		t.Fatalf("ParsePeers = %v, %v", peers, err)
	}
	for _, bad := range []string{
		"",
		"n1=127.0.0.1:7101",
		"n1=127.0.0.1=127.0.0.1:7201",
		"n1=127.0.0.1:7101=127.0.0.1:7201,n1=127.0.0.1:7102=127.0.0.1:7202",
		"n1=127.0.0.1:7101=127.0.0.1:7201,n2=127.0.0.1:7101=127.0.0.1:7202",
		"a b=127.0.0.1:7101=127.0.0.1:7201",
		strings.Repeat("n", 33) + "=127.0.0.1:7101=127.0.0.1:7201",
	} {
		if _, err := ParsePeers(bad); err == nil {
			t.Errorf("ParsePeers(%q) accepted", bad)
		}
	}
}

func TestLayoutSpreadsReplicas(t *testing.T) {
	tests := []struct {
		nodes, shards   int
		replicasPerNode []int // min and max replicas a node carries
	}{
		{1, 1, []int{2, 2}},
		{3, 1, []int{2, 2}},
		{3, 2, []int{3, 3}},
		{5, 1, []int{1, 2}},
		{6, 2, []int{1, 2}},
	}
	for _, tt := range tests {
		layout, err := NewLayout(peersOf(tt.nodes), tt.shards)
		if err != nil {
			t.Fatal(err)
		}
		if len(layout.Groups) != tt.shards+1 || layout.Groups[0].Name != replication.RegistryGroup || layout.Groups[1].Name != "shard-0" {
			t.Fatalf("%d nodes: groups %v", tt.nodes, layout.Groups)
		}
		for _, g := range layout.Groups {
			seen := map[string]bool{}
			for _, v := range g.Voters {
				seen[v.Name] = true
			}
			if len(g.Voters) != min(3, tt.nodes) || len(seen) != len(g.Voters) {
				t.Errorf("%d nodes: group %s voters %v, want %d distinct", tt.nodes, g.Name, g.Voters, min(3, tt.nodes))
			}
		}
		for _, p := range peersOf(tt.nodes) {
			n := len(layout.GroupsOf(p.Name))
			if n < tt.replicasPerNode[0] || n > tt.replicasPerNode[1] {
				t.Errorf("%d nodes, %d shards: %s carries %d replicas, want %v", tt.nodes, tt.shards, p.Name, n, tt.replicasPerNode)
			}
		}
	}
}

func TestLayoutDoesNotDependOnPeerOrder(t *testing.T) {
	peers := peersOf(4)
	a, _ := NewLayout(peers, 2)
	b, _ := NewLayout([]Peer{peers[3], peers[1], peers[0], peers[2]}, 2)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("layout depends on the order of --peers:\n%v\n%v", a, b)
	}
}

func TestDefaultShards(t *testing.T) {
	for nodes, want := range map[int]int{1: 1, 2: 1, 3: 1, 5: 1, 6: 2, 9: 3} {
		if got := DefaultShards(nodes); got != want {
			t.Errorf("DefaultShards(%d) = %d, want %d", nodes, got, want)
		}
	}
}
