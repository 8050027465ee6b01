package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// One TCP listener carries all of a host's traffic: Raft's RPCs of every
// group it replicates, and forwarded proposals, reads and membership
// changes. Every connection opens with a one-line preamble that says what
// it carries:
//
//	"raft <group>\n"   then raft's own NetworkTransport protocol for <group>
//	"forward\n"        then the forwarding protocol (forward.go)
//
// With TLS (HostConfig.TLS) the handshake comes first, within
// preambleTimeout: a peer without a certificate of the cluster's CA is
// refused before its preamble is read.
//
// The accepting side reads the preamble byte by byte (so nothing after it is
// consumed), within preambleTimeout, and hands the connection on. A
// connection whose preamble is malformed, too long or names a group this
// host does not replicate is closed: Raft's sender retries with backoff,
// which is what it does for a peer that is down.
const (
	preambleRaft    = "raft "
	preambleForward = "forward"
	// preambleBytesMax bounds the first line: "raft " and a group name.
	preambleBytesMax = len(preambleRaft) + groupNameBytesMax + 1
	// preambleTimeout bounds how long an accepted connection may take to
	// send its preamble; on a LAN it comes in the first packet.
	preambleTimeout = 5 * time.Second
	// streamAcceptQueueMax bounds the connections accepted for a group that
	// its Raft transport has not taken yet. Raft takes them at once; a full
	// queue means the group is stuck or closing.
	streamAcceptQueueMax = 64
	// streamHandoffTimeout bounds how long a connection waits for a place in
	// that queue before it is closed.
	streamHandoffTimeout = time.Second
)

var errStreamClosed = errors.New("replication: stream layer closed")

// mux owns the listener and dispatches connections by preamble.
type mux struct {
	ln        net.Listener
	advertise string // the address peers dial: HostConfig.RaftAddr
	log       *slog.Logger
	forward   func(net.Conn) // serves one forwarding connection until it ends
	tls       *tls.Config    // nil: connections in the clear

	mu      sync.Mutex
	streams map[string]*groupStream   // guarded by mu
	conns   map[*trackedConn]struct{} // every accepted connection still open; guarded by mu
	closed  bool                      // guarded by mu

	wg sync.WaitGroup // the accept loop and every connection's goroutine
}

func newMux(ln net.Listener, advertise string, tlsCfg *tls.Config, log *slog.Logger, forward func(net.Conn)) *mux {
	m := &mux{
		ln: ln, advertise: advertise, tls: tlsCfg, log: log, forward: forward,
		streams: make(map[string]*groupStream),
		conns:   make(map[*trackedConn]struct{}),
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

func (m *mux) acceptLoop() {
	defer m.wg.Done()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			if m.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: do not spin.
			m.log.Warn("replication: accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if m.tls != nil {
			conn = tls.Server(conn, m.tls)
		}
		tc := &trackedConn{Conn: conn, mux: m}
		if !m.track(tc) {
			conn.Close()
			return
		}
		m.wg.Add(1)
		go m.dispatch(tc)
	}
}

// track records an accepted connection so Close can end it; false if the mux
// is closed.
func (m *mux) track(conn *trackedConn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.conns[conn] = struct{}{}
	return true
}

func (m *mux) untrack(conn *trackedConn) {
	m.mu.Lock()
	delete(m.conns, conn)
	m.mu.Unlock()
}

func (m *mux) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// trackedConn leaves the mux's set of open connections when it is closed,
// by whoever closes it (raft closes the connections it was handed).
type trackedConn struct {
	net.Conn
	mux  *mux
	once sync.Once
	// shut is set when the mux closes the connection on its way down; reads
	// then end in io.EOF, which raft takes quietly, rather than in an
	// error it logs.
	shut atomic.Bool
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.shut.Load() {
		err = io.EOF
	}
	return n, err
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.mux.untrack(c) })
	return err
}

// dispatch reads the preamble and hands the connection on: to the forward
// server, which serves it here, or to a group's raft transport, which closes
// it when done (and the mux's close closes whatever is left).
func (m *mux) dispatch(conn *trackedConn) {
	defer m.wg.Done()
	if err := handshake(conn); err != nil {
		m.log.Warn("replication: refused a connection", "remote", conn.RemoteAddr().String(), "err", err)
		m.drop(conn)
		return
	}
	line, err := readPreamble(conn)
	if err != nil {
		m.log.Debug("replication: dropped a connection", "remote", conn.RemoteAddr().String(), "err", err)
		m.drop(conn)
		return
	}
	switch {
	case line == preambleForward:
		m.forward(conn)
		m.drop(conn)
	case strings.HasPrefix(line, preambleRaft):
		name := line[len(preambleRaft):]
		m.mu.Lock()
		s := m.streams[name]
		m.mu.Unlock()
		if s == nil || !s.handoff(conn) {
			m.drop(conn)
		}
	default:
		m.drop(conn)
	}
}

func (m *mux) drop(conn net.Conn) {
	conn.Close() // a trackedConn: untracks itself
}

// handshake runs the TLS handshake of an accepted connection, if it is a
// TLS one, within preambleTimeout.
func handshake(conn *trackedConn) error {
	tc, ok := conn.Conn.(*tls.Conn)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), preambleTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	return nil
}

// readPreamble reads one line, without the newline, consuming nothing after
// it.
func readPreamble(conn net.Conn) (string, error) {
	if err := conn.SetReadDeadline(time.Now().Add(preambleTimeout)); err != nil {
		return "", err
	}
	var buf [preambleBytesMax]byte
	for n := 0; n < len(buf); n++ {
		if _, err := conn.Read(buf[n : n+1]); err != nil {
			return "", fmt.Errorf("read preamble: %w", err)
		}
		if buf[n] == '\n' {
			return string(buf[:n]), conn.SetReadDeadline(time.Time{})
		}
	}
	return "", fmt.Errorf("preamble longer than %d bytes", preambleBytesMax)
}

// stream registers the stream layer of a group. It fails if the group has
// one already or the mux is closed.
func (m *mux) stream(name string) (*groupStream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if m.streams[name] != nil {
		return nil, fmt.Errorf("replication: group %q already has a stream layer", name)
	}
	s := &groupStream{mux: m, name: name, conns: make(chan net.Conn, streamAcceptQueueMax), done: make(chan struct{})}
	m.streams[name] = s
	return s, nil
}

// close stops accepting, closes every accepted connection and waits for
// their goroutines. Group streams must be closed first (by their Raft
// transports).
func (m *mux) close() error {
	m.mu.Lock()
	m.closed = true
	conns := make([]*trackedConn, 0, len(m.conns))
	for c := range m.conns {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	err := m.ln.Close()
	for _, c := range conns {
		c.shut.Store(true)
		c.Close()
	}
	m.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// groupStream is one group's raft.StreamLayer over the shared listener.
type groupStream struct {
	mux   *mux
	name  string
	conns chan net.Conn // accepted, preamble read, for raft to take
	done  chan struct{} // closed by Close
	once  sync.Once
}

var _ raft.StreamLayer = (*groupStream)(nil)

func (s *groupStream) handoff(conn net.Conn) bool {
	t := time.NewTimer(streamHandoffTimeout)
	defer t.Stop()
	select {
	case s.conns <- conn:
		return true
	case <-s.done:
		return false
	case <-t.C:
		return false
	}
}

// Accept returns the next connection for this group.
func (s *groupStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, errStreamClosed
	}
}

// Close unregisters the group from the mux. Connections already handed to
// raft stay open until raft or the mux closes them.
func (s *groupStream) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.mux.mu.Lock()
		if s.mux.streams[s.name] == s {
			delete(s.mux.streams, s.name)
		}
		s.mux.mu.Unlock()
		for {
			select {
			case c := <-s.conns:
				s.mux.drop(c)
			default:
				return
			}
		}
	})
	return nil
}

// Addr is the address peers reach this host at.
func (s *groupStream) Addr() net.Addr { return advertisedAddr(s.mux.advertise) }

// Dial opens a raft connection for this group to the host at address.
func (s *groupStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialPreamble(string(address), timeout, s.mux.tls, preambleRaft+s.name)
}

// dialPreamble connects to a host, over TLS if tlsCfg is set, and sends the
// preamble line.
func dialPreamble(address string, timeout time.Duration, tlsCfg *tls.Config, line string) (net.Conn, error) {
	var (
		conn net.Conn
		err  error
	)
	if tlsCfg != nil {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: tlsCfg}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		conn, err = d.DialContext(ctx, "tcp", address)
		cancel()
	} else {
		conn, err = net.DialTimeout("tcp", address, timeout)
	}
	if err != nil {
		return nil, err
	}
	if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := conn.Write([]byte(line + "\n")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send preamble: %w", err)
	}
	if err := conn.SetWriteDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// advertisedAddr is a net.Addr that is just the string peers dial.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }
