package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// A node that the network cuts off from most of the cluster cannot commit
// (Raft needs a quorum of each group's voters), so it acknowledges nothing.
// But its actor member takes the members it can no longer reach for dead,
// the members on the other side take it for dead, and the actor library
// makes each block the other's identity for good: when the network heals
// they still refuse each other, and the cut-off node would go on hosting
// grains nobody else routes to. So a node that sees fewer than a quorum of
// the cluster's nodes for longer than QuorumLossMax stops with
// ErrRestartRequired, and its supervisor starts it again as a new member,
// which waits for its Raft groups and joins once the network lets it.
//
// The watch arms only once the node has seen a quorum: a node that is still
// starting, or whose peers are, has blocked nobody and only waits.

// ErrRestartRequired says the cluster no longer takes this member back:
// the process must stop and be started again (exit status 3 of `civicard
// node`), as a supervisor does.
var ErrRestartRequired = errors.New("member lost, restart required")

// quorumTick is how often the watch looks at the member list.
const quorumTick = 100 * time.Millisecond

// quorumWatch decides, from the members this node sees at each look,
// whether it still sees a quorum of the cluster's nodes. The nodes are the
// founding peers until the scaler gives it the replicated node list's
// active nodes (setNodes), so that a cluster that added and removed nodes
// counts the ones it has now.
type quorumWatch struct {
	cluster atomic.Pointer[quorumNodes]
	lossMax time.Duration
	// armed is set once a quorum was seen; lostAt is when it was last lost
	// (zero while it is seen).
	armed  bool
	lostAt time.Time
	// seen is how many of the nodes the last look found, for readiness.
	seen atomic.Int64
}

// quorumNodes are the actor addresses of the cluster's nodes and how many
// make a quorum. Never changed once made.
type quorumNodes struct {
	nodes  map[string]bool
	quorum int
}

func newQuorumWatch(peers []Peer, lossMax time.Duration) *quorumWatch {
	w := &quorumWatch{lossMax: lossMax}
	var addrs []string
	for _, p := range peers {
		addrs = append(addrs, p.Actor)
	}
	w.setNodes(addrs)
	return w
}

// setNodes makes the cluster's nodes these actor addresses. An empty list
// (a node that joined, before it read the node list) counts nothing: the
// watch then neither fails nor keeps the node unready.
func (w *quorumWatch) setNodes(actorAddrs []string) {
	nodes := map[string]bool{}
	for _, a := range actorAddrs {
		nodes[a] = true
	}
	w.cluster.Store(&quorumNodes{nodes: nodes, quorum: len(nodes)/2 + 1})
}

// observe takes the addresses of the members seen at now and returns an
// error wrapping ErrRestartRequired once a quorum has been out of sight
// for longer than lossMax.
func (w *quorumWatch) observe(now time.Time, members []string) error {
	c := w.cluster.Load()
	if len(c.nodes) == 0 {
		return nil
	}
	counted := map[string]bool{}
	for _, m := range members {
		if c.nodes[m] {
			counted[m] = true
		}
	}
	w.seen.Store(int64(len(counted)))
	switch {
	case len(counted) >= c.quorum:
		w.armed, w.lostAt = true, time.Time{}
	case !w.armed:
	case w.lostAt.IsZero():
		w.lostAt = now
	case now.Sub(w.lostAt) > w.lossMax:
		return fmt.Errorf("cluster: %w: this node has seen %d of the cluster's %d nodes (a quorum is %d) for %v, "+
			"so it is cut off and the others have taken it for dead; stopping so that it can be started again as a new member",
			ErrRestartRequired, len(counted), len(c.nodes), c.quorum, now.Sub(w.lostAt).Round(time.Millisecond))
	}
	return nil
}

// ready says why the node should not take requests: it does not see a
// quorum of the cluster's nodes.
func (w *quorumWatch) ready() error {
	c := w.cluster.Load()
	if seen := w.seen.Load(); len(c.nodes) > 0 && seen < int64(c.quorum) {
		return fmt.Errorf("sees %d of the cluster's %d nodes, a quorum is %d", seen, len(c.nodes), c.quorum)
	}
	return nil
}

// run looks at members at every tick and calls fail once when observe says
// so, then returns; or returns when ctx ends.
func (w *quorumWatch) run(ctx context.Context, tick <-chan time.Time, members func() []string, fail func(error)) {
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-tick:
		}
		if err := w.observe(now, members()); err != nil {
			fail(err)
			return
		}
	}
}

// quorumLoop is the watch as a node's component: from Start to Stop it
// looks at the actor member's list, and the node is unready while the
// watch sees no quorum.
type quorumLoop struct {
	w      *quorumWatch
	member *actorMember
	fail   func(error)
	loop
}

func (q *quorumLoop) Start(ctx context.Context) error {
	members := q.member.cluster.MemberList
	q.run = func(ctx context.Context) {
		ticker := time.NewTicker(quorumTick)
		defer ticker.Stop()
		q.w.run(ctx, ticker.C, func() []string {
			var addrs []string
			for _, m := range members.Members().Members() {
				addrs = append(addrs, m.Address())
			}
			return addrs
		}, q.fail)
	}
	return q.loop.Start(ctx)
}

func (q *quorumLoop) Ready() error { return q.w.ready() }
