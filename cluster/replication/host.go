package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

var (
	// ErrOutcomeUnknown: a proposal or membership change may or may not
	// have been applied, and the call ran out of time or attempts before it
	// could find out. Retry with the same command ids: it is safe.
	ErrOutcomeUnknown = errors.New("replication: outcome unknown")
	// ErrNoLeader: no leader of the group could be reached in time (an
	// election, a partition, every replica down). Nothing was proposed.
	ErrNoLeader = errors.New("replication: no leader of the group reached")
	// ErrNoGroup: this host does not replicate the group (and, for calls that
	// can be forwarded, knows no host that does).
	ErrNoGroup = errors.New("replication: group not hosted")
	// ErrMembership: the leader refused a membership change (another one is
	// in progress, an unknown server...). Nothing changed.
	ErrMembership = errors.New("replication: membership change refused")
)

// Peer is one node as a group's membership names it.
type Peer struct {
	NodeID   string // the node's HostConfig.NodeID: its Raft ServerID
	RaftAddr string // the node's HostConfig.RaftAddr
}

// GroupSpec says which group a Host should replicate.
type GroupSpec struct {
	// Name of the group: RegistryGroup, ShardGroup(i), ...
	Name string
	// Voters of a brand-new group, in a fixed order every node agrees on.
	// The bootstrap rule: the node named first bootstraps the group with
	// exactly these voters, if and only if its Dir/<group> holds no Raft
	// state; every other node starts an empty replica and waits for the
	// leader to reach it. Once the group exists its membership lives in its
	// log, and changes only through AddNonvoter, AddVoter and RemoveServer:
	// to add a replica, Join on the new node with no Voters (or any list
	// that does not name it first), then add it from anywhere.
	Voters []Peer
}

// GroupStatus is one replica's view of its group.
type GroupStatus struct {
	Name  string
	State string // Raft's state of this replica: Leader, Follower, Candidate, Shutdown
	// Leader as this replica knows it; zero while there is none.
	Leader    Peer
	Voters    []Peer
	Nonvoters []Peer
	// LastIndex is the newest entry in this replica's log, CommitIndex the
	// newest it knows committed, AppliedIndex the newest its ledger applied.
	// A new replica has caught up when its AppliedIndex reaches the
	// leader's CommitIndex as it was when the replica was added.
	LastIndex, CommitIndex, AppliedIndex uint64
	// LastContact is when a follower last heard from its leader (zero on
	// the leader).
	LastContact time.Time
}

// Host is one node's replicas of several Raft groups, over one listener. It
// proposes to, reads from and changes the membership of any group, at the
// local replica if it leads and else at the leader, wherever it is. Its
// methods are safe for concurrent use.
type Host struct {
	cfg     HostConfig
	log     *slog.Logger
	addr    string // advertised: cfg.RaftAddr or the listener's address
	mux     *mux
	fwd     *forwarder
	metrics *hostMetrics
	// life ends when Close starts: forwarded requests in service stop
	// waiting.
	life context.Context
	stop context.CancelFunc

	joinMu sync.Mutex // serialises Join and Leave

	mu       sync.RWMutex
	replicas map[string]*replica // guarded by mu
	routes   map[string]*route   // guarded by mu
	closed   bool                // guarded by mu

	closeOnce sync.Once
	closeErr  error
}

type replica struct {
	g          *Group
	unregister func()
}

// route is where a group's leader may be: the last leader heard of, and the
// group's members to ask when none is known.
type route struct {
	mu     sync.Mutex
	leader string // guarded by mu; "" when unknown
	peers  []Peer // guarded by mu
	next   int    // guarded by mu; round robin over peers
}

// OpenHost starts a host: it listens (or takes cfg.Listener) and serves
// forwarded requests. It replicates no group until Join.
func OpenHost(_ context.Context, cfg HostConfig) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("node", cfg.NodeID)
	ln := cfg.Listener
	if err := os.MkdirAll(cfg.Dir, dirFileMode); err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, fmt.Errorf("replication: create node directory: %w", err)
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.RaftAddr); err != nil {
			return nil, fmt.Errorf("replication: listen: %w", err)
		}
	}
	addr := cfg.RaftAddr
	if addr == "" {
		addr = ln.Addr().String()
	}
	metrics, err := newHostMetrics(cfg.Registerer)
	if err != nil {
		ln.Close()
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	h := &Host{
		cfg: cfg, log: logger, addr: addr, metrics: metrics,
		fwd:  newForwarder(cfg.ForwardInFlightMax, cfg.ForwardConnsPerPeer, cfg.TLS),
		life: life, stop: stop,
		replicas: make(map[string]*replica),
		routes:   make(map[string]*route),
	}
	h.mux = newMux(ln, addr, cfg.TLS, logger, h.serveForward)
	logger.Info("replication: host open", "raft_addr", addr)
	return h, nil
}

// Addr is the address other nodes reach this host at.
func (h *Host) Addr() string { return h.addr }

// Self is this host as a group's membership names it.
func (h *Host) Self() Peer { return Peer{NodeID: h.cfg.NodeID, RaftAddr: h.addr} }

// Join starts this node's replica of a group in Dir/<spec.Name>/, creating
// the group if this node bootstraps it (see GroupSpec). It returns once Raft
// runs, without waiting for a leader (WaitLeader does). Joining a group
// already hosted does nothing.
func (h *Host) Join(ctx context.Context, spec GroupSpec) error {
	if err := checkGroupName(spec.Name); err != nil {
		return err
	}
	if err := checkPeers(spec.Voters); err != nil {
		return err
	}
	h.joinMu.Lock()
	defer h.joinMu.Unlock()
	h.mu.RLock()
	closed, hosted := h.closed, h.replicas[spec.Name] != nil
	h.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if hosted {
		return nil
	}

	stream, err := h.mux.stream(spec.Name)
	if err != nil {
		return err
	}
	logger := h.log.With("group", spec.Name)
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: raftConnsPerPeer,
		Timeout: raftIOTimeout,
		Logger:  newHCLogger(logger, hclog.Warn).Named("raft-net"),
	})
	nw := &network{trans: trans, close: func() error {
		// Close alone leaves the pooled outgoing connections open.
		trans.CloseStreams()
		return trans.Close()
	}}
	if len(spec.Voters) > 0 && spec.Voters[0].NodeID == h.cfg.NodeID {
		for _, p := range spec.Voters {
			nw.bootstrap.Servers = append(nw.bootstrap.Servers, raft.Server{
				Suffrage: raft.Voter, ID: raft.ServerID(p.NodeID), Address: raft.ServerAddress(p.RaftAddr),
			})
		}
	}

	cfg := h.cfg.Group
	cfg.Dir = filepath.Join(h.cfg.Dir, spec.Name)
	cfg.NodeID = h.cfg.NodeID
	cfg.Logger = logger
	cfg.Registerer = nil
	if h.cfg.Registerer != nil {
		cfg.Registerer = prometheus.WrapRegistererWith(prometheus.Labels{"group": spec.Name}, h.cfg.Registerer)
	}
	if err := cfg.Validate(); err != nil {
		return errors.Join(err, nw.close())
	}
	g, err := open(ctx, cfg, nw, false)
	if err != nil {
		return err
	}
	unregister, err := h.metrics.addGroup(cfg.Registerer, g)
	if err != nil {
		return errors.Join(err, g.Close())
	}
	h.mu.Lock()
	h.replicas[spec.Name] = &replica{g: g, unregister: unregister}
	if len(spec.Voters) > 0 {
		h.routeLocked(spec.Name).setPeers(spec.Voters)
	}
	h.mu.Unlock()
	return nil
}

func checkPeers(peers []Peer) error {
	seen := make(map[string]bool, len(peers))
	for _, p := range peers {
		if p.NodeID == "" || len(p.NodeID) > nodeIDBytesMax {
			return fmt.Errorf("%w: peer node id %q is empty or longer than %d bytes", ErrInvalid, p.NodeID, nodeIDBytesMax)
		}
		if _, _, err := net.SplitHostPort(p.RaftAddr); err != nil {
			return fmt.Errorf("%w: peer %s: raft address: %w", ErrInvalid, p.NodeID, err)
		}
		if seen[p.NodeID] {
			return fmt.Errorf("%w: peer %s named twice", ErrInvalid, p.NodeID)
		}
		seen[p.NodeID] = true
	}
	return nil
}

// Route tells the host where a group it does not replicate lives, so it can
// forward to it: the group's members (any of them; a follower redirects to
// its leader). Calls for a group the host neither replicates nor has a
// route for fail with ErrNoGroup.
func (h *Host) Route(group string, peers []Peer) error {
	if err := checkGroupName(group); err != nil {
		return err
	}
	if err := checkPeers(peers); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.routeLocked(group).setPeers(peers)
	return nil
}

func (h *Host) routeLocked(group string) *route {
	r := h.routes[group]
	if r == nil {
		r = &route{}
		h.routes[group] = r
	}
	return r
}

func (r *route) setPeers(peers []Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.peers = slices.Clone(peers)
}

func (r *route) setLeader(addr string) {
	r.mu.Lock()
	r.leader = addr
	r.mu.Unlock()
}

// forget clears the cached leader if it is addr.
func (r *route) forget(addr string) {
	r.mu.Lock()
	if r.leader == addr {
		r.leader = ""
	}
	r.mu.Unlock()
}

// guess returns the cached leader, or else the next peer other than self.
func (r *route) guess(self string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leader != "" {
		return r.leader
	}
	for range r.peers {
		p := r.peers[r.next%len(r.peers)]
		r.next++
		if p.RaftAddr != self {
			return p.RaftAddr
		}
	}
	return ""
}

// Leave closes this node's replica of a group; its data stays in
// Dir/<group>/. Remove the node from the group's membership first
// (RemoveServer), or the group counts a dead replica.
func (h *Host) Leave(group string) error {
	h.joinMu.Lock()
	defer h.joinMu.Unlock()
	h.mu.Lock()
	rep := h.replicas[group]
	delete(h.replicas, group)
	h.mu.Unlock()
	if rep == nil {
		return fmt.Errorf("%w: %s", ErrNoGroup, group)
	}
	rep.unregister()
	return rep.g.Close()
}

func (h *Host) replica(group string) *replica {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.replicas[group]
}

// route returns the group's route, creating an empty one.
func (h *Host) route(group string) *route {
	h.mu.RLock()
	r := h.routes[group]
	h.mu.RUnlock()
	if r != nil {
		return r
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.routeLocked(group)
}

// Propose proposes one command to a group and returns the ledger's Result,
// exactly as Group.Propose does at the leader: at this node's replica if it
// leads, else forwarded to the leader. While there is no leader, the leader
// moved, or an attempt's outcome is unknown, it tries again (with the same
// command, which is safe: the ledger answers a repeated id with its first
// result, marked replayed), until ctx ends or HostConfig.AttemptsMax.
// Replayed in the Result means that the caller sent the command before: a
// replay that may answer one of this call's own attempts (one whose answer
// was lost) is returned unmarked, as the first answer.
//
// Errors: ErrInvalid and ErrOverloaded, nothing proposed; ErrNoLeader, no
// leader reached and nothing proposed; ErrOutcomeUnknown (wrapping the
// context's error when it ran out), the command may have been applied:
// retry it unchanged. A Result is never made up: it is the one the leader's
// ledger gave, for this command id.
func (h *Host) Propose(ctx context.Context, group string, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	if _, err := checkCommand(cmd); err != nil {
		return nil, err
	}
	var retried bool
	resp, err := h.callTracked(ctx, &replicationv1.ForwardRequest{
		Group: group,
		Kind:  &replicationv1.ForwardRequest_Propose{Propose: &replicationv1.ProposeRequest{Commands: []*ledgerv1.Command{cmd}}},
	}, true, &retried)
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != 1 {
		return nil, fmt.Errorf("%w: the leader answered %d results for 1 command", ErrOutcomeUnknown, len(resp.GetResults()))
	}
	res := resp.GetResults()[0]
	if retried && res.GetReplayed() {
		// When the caller had sent it before too, it cannot be told apart:
		// not saying "replayed" then is the lesser error.
		res = proto.CloneOf(res)
		res.Replayed = false
	}
	return res, nil
}

// ProposeAll proposes cmds in order and returns their Results in the same
// order, as Group.ProposeAll does, at the leader wherever it is; forwarded,
// it goes in pieces of at most 8,192 commands and 4 MiB, one after the
// other. On an error any prefix of cmds may have been applied: call it
// again with the same commands.
func (h *Host) ProposeAll(ctx context.Context, group string, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error) {
	results := make([]*ledgerv1.Result, 0, len(cmds))
	for first := 0; first < len(cmds); {
		end, bytes := first, 0
		for end < len(cmds) && end-first < forwardPieceCommandsMax {
			size, err := checkCommand(cmds[end])
			if err != nil {
				return nil, fmt.Errorf("command %d: %w", end, err)
			}
			if end > first && bytes+size > forwardPieceBytesMax {
				break
			}
			bytes += size
			end++
		}
		resp, err := h.call(ctx, &replicationv1.ForwardRequest{
			Group: group,
			Kind:  &replicationv1.ForwardRequest_Propose{Propose: &replicationv1.ProposeRequest{Commands: cmds[first:end], All: true}},
		}, true)
		if err != nil {
			return nil, err
		}
		if len(resp.GetResults()) != end-first {
			return nil, fmt.Errorf("%w: the leader answered %d results for %d commands", ErrOutcomeUnknown, len(resp.GetResults()), end-first)
		}
		results = append(results, resp.GetResults()...)
		first = end
	}
	return results, nil
}

// Read runs fn on this node's replica of a group if it leads, after
// confirming with a quorum that it still does (raft.VerifyLeader) and that
// its ledger holds every entry of earlier terms: fn sees every proposal
// acknowledged anywhere before Read was called. It does not forward (fn is
// code, not data): elsewhere it fails with ErrNotLeader, and Query reads at
// the leader wherever it is. The rules of Group.Read apply to fn.
func (h *Host) Read(ctx context.Context, group string, fn func(*ledger.State)) error {
	rep := h.replica(group)
	if rep == nil {
		return fmt.Errorf("%w: %s", ErrNoGroup, group)
	}
	return rep.g.leaderRead(ctx, fn)
}

// ReadLocal runs fn on this node's replica of a group, as Group.Read does.
// On a follower the state may lag the leader by what is in flight (a few
// milliseconds on a LAN); use Query for reads that must see every
// acknowledged proposal.
func (h *Host) ReadLocal(group string, fn func(*ledger.State)) error {
	rep := h.replica(group)
	if rep == nil {
		return fmt.Errorf("%w: %s", ErrNoGroup, group)
	}
	rep.g.Read(fn)
	return nil
}

// Digest returns the digest of this node's replica of a group (see
// Group.Digest). Replicas that applied the same entries have equal digests.
func (h *Host) Digest(group string) ([32]byte, error) {
	rep := h.replica(group)
	if rep == nil {
		return [32]byte{}, fmt.Errorf("%w: %s", ErrNoGroup, group)
	}
	return rep.g.Digest(), nil
}

// AddNonvoter adds a replica that receives the group's log but does not
// vote, the first step of moving a replica: Join the group on the new node
// (with no Voters), AddNonvoter, wait until it has caught up (its
// GroupStatus), AddVoter, then RemoveServer the replica it replaces.
// Adding a server that is already a member changes only its address.
func (h *Host) AddNonvoter(ctx context.Context, group string, p Peer) error {
	return h.changeMembership(ctx, group, replicationv1.MembershipOp_MEMBERSHIP_OP_ADD_NONVOTER, p)
}

// AddVoter adds a voter, or promotes a non-voter.
func (h *Host) AddVoter(ctx context.Context, group string, p Peer) error {
	return h.changeMembership(ctx, group, replicationv1.MembershipOp_MEMBERSHIP_OP_ADD_VOTER, p)
}

// RemoveServer removes a replica from the group's membership. Removing the
// leader makes it step down once the change commits. Removing a server that
// is not a member does nothing.
func (h *Host) RemoveServer(ctx context.Context, group, nodeID string) error {
	return h.changeMembership(ctx, group, replicationv1.MembershipOp_MEMBERSHIP_OP_REMOVE, Peer{NodeID: nodeID})
}

// TransferLeadership asks the group's leader to hand over to peer (the zero
// Peer: to the most up-to-date follower), e.g. before draining its node. It
// is not retried after an unknown outcome: look at the group's status.
func (h *Host) TransferLeadership(ctx context.Context, group string, to Peer) error {
	return h.changeMembership(ctx, group, replicationv1.MembershipOp_MEMBERSHIP_OP_TRANSFER_LEADERSHIP, to)
}

func (h *Host) changeMembership(ctx context.Context, group string, op replicationv1.MembershipOp, p Peer) error {
	if p.NodeID == "" && op != replicationv1.MembershipOp_MEMBERSHIP_OP_TRANSFER_LEADERSHIP {
		return fmt.Errorf("%w: no node id", ErrInvalid)
	}
	_, err := h.call(ctx, &replicationv1.ForwardRequest{
		Group: group,
		Kind: &replicationv1.ForwardRequest_Membership{Membership: &replicationv1.MembershipChange{
			Op: op, NodeId: p.NodeID, RaftAddr: p.RaftAddr,
		}},
	}, op != replicationv1.MembershipOp_MEMBERSHIP_OP_TRANSFER_LEADERSHIP)
	return err
}

// WaitLeader waits until this node's replica of a group knows a leader, and
// returns it.
func (h *Host) WaitLeader(ctx context.Context, group string) (Peer, error) {
	t := time.NewTicker(leaderPollInterval)
	defer t.Stop()
	for {
		rep := h.replica(group)
		if rep == nil {
			return Peer{}, fmt.Errorf("%w: %s", ErrNoGroup, group)
		}
		if addr, id := rep.g.raft.LeaderWithID(); addr != "" {
			return Peer{NodeID: string(id), RaftAddr: string(addr)}, nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return Peer{}, fmt.Errorf("replication: waiting for a leader of %s: %w", group, ctx.Err())
		}
	}
}

// Groups returns this node's view of every group it replicates, sorted by
// name. It does no I/O.
func (h *Host) Groups() []GroupStatus {
	h.mu.RLock()
	names := make([]string, 0, len(h.replicas))
	reps := make(map[string]*replica, len(h.replicas))
	for n, r := range h.replicas {
		names = append(names, n)
		reps[n] = r
	}
	h.mu.RUnlock()
	slices.Sort(names)
	out := make([]GroupStatus, 0, len(names))
	for _, n := range names {
		out = append(out, reps[n].g.status(n))
	}
	return out
}

// Status returns this node's view of one group.
func (h *Host) Status(group string) (GroupStatus, error) {
	rep := h.replica(group)
	if rep == nil {
		return GroupStatus{}, fmt.Errorf("%w: %s", ErrNoGroup, group)
	}
	return rep.g.status(group), nil
}

func (g *Group) status(name string) GroupStatus {
	r := g.raft
	st := GroupStatus{
		Name:         name,
		State:        r.State().String(),
		LastIndex:    r.LastIndex(),
		CommitIndex:  r.CommitIndex(),
		AppliedIndex: r.AppliedIndex(),
	}
	addr, id := r.LeaderWithID()
	st.Leader = Peer{NodeID: string(id), RaftAddr: string(addr)}
	if r.State() != raft.Leader {
		st.LastContact = r.LastContact()
	}
	if f := r.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			p := Peer{NodeID: string(s.ID), RaftAddr: string(s.Address)}
			if s.Suffrage == raft.Voter {
				st.Voters = append(st.Voters, p)
			} else {
				st.Nonvoters = append(st.Nonvoters, p)
			}
		}
	}
	return st
}

// Close closes every replica (see Group.Close: queued proposals get
// ErrClosed), stops serving and forwarding, and closes the listener. It is
// safe to call more than once.
func (h *Host) Close() error {
	h.closeOnce.Do(func() { h.closeErr = h.close() })
	return h.closeErr
}

func (h *Host) close() error {
	h.joinMu.Lock()
	defer h.joinMu.Unlock()
	h.mu.Lock()
	h.closed = true
	reps := h.replicas
	h.replicas = map[string]*replica{}
	h.mu.Unlock()
	h.stop()
	h.fwd.close()

	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, rep := range reps {
		wg.Go(func() {
			rep.unregister()
			if err := rep.g.Close(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	errs = append(errs, h.mux.close())
	h.metrics.unregister()
	return errors.Join(errs...)
}

func (h *Host) isClosed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closed
}

// call runs a request at the group's leader: here if this replica leads,
// else forwarded; and retries while the leader is unknown or moved, and
// after unknown outcomes if retryUnknown, within ctx and AttemptsMax.
func (h *Host) call(ctx context.Context, req *replicationv1.ForwardRequest, retryUnknown bool) (*replicationv1.ForwardResponse, error) {
	return h.callTracked(ctx, req, retryUnknown, nil)
}

// callTracked is call, and sets *retried (when not nil) on an answer that
// came after an attempt whose outcome was unknown: an attempt of this call
// may have been applied, and the answer may be its replay.
func (h *Host) callTracked(ctx context.Context, req *replicationv1.ForwardRequest, retryUnknown bool, retried *bool) (*replicationv1.ForwardResponse, error) {
	group := req.GetGroup()
	if err := checkGroupName(group); err != nil {
		return nil, err
	}
	var (
		uncertain bool // an attempt may have been applied
		lastErr   error
		hint      string // the leader a follower named, tried next at once
		backoff   = retryBackoffMin
	)
	giveUp := func(cause error) error {
		if uncertain {
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, cause)
		}
		return fmt.Errorf("%w: %w", ErrNoLeader, cause)
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, giveUp(errors.Join(err, lastErr))
		}
		if attempt > h.cfg.AttemptsMax {
			return nil, giveUp(fmt.Errorf("gave up after %d attempts: %w", h.cfg.AttemptsMax, lastErr))
		}
		if h.isClosed() {
			return nil, giveUp(ErrClosed)
		}
		resp, target, err := h.attempt(ctx, req, hint)
		followed := hint != ""
		hint = ""
		var ns errNotSent
		switch {
		case err != nil && errors.As(err, &ns):
			if errors.Is(err, ErrOverloaded) && !uncertain {
				h.metrics.forward(group, attemptOverloaded)
				return nil, err
			}
			if errors.Is(err, errNoRoute) {
				h.metrics.forward(group, attemptNoGroup)
				return nil, giveUp(err)
			}
			h.metrics.forward(group, attemptUnreachable)
			h.forget(group, target)
			lastErr = err
		case err != nil:
			h.metrics.forward(group, attemptUnknown)
			if ctx.Err() == nil {
				// The connection failed under it: that host may be gone.
				h.forget(group, target)
			}
			uncertain, lastErr = true, err
			if !retryUnknown {
				return nil, giveUp(err)
			}
		default:
			status := resp.GetStatus()
			h.metrics.forwardStatus(group, target == h.addr, status)
			switch status {
			case replicationv1.ForwardStatus_FORWARD_STATUS_OK:
				if target != h.addr {
					h.route(group).setLeader(target)
				}
				if retried != nil {
					*retried = uncertain
				}
				return resp, nil
			case replicationv1.ForwardStatus_FORWARD_STATUS_INVALID:
				return nil, fmt.Errorf("%w: %s", ErrInvalid, resp.GetError())
			case replicationv1.ForwardStatus_FORWARD_STATUS_FAILED:
				return nil, fmt.Errorf("%w: %s", ErrMembership, resp.GetError())
			case replicationv1.ForwardStatus_FORWARD_STATUS_OVERLOADED:
				if !uncertain {
					return nil, fmt.Errorf("%w: at the leader %s", ErrOverloaded, target)
				}
				lastErr = fmt.Errorf("%w: at the leader %s", ErrOverloaded, target)
			case replicationv1.ForwardStatus_FORWARD_STATUS_NOT_LEADER:
				lastErr = fmt.Errorf("%w: %s", ErrNotLeader, target)
				h.forget(group, target)
				if l := resp.GetLeaderAddr(); l != "" && l != target && l != h.addr {
					h.route(group).setLeader(l)
					if !followed {
						hint = l
						continue // at once, but only once in a row
					}
				}
			case replicationv1.ForwardStatus_FORWARD_STATUS_NO_GROUP:
				lastErr = fmt.Errorf("%w: at %s", ErrNoGroup, target)
				h.forget(group, target)
			case replicationv1.ForwardStatus_FORWARD_STATUS_UNKNOWN_OUTCOME:
				uncertain, lastErr = true, fmt.Errorf("at %s: %s", target, resp.GetError())
				if !retryUnknown {
					return nil, giveUp(lastErr)
				}
			default:
				uncertain, lastErr = true, fmt.Errorf("at %s: unexpected status %v", target, status)
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, giveUp(errors.Join(ctx.Err(), lastErr))
		}
		backoff = min(2*backoff, retryBackoffMax)
	}
}

// attempt runs req once: at the local replica if it leads (or if hint names
// this host), else at hint, the leader the local replica knows, or a guess
// from the group's route. It returns where it went.
func (h *Host) attempt(ctx context.Context, req *replicationv1.ForwardRequest, hint string) (*replicationv1.ForwardResponse, string, error) {
	group := req.GetGroup()
	rep := h.replica(group)
	if rep != nil && (hint == h.addr || hint == "" && rep.g.raft.State() == raft.Leader) {
		return h.serveLocal(ctx, rep.g, req), h.addr, nil
	}
	target := hint
	if target == "" && rep != nil {
		addr, _ := rep.g.raft.LeaderWithID()
		target = string(addr)
	}
	if target == "" {
		r := h.lookupRoute(group)
		if r == nil && rep == nil {
			return nil, "", errNotSent{errNoRoute}
		}
		if r != nil {
			target = r.guess(h.addr)
		}
	}
	if target == "" {
		return nil, "", errNotSent{errors.New("no leader known")}
	}
	if target == h.addr {
		if rep == nil {
			// A stale hint: this host led the group once.
			return nil, target, errNotSent{errors.New("the leader named is this host, which no longer replicates the group")}
		}
		return h.serveLocal(ctx, rep.g, req), h.addr, nil
	}
	resp, err := h.fwd.call(ctx, target, req)
	return resp, target, err
}

// errNoRoute: the host neither replicates the group nor has a route to it.
var errNoRoute = fmt.Errorf("%w, and no route to it", ErrNoGroup)

// lookupRoute returns the group's route, or nil.
func (h *Host) lookupRoute(group string) *route {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.routes[group]
}

// forget clears addr as the group's cached leader.
func (h *Host) forget(group, addr string) {
	if r := h.lookupRoute(group); r != nil && addr != "" {
		r.forget(addr)
	}
}

// serve answers a request that another host forwarded.
func (h *Host) serve(ctx context.Context, req *replicationv1.ForwardRequest) *replicationv1.ForwardResponse {
	rep := h.replica(req.GetGroup())
	if rep == nil {
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_NO_GROUP, Error: "group not hosted here"}
	}
	if _, ok := req.GetKind().(*replicationv1.ForwardRequest_ReplicaStatus); ok {
		// Answered by any replica: it is about this one.
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK, ReplicaStatus: replicaStatusOf(rep.g)}
	}
	return h.serveLocal(ctx, rep.g, req)
}

// serveLocal runs a request at this replica, which must lead; it never
// forwards further (one hop).
func (h *Host) serveLocal(ctx context.Context, g *Group, req *replicationv1.ForwardRequest) *replicationv1.ForwardResponse {
	if g.raft.State() != raft.Leader {
		return h.notLeader(g, "not the leader")
	}
	switch k := req.GetKind().(type) {
	case *replicationv1.ForwardRequest_Propose:
		cmds := k.Propose.GetCommands()
		if k.Propose.GetAll() {
			res, err := g.ProposeAll(ctx, cmds)
			if err != nil {
				// Any prefix may have been applied: never "nothing done".
				if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrOverloaded) {
					return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_UNKNOWN_OUTCOME, Error: err.Error()}
				}
				return h.errorResponse(g, err)
			}
			return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK, Results: res}
		}
		if len(cmds) != 1 {
			return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_INVALID, Error: fmt.Sprintf("%d commands in a single proposal", len(cmds))}
		}
		res, err := g.Propose(ctx, cmds[0])
		if err != nil {
			return h.errorResponse(g, err)
		}
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK, Results: []*ledgerv1.Result{res}}
	case *replicationv1.ForwardRequest_Query:
		return h.queryLocal(ctx, g, k.Query)
	case *replicationv1.ForwardRequest_Membership:
		return h.membershipLocal(ctx, g, k.Membership)
	default:
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_INVALID, Error: "request of no known kind"}
	}
}

func (h *Host) notLeader(g *Group, why string) *replicationv1.ForwardResponse {
	resp := &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_NOT_LEADER, Error: why}
	if addr, id := g.raft.LeaderWithID(); addr != "" && string(addr) != h.addr {
		resp.LeaderId, resp.LeaderAddr = string(id), string(addr)
	}
	return resp
}

// errorResponse maps a Group's error onto the wire.
func (h *Host) errorResponse(g *Group, err error) *replicationv1.ForwardResponse {
	switch {
	case errors.Is(err, ErrNotLeader):
		return h.notLeader(g, err.Error())
	case errors.Is(err, ErrOverloaded):
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_OVERLOADED, Error: err.Error()}
	case errors.Is(err, ErrInvalid):
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_INVALID, Error: err.Error()}
	default:
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_UNKNOWN_OUTCOME, Error: err.Error()}
	}
}

func (h *Host) membershipLocal(ctx context.Context, g *Group, m *replicationv1.MembershipChange) *replicationv1.ForwardResponse {
	id, addr := raft.ServerID(m.GetNodeId()), raft.ServerAddress(m.GetRaftAddr())
	invalid := func(why string) *replicationv1.ForwardResponse {
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_INVALID, Error: why}
	}
	var f raft.Future
	switch m.GetOp() {
	case replicationv1.MembershipOp_MEMBERSHIP_OP_ADD_NONVOTER, replicationv1.MembershipOp_MEMBERSHIP_OP_ADD_VOTER:
		if err := checkPeers([]Peer{{NodeID: string(id), RaftAddr: string(addr)}}); err != nil {
			return invalid(err.Error())
		}
		if m.GetOp() == replicationv1.MembershipOp_MEMBERSHIP_OP_ADD_VOTER {
			f = g.raft.AddVoter(id, addr, 0, g.cfg.ApplyTimeout)
		} else {
			f = g.raft.AddNonvoter(id, addr, 0, g.cfg.ApplyTimeout)
		}
	case replicationv1.MembershipOp_MEMBERSHIP_OP_REMOVE:
		if id == "" {
			return invalid("no node id")
		}
		f = g.raft.RemoveServer(id, 0, g.cfg.ApplyTimeout)
	case replicationv1.MembershipOp_MEMBERSHIP_OP_TRANSFER_LEADERSHIP:
		switch {
		case id == raft.ServerID(h.cfg.NodeID):
			// Already there (perhaps by an earlier attempt).
			return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK}
		case id == "":
			f = g.raft.LeadershipTransfer()
		default:
			f = g.raft.LeadershipTransferToServer(id, addr)
		}
	default:
		return invalid(fmt.Sprintf("membership operation %v", m.GetOp()))
	}
	err := waitFuture(ctx, f)
	switch {
	case err == nil:
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK}
	case errors.Is(err, raft.ErrNotLeader):
		return h.notLeader(g, err.Error())
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrRaftShutdown),
		errors.Is(err, raft.ErrEnqueueTimeout), ctx.Err() != nil:
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_UNKNOWN_OUTCOME, Error: err.Error()}
	default:
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_FAILED, Error: err.Error()}
	}
}

// waitFuture waits for a raft future or ctx. The goroutine ends when the
// future does, at the latest when raft shuts down.
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
