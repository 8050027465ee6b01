package replication

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HostConfig configures a Host: one node's replicas of several Raft groups,
// all reached through one TCP listener. Start from DefaultHostConfig and set
// NodeID, Dir and RaftAddr (or Listener).
type HostConfig struct {
	// NodeID names this node: it is the Raft ServerID in every group it
	// replicates, so it must never change for a Dir.
	NodeID string
	// Dir is the node's data directory. Each group lives in Dir/<group>/,
	// laid out as a Config.Dir (see the package documentation).
	Dir string
	// RaftAddr is the host:port at which the other nodes reach this one,
	// for Raft and for forwarding alike; it is stored in every group's
	// membership, so it should not change either. Unless Listener is set,
	// OpenHost listens on it.
	RaftAddr string
	// Listener, if set, is an already-listening TCP listener to use instead
	// of listening on RaftAddr (tests bind 127.0.0.1:0 first; with RaftAddr
	// empty its address is advertised). The Host closes it.
	Listener net.Listener
	// TLS, if set, secures every connection of the listener and every
	// connection this host dials: it is used as the configuration of both
	// ends (cluster/nodecert builds one). A connection whose TLS handshake
	// fails is closed before a byte of its preamble is read. It must allow
	// TLS 1.3 only and require the peer's certificate. Nil leaves the links
	// in the clear: for a single node whose listener nobody else reaches,
	// and for tests.
	TLS *tls.Config

	// Group is the template of every group's Config: Ledger, BatchMax,
	// InFlightMax, QueueMax, ApplyTimeout and the snapshot settings. Its Dir,
	// NodeID, Logger and Registerer are ignored: each group gets its own
	// directory, this node's id, the Host's logger with a "group" attribute
	// and the Host's registerer with a "group" label. Every replica of a
	// group must use the same Ledger config.
	Group Config

	// ForwardInFlightMax bounds the requests this host has sent to other
	// hosts and not yet had answered (proposals, reads, membership changes),
	// each holding one connection. Beyond it a call fails at once with
	// ErrOverloaded. Default 4096: more than the proposers a node runs (one
	// per busy card grain), far fewer than its file descriptors.
	ForwardInFlightMax int
	// ForwardConnsPerPeer is how many forwarding connections this host
	// keeps to each other host. Requests are pipelined over them, so a few
	// carry any load; more than one keeps a large request from delaying
	// every other. Default 2.
	ForwardConnsPerPeer int
	// AttemptsMax bounds the attempts of one call (Propose, Query, ...): at
	// the local leader or forwarded, retried while there is no leader, the
	// leader moved or the outcome was unknown. The caller's context bounds
	// the time; this bounds the work. Default 100: with backoff between
	// retries capped at retryBackoffMax (100 ms), about 10 s of elections,
	// longer than any caller waits for a tap.
	AttemptsMax int

	// Logger receives the Host's and its groups' logs. Nil discards them.
	Logger *slog.Logger
	// Registerer is where the metrics of every group (label group) and of
	// forwarding are registered. Nil keeps them unexported.
	Registerer prometheus.Registerer
}

// Defaults, bounds and fixed timings of a Host. The timings are for a LAN
// (round trip ~0.1-0.5 ms, fsync 0.2-16 ms, see notes/raft.md); Raft's own
// timing is in raft.go.
const (
	defaultForwardInFlightMax  = 4096
	defaultForwardConnsPerPeer = 2
	defaultAttemptsMax         = 100

	forwardInFlightMaxLimit  = 1 << 16
	forwardConnsPerPeerLimit = 64
	attemptsMaxLimit         = 10000

	// groupNameBytesMax bounds a group's name: it is a directory name and a
	// metric label, and it travels in every preamble and request.
	groupNameBytesMax = 64

	// forwardDialTimeout bounds a TCP connect to another host. On a LAN it
	// takes well under a millisecond; a host that does not answer within
	// this is down or drowning, and the next attempt tries again.
	forwardDialTimeout = 500 * time.Millisecond
	// forwardTimeoutMax is the time a forwarded request may take when the
	// caller's context has no deadline, and the most a receiver will wait
	// whatever the sender asks. Bulk ProposeAll pieces (8,192 commands) take
	// well under a second.
	forwardTimeoutMax = time.Minute
	// forwardReplyMargin: the receiver gives up this much before the sender
	// does (or a tenth of the time, if less), so the sender hears "outcome
	// unknown" instead of timing out on the wire.
	forwardReplyMargin = 20 * time.Millisecond
	// forwardConnIdleMax: a client closes a connection that carried no call
	// for this long; forwardServerIdleMax: the server closes one that
	// brought no request for this long. The client gives up first, so it
	// rarely writes into a connection the server has closed (an unknown
	// outcome, retried, but a wasted attempt).
	forwardConnIdleMax   = 60 * time.Second
	forwardServerIdleMax = 2 * time.Minute
	// forwardStallMax: when a call gives up and nothing at all has come back
	// on its connection for this long since the call was written, the
	// connection is presumed dead (a machine that vanished sends no reset)
	// and closed; the calls on it end as unknown and are retried.
	forwardStallMax = 2 * time.Second
	// forwardSendQueueMax bounds the requests queued for one connection's
	// writer; a caller waits (within its context) for room.
	forwardSendQueueMax = 1024
	// forwardServeInFlightMax bounds the requests one connection may have
	// in service at the server; beyond it the server stops reading the
	// connection until one is answered (TCP pushes back on the sender).
	forwardServeInFlightMax = 4096
	// forwardBufferBytes is the read and write buffer of each forwarding
	// connection: a burst of ~200-byte proposals per system call.
	forwardBufferBytes = 64 << 10
	// forwardWriteTimeout bounds writing one response back: the sender is
	// reading, so only a dead peer or a full network makes it slow.
	forwardWriteTimeout = 5 * time.Second
	// forwardFrameBytesMax bounds one request or response frame.
	forwardFrameBytesMax = 16 << 20
	// forwardPieceCommandsMax and forwardPieceBytesMax bound the commands of
	// one forwarded ProposeAll request; a longer ProposeAll goes as several,
	// one after the other.
	forwardPieceCommandsMax = 8192
	forwardPieceBytesMax    = 4 << 20

	// retryBackoffMin and retryBackoffMax bound the wait before retrying
	// when no leader is known or the outcome was unknown: it doubles from the
	// minimum (an election here takes 0.5-1 s, raft.go) up to the maximum.
	retryBackoffMin = 5 * time.Millisecond
	retryBackoffMax = 100 * time.Millisecond

	// raftConnsPerPeer is how many idle Raft connections a group keeps to
	// each peer (raft's pool; replication uses one, votes and snapshots may
	// use others).
	raftConnsPerPeer = 3
	// raftIOTimeout is the I/O deadline of one Raft RPC (raft scales it up
	// for snapshots). An AppendEntries of 512 full entries is at most ~2 GB
	// in theory but a few MB in practice: ~30 ms on a gigabit LAN. 5 s
	// leaves room for a stalled fsync on the far side without tearing down
	// connections on every hiccup.
	raftIOTimeout = 5 * time.Second
	// leaderPollInterval: how often WaitLeader looks again.
	leaderPollInterval = 10 * time.Millisecond
)

// DefaultHostConfig returns a configuration for a node on a LAN. NodeID, Dir
// and RaftAddr are left empty.
func DefaultHostConfig() HostConfig {
	return HostConfig{
		Group:               DefaultConfig(),
		ForwardInFlightMax:  defaultForwardInFlightMax,
		ForwardConnsPerPeer: defaultForwardConnsPerPeer,
		AttemptsMax:         defaultAttemptsMax,
		Logger:              slog.Default(),
	}
}

// Validate rejects missing, contradictory or absurd settings.
func (c HostConfig) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("node id is empty"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("data directory is empty"))
	}
	if c.RaftAddr == "" && c.Listener == nil {
		errs = append(errs, errors.New("raft address is empty and there is no listener"))
	}
	if c.TLS != nil && (c.TLS.MinVersion < tls.VersionTLS13 || c.TLS.ClientAuth < tls.RequireAnyClientCert) {
		errs = append(errs, errors.New("TLS must allow TLS 1.3 only and require the peer's certificate"))
	}
	if c.RaftAddr != "" {
		if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
			errs = append(errs, fmt.Errorf("raft address: %w", err))
		}
	}
	// The group template is checked as a group would be opened.
	g := c.Group
	g.Dir, g.NodeID, g.Registerer = "template", c.NodeID, nil
	if c.NodeID == "" {
		g.NodeID = "template"
	}
	if err := g.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ForwardInFlightMax < 1 || c.ForwardInFlightMax > forwardInFlightMaxLimit {
		errs = append(errs, fmt.Errorf("forward in-flight maximum %d is outside [1, %d]", c.ForwardInFlightMax, forwardInFlightMaxLimit))
	}
	if c.ForwardConnsPerPeer < 1 || c.ForwardConnsPerPeer > forwardConnsPerPeerLimit {
		errs = append(errs, fmt.Errorf("forward connections per peer %d is outside [1, %d]", c.ForwardConnsPerPeer, forwardConnsPerPeerLimit))
	}
	if c.AttemptsMax < 1 || c.AttemptsMax > attemptsMaxLimit {
		errs = append(errs, fmt.Errorf("attempts maximum %d is outside [1, %d]", c.AttemptsMax, attemptsMaxLimit))
	}
	if c.Registerer == prometheus.DefaultRegisterer {
		errs = append(errs, errors.New("metrics registerer is the global default registry; pass one of the process's own"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replication host config: %w", err)
	}
	return nil
}

// checkGroupName accepts names usable as a directory, a metric label and a
// preamble word: 1-64 bytes of a-z, 0-9, '-', '_' and '.', not starting
// with '.'.
func checkGroupName(name string) error {
	if name == "" || len(name) > groupNameBytesMax {
		return fmt.Errorf("%w: group name %q is empty or longer than %d bytes", ErrInvalid, name, groupNameBytesMax)
	}
	if name[0] == '.' {
		return fmt.Errorf("%w: group name %q starts with a dot", ErrInvalid, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%w: group name %q has a character outside [a-z0-9-_.]", ErrInvalid, name)
		}
	}
	return nil
}
