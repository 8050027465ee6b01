package cluster

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestPlanPlacement(t *testing.T) {
	for _, tc := range []struct {
		name    string
		current string // group=node,node;...
		active  string
		want    string
	}{
		{"three nodes, nothing to do", "registry=n1,n2,n3;shard-0=n1,n2,n3", "n1,n2,n3",
			"registry=n1,n2,n3;shard-0=n1,n2,n3"},
		{"two nodes added: replicas move onto them, one at a time per node", "registry=n1,n2,n3;shard-0=n1,n2,n3", "n1,n2,n3,n4,n5",
			"registry=n4,n5,n3;shard-0=n1,n2,n3"},
		{"a node drains: its replica goes to the idlest node, in its slot", "registry=n4,n5,n3;shard-0=n1,n2,n3", "n2,n3,n4,n5",
			"registry=n4,n5,n3;shard-0=n4,n2,n3"},
		{"a draining node's last replicas with no spare node: kept", "registry=n1,n2,n3", "n1,n2",
			"registry=n1,n2"},
		{"too few replicas: filled up", "registry=n1;shard-0=n2", "n1,n2,n3",
			"registry=n1,n3,n2;shard-0=n2,n1,n3"},
		{"one node", "registry=n1", "n1", "registry=n1"},
		{"no active node: unchanged", "registry=n1,n2,n3", "", "registry=n1,n2,n3"},
		{"six nodes, two shards: two replicas each", "registry=n1,n2,n3;shard-0=n4,n5,n6;shard-1=n1,n2,n3", "n1,n2,n3,n4,n5,n6",
			"registry=n1,n2,n3;shard-0=n4,n5,n6;shard-1=n1,n2,n3"},
		{"a seventh node takes replicas from the busiest", "registry=n1,n2,n3;shard-0=n4,n5,n6;shard-1=n1,n2,n3", "n1,n2,n3,n4,n5,n6,n7",
			"registry=n7,n2,n3;shard-0=n4,n5,n6;shard-1=n1,n2,n3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			current := parsePlacement(tc.current)
			var active []string
			if tc.active != "" {
				active = strings.Split(tc.active, ",")
			}
			got := PlanPlacement(current, active)
			if s := formatPlacement(got); s != tc.want {
				t.Fatalf("plan %s, want %s", s, tc.want)
			}
			// A plan is stable: planning again from it changes nothing.
			if again := formatPlacement(PlanPlacement(got, active)); again != tc.want {
				t.Errorf("planning again gives %s", again)
			}
			// Every replica is on an active node (when there is one), never twice.
			for g, nodes := range got {
				for i, n := range nodes {
					if len(active) > 0 && !slices.Contains(active, n) && !slices.Contains(current[g], n) {
						t.Errorf("%s on %s, which is neither active nor there before", g, n)
					}
					if slices.Contains(nodes[:i], n) {
						t.Errorf("%s twice on %s", g, n)
					}
				}
			}
		})
	}
}

func parsePlacement(s string) map[string][]string {
	out := map[string][]string{}
	for part := range strings.SplitSeq(s, ";") {
		g, nodes, _ := strings.Cut(part, "=")
		out[g] = strings.Split(nodes, ",")
	}
	return out
}

func formatPlacement(p map[string][]string) string {
	var parts []string
	for _, g := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, fmt.Sprintf("%s=%s", g, strings.Join(p[g], ",")))
	}
	return strings.Join(parts, ";")
}
