package cluster

import (
	"slices"
	"strings"
)

// PlanPlacement decides where every Raft group's replicas should be, from
// where they are now (current: group -> node names) and which nodes are
// active (the only ones that may hold replicas). It is pure and
// deterministic: every registry leader plans the same from the same
// replicated state.
//
// It changes as little as it can: a group keeps its replicas on active
// nodes; a replica on a node that is not active moves to the active node
// holding the fewest replicas (ties: by name); a group with fewer than
// min(replicasMax, active nodes) replicas gets more the same way. Then, while
// the busiest node holds two or more replicas more than the idlest, one
// replica moves from the busiest to the idlest, in the first group (by
// name) where that is possible. Groups not in current are not placed.
func PlanPlacement(current map[string][]string, activeNodes []string) map[string][]string {
	plan := make(map[string][]string, len(current))
	if len(activeNodes) == 0 {
		for g, nodes := range current {
			plan[g] = slices.Clone(nodes)
		}
		return plan
	}
	active := make(map[string]bool, len(activeNodes))
	load := make(map[string]int, len(activeNodes))
	for _, n := range activeNodes {
		active[n] = true
		load[n] = 0
	}
	groups := make([]string, 0, len(current))
	for g := range current {
		groups = append(groups, g)
		for _, n := range current[g] {
			if active[n] {
				load[n]++
			}
		}
	}
	slices.Sort(groups)
	want := min(replicasMax, len(activeNodes))
	// idlest is the active node not in exclude with the fewest replicas.
	idlest := func(exclude []string) string {
		best := ""
		for _, n := range sortedKeys(load) {
			if !slices.Contains(exclude, n) && (best == "" || load[n] < load[best]) {
				best = n
			}
		}
		return best
	}
	for _, g := range groups {
		kept := 0
		for _, n := range current[g] {
			if active[n] {
				kept++
			}
		}
		// A replica on a node that is not active keeps its slot: the
		// newcomer takes its place in the order, so a move reads as one
		// substitution.
		var next []string
		for _, n := range current[g] {
			switch {
			case active[n]:
				next = append(next, n)
			case kept < want:
				if to := idlest(append(slices.Clone(current[g]), next...)); to != "" {
					next = append(next, to)
					load[to]++
					kept++
				}
			}
		}
		for len(next) < want {
			to := idlest(next)
			if to == "" {
				break
			}
			next = append(next, to)
			load[to]++
		}
		plan[g] = next
	}
	for range len(groups) * replicasMax {
		busiest, idle := "", ""
		for _, n := range sortedKeys(load) {
			if busiest == "" || load[n] > load[busiest] {
				busiest = n
			}
			if idle == "" || load[n] < load[idle] {
				idle = n
			}
		}
		if load[busiest]-load[idle] < 2 {
			break
		}
		moved := false
		for _, g := range groups {
			if i := slices.Index(plan[g], busiest); i >= 0 && !slices.Contains(plan[g], idle) {
				plan[g][i] = idle
				load[busiest]--
				load[idle]++
				moved = true
				break
			}
		}
		if !moved {
			break
		}
	}
	return plan
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	return keys
}

// samePlacement reports whether two replica sets hold the same nodes,
// whatever their order.
func samePlacement(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
