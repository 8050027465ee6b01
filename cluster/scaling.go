package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"civicard/cluster/replication"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

// ErrRemoved: the cluster's node list says this node was removed. The
// process should exit and not be started again.
var ErrRemoved = errors.New("cluster: this node was removed from the cluster")

// Timings and bounds of the scaler (see doc.go).
const (
	// scaleTick is how often a node reads the node list and placement and
	// reconciles to them, and the registry leader takes the next step.
	scaleTick = 500 * time.Millisecond
	// scaleCallTimeout bounds each read or step of one tick.
	scaleCallTimeout = 3 * time.Second
	// catchUpSlackEntries: a non-voter this close to the leader's commit
	// index has caught up (under load the index moves while we look).
	catchUpSlackEntries = 256
)

// clusterView is the registry's node list and placement as last read.
type clusterView struct {
	nodes      []*ledgerv1.ClusterNode // sorted by name
	placements map[string][]string
}

func viewOf(list *replicationv1.ClusterList) clusterView {
	v := clusterView{nodes: list.GetNodes(), placements: map[string][]string{}}
	for _, p := range list.GetPlacements() {
		v.placements[p.GetGroup()] = p.GetNodes()
	}
	return v
}

func (v clusterView) node(name string) *ledgerv1.ClusterNode {
	for _, n := range v.nodes {
		if n.GetName() == name {
			return n
		}
	}
	return nil
}

// names returns the nodes with one of the statuses, sorted.
func (v clusterView) names(statuses ...ledgerv1.NodeStatus) []string {
	var out []string
	for _, n := range v.nodes {
		if slices.Contains(statuses, n.GetStatus()) {
			out = append(out, n.GetName())
		}
	}
	return out
}

func (v clusterView) peer(name string) (replication.Peer, bool) {
	n := v.node(name)
	if n == nil {
		return replication.Peer{}, false
	}
	return replication.Peer{NodeID: n.GetName(), RaftAddr: n.GetRaftAddr()}, true
}

// shards counts the placed ledger shards.
func (v clusterView) shards() int {
	n := 0
	for g := range v.placements {
		if strings.HasPrefix(g, "shard-") {
			n++
		}
	}
	return n
}

// scaler keeps one node in line with the replicated node list and
// placement, and, on the registry's leader, moves replicas to where the
// placement says. Every step is idempotent, so a retry, or a new leader,
// finishes what another began.
type scaler struct {
	name     string
	host     *replication.Host
	provider membershipHosts
	// quorum, if set, counts the active nodes of the list.
	quorum *quorumWatch
	logger *slog.Logger
	// seed is the layout of --peers, written to a registry that lists no
	// node yet; nil on a node that joined.
	seed *Layout
	// removed receives ErrRemoved once.
	removed chan<- error
	// membersOnly: a gateway's scaler, which only follows the membership
	// and the registry's route.
	membersOnly bool

	mu       sync.Mutex
	view     clusterView // guarded by mu
	haveView bool        // guarded by mu
	told     bool        // guarded by mu: ErrRemoved sent
}

// currentView returns the last view read, and whether there is one.
func (s *scaler) currentView() (clusterView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view, s.haveView
}

// status is this node's status in the node list (UNSPECIFIED while the
// list does not name it).
func (s *scaler) status() ledgerv1.NodeStatus {
	v, _ := s.currentView()
	return v.node(s.name).GetStatus()
}

// ready fails while this node is draining or removed, so that /healthz takes
// it out of a load balancer before it stops, and clients turn to other
// gateways instead of waiting on one that is going away.
func (s *scaler) ready() error {
	switch st := s.status(); st {
	case ledgerv1.NodeStatus_NODE_STATUS_DRAINING, ledgerv1.NodeStatus_NODE_STATUS_REMOVED:
		return fmt.Errorf("node %s is %s: it takes no taps", s.name, statusText(st))
	}
	return nil
}

// scalerLoop is the scaler as a node's component: it exports the scaler's
// metrics and runs it from Start to Stop, and keeps the node unready
// while it is draining.
type scalerLoop struct {
	s          *scaler
	groups     *raftGroups
	registerer prometheus.Registerer
	loop
}

func (c *scalerLoop) Start(ctx context.Context) error {
	c.s.host = c.groups.host
	if err := registerScalerMetrics(c.registerer, c.s); err != nil {
		return err
	}
	c.run = c.s.run
	return c.loop.Start(ctx)
}

func (c *scalerLoop) Ready() error { return c.s.ready() }

func (s *scaler) run(ctx context.Context) {
	t := time.NewTicker(scaleTick)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *scaler) tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, scaleCallTimeout)
	defer cancel()
	list, err := ledgerReads{s.host}.ClusterList(ctx)
	if err != nil {
		s.logger.Debug("node list not read", slog.Any("error", err))
		return
	}
	view := viewOf(list)
	if s.membersOnly {
		if len(view.nodes) > 0 {
			s.followMembers(view)
			if peers := placedPeers(view, replication.RegistryGroup); len(peers) > 0 {
				_ = s.host.Route(replication.RegistryGroup, peers)
			}
		}
		return
	}
	if len(view.nodes) == 0 {
		if s.seed != nil {
			s.seedRegistry(ctx)
		}
		return
	}
	s.mu.Lock()
	s.view, s.haveView = view, true
	s.mu.Unlock()
	s.reconcile(ctx, view)
	if st, err := s.host.Status(replication.RegistryGroup); err == nil && st.State == "Leader" {
		s.orchestrate(ctx, view)
	}
}

// seedRegistry lists the nodes of --peers and places the groups as the
// layout did. The ids are fixed, so every node of a new cluster may do it,
// any number of times: the ledger applies each command once.
func (s *scaler) seedRegistry(ctx context.Context) {
	var cmds []*ledgerv1.Command
	seen := map[string]bool{}
	for _, g := range s.seed.Groups {
		for _, p := range g.Voters {
			if seen[p.Name] {
				continue
			}
			seen[p.Name] = true
			cmds = append(cmds, &ledgerv1.Command{Id: "cluster/node/" + p.Name, Kind: &ledgerv1.Command_AddClusterNode{AddClusterNode: &ledgerv1.AddClusterNode{
				Node: &ledgerv1.ClusterNode{Name: p.Name, ActorAddr: p.Actor, RaftAddr: p.Raft},
			}}})
		}
	}
	for _, g := range s.seed.Groups {
		placement := &ledgerv1.GroupPlacement{Group: g.Name}
		for _, p := range g.Voters {
			placement.Nodes = append(placement.Nodes, p.Name)
		}
		cmds = append(cmds, &ledgerv1.Command{Id: "cluster/seed/" + g.Name, Kind: &ledgerv1.Command_PlaceGroup{PlaceGroup: placement}})
	}
	results, err := s.host.ProposeAll(ctx, replication.RegistryGroup, cmds)
	if err != nil {
		s.logger.Debug("node list not seeded", slog.Any("error", err))
		return
	}
	for i, res := range results {
		if res.GetStatus() != ledgerv1.Status_STATUS_OK {
			s.logger.Warn("node list seed refused", slog.String("command", cmds[i].GetId()), slog.String("error", res.GetError()))
		}
	}
}

// reconcile brings this node in line with the view: membership follows the
// active nodes, routes follow the placement, replicas placed here are
// started and those removed from their group are stopped and deleted.
func (s *scaler) reconcile(ctx context.Context, view clusterView) {
	self := view.node(s.name)
	if self.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_REMOVED {
		s.mu.Lock()
		tell := !s.told
		s.told = true
		s.mu.Unlock()
		if tell {
			s.removed <- ErrRemoved
		}
		return
	}
	s.followMembers(view)

	hosted := map[string]bool{}
	for _, st := range s.host.Groups() {
		hosted[st.Name] = true
	}
	for _, g := range sortedKeys(view.placements) {
		placed := view.placements[g]
		if peers := placedPeers(view, g); len(peers) > 0 {
			if err := s.host.Route(g, peers); err != nil {
				s.logger.Warn("route", slog.String("group", g), slog.Any("error", err))
			}
		}
		switch {
		case slices.Contains(placed, s.name) && !hosted[g]:
			// An empty replica: the leader adds it as a non-voter and
			// sends it the log (or a snapshot).
			if err := s.host.Join(ctx, replication.GroupSpec{Name: g}); err != nil {
				s.logger.Warn("replica not started", slog.String("group", g), slog.Any("error", err))
			} else {
				s.logger.Info("replica started", slog.String("group", g))
			}
		case !slices.Contains(placed, s.name) && hosted[g]:
			s.leaveIfRemoved(ctx, view, g)
		}
	}
}

// followMembers makes the membership, and the nodes a quorum is counted
// among, the active nodes of the list.
func (s *scaler) followMembers(view clusterView) {
	var hosts, actors []string
	for _, n := range view.nodes {
		if n.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_ACTIVE {
			if h, _, err := healthAddr(n.GetActorAddr()); err == nil {
				hosts = append(hosts, h)
				actors = append(actors, n.GetActorAddr())
			}
		}
	}
	s.provider.setHosts(hosts)
	if s.quorum != nil && len(actors) > 0 {
		s.quorum.setNodes(actors)
	}
}

// placedPeers are the listed nodes group g is placed on.
func placedPeers(view clusterView, g string) []replication.Peer {
	var peers []replication.Peer
	for _, name := range view.placements[g] {
		if p, ok := view.peer(name); ok {
			peers = append(peers, p)
		}
	}
	return peers
}

// leaveIfRemoved stops and deletes this node's replica of g once the
// group's leader no longer counts it a member. (A removed replica may never
// hear of its removal: the leader stops sending to it at once.)
func (s *scaler) leaveIfRemoved(ctx context.Context, view clusterView, g string) {
	leader, ok := s.leaderStatus(ctx, view, g)
	if !ok || leader.Leader == s.name || slices.Contains(leader.Voters, s.name) || slices.Contains(leader.Nonvoters, s.name) {
		return
	}
	if err := s.host.Leave(g); err != nil && !errors.Is(err, replication.ErrNoGroup) {
		s.logger.Warn("replica not stopped", slog.String("group", g), slog.Any("error", err))
		return
	}
	if err := s.host.DeleteGroupData(g); err != nil {
		s.logger.Warn("replica data not deleted", slog.String("group", g), slog.Any("error", err))
		return
	}
	s.logger.Info("replica removed from its group: stopped and deleted", slog.String("group", g))
}

// leaderStatus asks every listed node that is not removed how its replica
// of g stands and returns the leader's answer (the one with the highest
// commit index, should two claim to lead).
func (s *scaler) leaderStatus(ctx context.Context, view clusterView, g string) (replication.ReplicaStatus, bool) {
	return leaderOf(s.statuses(ctx, view, g))
}

func leaderOf(statuses map[string]replication.ReplicaStatus) (replication.ReplicaStatus, bool) {
	var best replication.ReplicaStatus
	found := false
	for _, name := range sortedKeys(statuses) {
		st := statuses[name]
		if st.State == "Leader" && (!found || st.CommitIndex > best.CommitIndex) {
			best, found = st, true
		}
	}
	return best, found
}

// statuses asks every listed node that is not removed about its replica of
// g, in parallel; nodes that do not answer or do not replicate g are left
// out.
func (s *scaler) statuses(ctx context.Context, view clusterView, g string) map[string]replication.ReplicaStatus {
	var mu sync.Mutex
	out := map[string]replication.ReplicaStatus{}
	var wg sync.WaitGroup
	for _, n := range view.nodes {
		if n.GetStatus() == ledgerv1.NodeStatus_NODE_STATUS_REMOVED {
			continue
		}
		wg.Go(func() {
			st, err := s.host.ReplicaStatusAt(ctx, n.GetRaftAddr(), g)
			if err != nil {
				return
			}
			mu.Lock()
			out[n.GetName()] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// orchestrate runs on the registry's leader: for each group whose Raft
// configuration differs from its placement it takes the next step; when
// every group matches, it plans again and writes the placements that
// change.
func (s *scaler) orchestrate(ctx context.Context, view clusterView) {
	settled := true
	for _, g := range sortedKeys(view.placements) {
		done, err := s.step(ctx, view, g)
		if err != nil {
			s.logger.Warn("replica move step failed; retried next tick", slog.String("group", g), slog.Any("error", err))
		}
		settled = settled && done
	}
	if !settled {
		return
	}
	plan := PlanPlacement(view.placements, view.names(ledgerv1.NodeStatus_NODE_STATUS_ACTIVE))
	registry, err := s.host.Status(replication.RegistryGroup)
	if err != nil {
		return
	}
	for _, g := range sortedKeys(plan) {
		if samePlacement(plan[g], view.placements[g]) {
			continue
		}
		// The id names the registry's log position: a retry of this very
		// decision replays, a later decision (even to the same nodes)
		// applies.
		cmd := &ledgerv1.Command{
			Id:   fmt.Sprintf("cluster/place/%s/%d", g, registry.LastIndex),
			Kind: &ledgerv1.Command_PlaceGroup{PlaceGroup: &ledgerv1.GroupPlacement{Group: g, Nodes: plan[g]}},
		}
		res, err := s.host.Propose(ctx, replication.RegistryGroup, cmd)
		switch {
		case err != nil:
			s.logger.Warn("placement not written", slog.String("group", g), slog.Any("error", err))
		case res.GetStatus() != ledgerv1.Status_STATUS_OK:
			s.logger.Warn("placement refused", slog.String("group", g), slog.String("error", res.GetError()))
		default:
			s.logger.Info("replicas to move", slog.String("group", g),
				slog.String("from", strings.Join(view.placements[g], ",")), slog.String("to", strings.Join(plan[g], ",")))
		}
	}
}

// step takes the next membership step of group g toward its placement
// (nextMove) and reports whether g matches its placement already.
func (s *scaler) step(ctx context.Context, view clusterView, g string) (bool, error) {
	statuses := s.statuses(ctx, view, g)
	leader, found := leaderOf(statuses)
	if !found {
		return false, fmt.Errorf("no leader of %s answered", g)
	}
	move, err := nextMove(view.placements[g], leader, statuses)
	if err != nil {
		return false, fmt.Errorf("%s: %w", g, err)
	}
	peer, listed := view.peer(move.node)
	if !listed && move.action != moveNone && move.action != moveWait && move.action != moveRemove {
		return false, fmt.Errorf("%s: node %s is not listed", g, move.node)
	}
	log := s.logger.With(slog.String("group", g), slog.String("node", move.node))
	switch move.action {
	case moveNone:
		return true, nil
	case moveWait:
		return false, nil
	case moveAddNonvoter:
		log.Info("adding replica as non-voter")
		return false, s.host.AddNonvoter(ctx, g, peer)
	case movePromote:
		log.Info("promoting caught-up replica to voter")
		return false, s.host.AddVoter(ctx, g, peer)
	case moveTransferLeadership:
		log.Info("moving leadership off a leaving replica", slog.String("from", leader.Leader))
		return false, s.host.TransferLeadership(ctx, g, peer)
	default:
		log.Info("removing replica")
		return false, s.host.RemoveServer(ctx, g, move.node)
	}
}
