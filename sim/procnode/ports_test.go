package procnode

import "testing"

// The ports of a cluster's nodes are all different, the membership port
// (Actor+1) included, however often the system hands out a port it has
// just taken back.
func TestFreeNodePortsAreAllDifferent(t *testing.T) {
	for range 50 {
		ports, err := FreeNodePorts(5)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, p := range ports {
			for _, port := range []int{p.Actor, p.Actor + 1, p.Raft, p.HTTP} {
				if seen[port] {
					t.Fatalf("port %d given twice in %+v", port, ports)
				}
				seen[port] = true
			}
		}
	}
}
