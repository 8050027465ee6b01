package cluster

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"civicard/cluster/replication"
)

// Peer is a node of the cluster as the others reach it.
type Peer struct {
	Name string
	// Actor is the address of its actor system (protoactor remote). Its
	// membership endpoint (/_health of the automanaged provider) listens on
	// the next port.
	Actor string
	// Raft is the one address all its Raft groups share.
	Raft string
}

// ParsePeers reads a peer list: NAME=ACTOR_ADDR=RAFT_ADDR entries separated
// by commas, e.g. "n1=127.0.0.1:7101=127.0.0.1:7201,n2=...". Names and
// addresses must be unique.
func ParsePeers(s string) ([]Peer, error) {
	var peers []Peer
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, "=")
		if len(parts) != 3 {
			return nil, fmt.Errorf("peer %q: want NAME=ACTOR_ADDR=RAFT_ADDR", entry)
		}
		p := Peer{Name: parts[0], Actor: parts[1], Raft: parts[2]}
		if err := p.validate(); err != nil {
			return nil, err
		}
		peers = append(peers, p)
	}
	if len(peers) == 0 {
		return nil, errors.New("no peers")
	}
	return peers, checkUnique(peers)
}

func (p Peer) validate() error {
	if p.Name == "" || len(p.Name) > 32 || strings.ContainsAny(p.Name, "/=, ") {
		return fmt.Errorf("peer name %q: 1-32 characters, no '/', '=', ',' or spaces", p.Name)
	}
	for _, addr := range []string{p.Actor, p.Raft} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("peer %s: address %q: %w", p.Name, addr, err)
		}
	}
	return nil
}

func checkUnique(peers []Peer) error {
	seen := map[string]string{}
	for _, p := range peers {
		for _, key := range []string{"name " + p.Name, "address " + p.Actor, "address " + p.Raft} {
			if other, ok := seen[key]; ok {
				return fmt.Errorf("peers %s and %s share the %s", other, p.Name, key)
			}
			seen[key] = p.Name
		}
	}
	return nil
}

// replicasMax is how many voters each Raft group has when there are enough
// nodes: one may fail and the group still commits.
const replicasMax = 3

// Layout says which Raft groups the cluster has and where their voters are
// when it is created. Voters move later only through membership changes.
type Layout struct {
	Shards int
	Groups []GroupPlan
}

// GroupPlan is one Raft group and its initial voters.
type GroupPlan struct {
	Name   string
	Voters []Peer
}

// DefaultShards is one shard per three nodes, at least one.
func DefaultShards(nodes int) int { return max(1, nodes/replicasMax) }

// NewLayout places the registry and each shard on min(3, nodes) nodes: group
// g on the nodes (sorted by name) from g*3 on, wrapping around, so replicas
// are dealt out like cards and every node carries about as many as the
// others.
func NewLayout(peers []Peer, shards int) (Layout, error) {
	if len(peers) == 0 {
		return Layout{}, errors.New("layout: no peers")
	}
	if shards < 1 || shards > 256 {
		return Layout{}, fmt.Errorf("layout: %d shards, want 1-256", shards)
	}
	if err := checkUnique(peers); err != nil {
		return Layout{}, err
	}
	sorted := slices.Clone(peers)
	slices.SortFunc(sorted, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	replicas := min(replicasMax, len(sorted))
	names := []string{replication.RegistryGroup}
	for i := range shards {
		names = append(names, replication.ShardGroup(i))
	}
	layout := Layout{Shards: shards}
	for g, name := range names {
		plan := GroupPlan{Name: name}
		for k := range replicas {
			plan.Voters = append(plan.Voters, sorted[(g*replicas+k)%len(sorted)])
		}
		layout.Groups = append(layout.Groups, plan)
	}
	return layout, nil
}

// GroupsOf returns the groups with a voter on the named node.
func (l Layout) GroupsOf(node string) []GroupPlan {
	var mine []GroupPlan
	for _, g := range l.Groups {
		if slices.ContainsFunc(g.Voters, func(p Peer) bool { return p.Name == node }) {
			mine = append(mine, g)
		}
	}
	return mine
}
