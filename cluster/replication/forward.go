package replication

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	replicationv1 "civicard/messages/replication/v1"

	"google.golang.org/protobuf/proto"
)

// Forwarding: a host that does not lead a group sends the request to the
// host that does, over a few long-lived connections per peer opened with the
// "forward" preamble (mux.go). Frames are a 4-byte big-endian length and a
// protobuf message (messages/replication/v1). Requests are pipelined: each
// connection has one writer goroutine that writes whatever requests are
// queued and flushes once (so under load many requests share one write
// system call) and one reader goroutine that hands each response, by id, to
// its caller. The server does the same in reverse, serving each request in a
// goroutine of its own.

// writeFrame appends one length-prefixed message to w, without flushing.
func writeFrame(w *bufio.Writer, data []byte) error {
	if len(data) > forwardFrameBytesMax {
		return fmt.Errorf("frame of %d bytes is larger than %d", len(data), forwardFrameBytesMax)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(data)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// readFrame reads one length-prefixed message into m.
func readFrame(r *bufio.Reader, m proto.Message) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > forwardFrameBytesMax {
		return fmt.Errorf("frame of %d bytes is larger than %d", n, forwardFrameBytesMax)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return err
	}
	return proto.Unmarshal(data, m)
}

// errNotSent: the request never left this host (no slot, no connection, or
// withdrawn before it was written): nothing happened at the receiver.
type errNotSent struct{ err error }

func (e errNotSent) Error() string { return e.err.Error() }
func (e errNotSent) Unwrap() error { return e.err }

// forwarder is the client side: up to connsPerPeer pipelined connections
// per host address, and a bound on the requests in flight.
type forwarder struct {
	connsPerPeer int
	tls          *tls.Config // of the connections it dials; nil: in the clear
	// inFlight holds one token per request sent and not yet answered.
	// Invariant: len(inFlight) <= HostConfig.ForwardInFlightMax.
	inFlight chan struct{}
	nextID   atomic.Uint64

	mu     sync.Mutex
	peers  map[string]*peerConns // by address; guarded by mu
	closed bool                  // guarded by mu
}

// peerConns are the connections to one address.
type peerConns struct {
	conns  []*clientConn // live; guarded by forwarder.mu. Invariant: len(conns) <= connsPerPeer
	next   int           // guarded by forwarder.mu; round robin
	dialMu sync.Mutex    // held while dialling this address
}

func newForwarder(inFlightMax, connsPerPeer int, tlsCfg *tls.Config) *forwarder {
	return &forwarder{
		connsPerPeer: connsPerPeer,
		tls:          tlsCfg,
		inFlight:     make(chan struct{}, inFlightMax),
		peers:        make(map[string]*peerConns),
	}
}

// call states of a pendingCall, moved by compare-and-swap: the writer
// takes a queued call to written; the caller that gives up takes it to
// withdrawn, and then it is never written.
const (
	callQueued int32 = iota
	callWritten
	callWithdrawn
)

type pendingCall struct {
	id    uint64
	data  []byte // the encoded request
	state atomic.Int32
	sent  time.Time
	done  chan *replicationv1.ForwardResponse // buffered (1)
}

// call sends req to the host at addr and returns its response. An error
// wrapping errNotSent means the receiver never saw the request; any other
// error means it may have (the outcome is unknown).
func (f *forwarder) call(ctx context.Context, addr string, req *replicationv1.ForwardRequest) (*replicationv1.ForwardResponse, error) {
	select {
	case f.inFlight <- struct{}{}:
	default:
		return nil, errNotSent{fmt.Errorf("%w: %d forwarded requests in flight", ErrOverloaded, cap(f.inFlight))}
	}
	defer func() { <-f.inFlight }()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(forwardTimeoutMax)
	}
	// The receiver is told how long it may take: what is left of ours.
	req.TimeoutMs = max(1, time.Until(deadline).Milliseconds())
	req.Id = f.nextID.Add(1)
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, errNotSent{fmt.Errorf("%w: %w", ErrInvalid, err)}
	}
	if len(data) > forwardFrameBytesMax {
		return nil, errNotSent{fmt.Errorf("%w: request of %d bytes", ErrInvalid, len(data))}
	}
	cc, err := f.conn(addr)
	if err != nil {
		return nil, errNotSent{err}
	}
	pc := &pendingCall{id: req.Id, data: data, sent: time.Now(), done: make(chan *replicationv1.ForwardResponse, 1)}
	if !cc.register(pc) {
		return nil, errNotSent{cc.err()}
	}
	select {
	case cc.sendq <- pc:
	case <-cc.dead:
		cc.unregister(pc.id)
		return nil, errNotSent{cc.err()}
	case <-ctx.Done():
		cc.unregister(pc.id)
		return nil, errNotSent{ctx.Err()}
	}
	select {
	case resp := <-pc.done:
		return resp, nil
	case <-cc.dead:
		select {
		case resp := <-pc.done:
			return resp, nil
		default:
		}
		if pc.state.CompareAndSwap(callQueued, callWithdrawn) {
			return nil, errNotSent{cc.err()}
		}
		return nil, fmt.Errorf("forward to %s: %w", addr, cc.err())
	case <-ctx.Done():
		cc.unregister(pc.id)
		if pc.state.CompareAndSwap(callQueued, callWithdrawn) {
			return nil, errNotSent{ctx.Err()}
		}
		cc.checkStalled(pc)
		return nil, fmt.Errorf("forward to %s: %w", addr, ctx.Err())
	}
}

// conn returns a live connection to addr, dialling one while there are
// fewer than connsPerPeer; one dial at a time per address, so a burst of
// callers does not open a connection each.
func (f *forwarder) conn(addr string) (*clientConn, error) {
	cc, p, err := f.pick(addr)
	if cc != nil || err != nil {
		return cc, err
	}
	p.dialMu.Lock()
	defer p.dialMu.Unlock()
	// Another caller may have dialled while this one waited.
	if cc, _, err = f.pick(addr); cc != nil || err != nil {
		return cc, err
	}
	conn, err := dialPreamble(addr, forwardDialTimeout, f.tls, preambleForward)
	if err != nil {
		return nil, fmt.Errorf("forward: connect to %s: %w", addr, err)
	}
	cc = newClientConn(f, addr, conn)
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		cc.fail(ErrClosed) // takes f.mu
		return nil, ErrClosed
	}
	p = f.peer(addr)
	p.conns = append(p.conns, cc)
	f.mu.Unlock()
	return cc, nil
}

// pick returns a live connection to addr if there are connsPerPeer of
// them, else the peer to dial for; connections idle too long are closed.
func (f *forwarder) pick(addr string) (*clientConn, *peerConns, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, nil, ErrClosed
	}
	p := f.peer(addr)
	now := time.Now()
	var idle []*clientConn
	live := p.conns[:0]
	for _, cc := range p.conns {
		if now.Sub(time.Unix(0, cc.lastUsed.Load())) > forwardConnIdleMax && cc.pendingCount() == 0 {
			idle = append(idle, cc)
			continue
		}
		live = append(live, cc)
	}
	clear(p.conns[len(live):])
	p.conns = live
	var cc *clientConn
	if len(live) >= f.connsPerPeer {
		cc = live[p.next%len(live)]
		p.next++
	}
	f.mu.Unlock()
	for _, c := range idle {
		c.fail(errors.New("idle too long"))
	}
	if cc != nil {
		cc.lastUsed.Store(now.UnixNano())
	}
	return cc, p, nil
}

// peer returns addr's entry, creating it. f.mu is held.
func (f *forwarder) peer(addr string) *peerConns {
	p := f.peers[addr]
	if p == nil {
		p = &peerConns{}
		f.peers[addr] = p
	}
	return p
}

// remove forgets a dead connection.
func (f *forwarder) remove(cc *clientConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.peers[cc.addr]
	if p == nil {
		return
	}
	for i, c := range p.conns {
		if c == cc {
			p.conns = append(p.conns[:i:i], p.conns[i+1:]...)
			return
		}
	}
}

// close closes every connection: calls waiting on them end at once.
func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	peers := f.peers
	f.peers = map[string]*peerConns{}
	f.mu.Unlock()
	for _, p := range peers {
		for _, cc := range p.conns {
			cc.fail(ErrClosed)
		}
	}
}

// clientConn is one pipelined connection to a host.
type clientConn struct {
	f     *forwarder
	addr  string
	conn  net.Conn
	sendq chan *pendingCall // Invariant: len(sendq) <= forwardSendQueueMax
	// lastRead and lastUsed are unix nanoseconds: the last response read,
	// the last call made.
	lastRead, lastUsed atomic.Int64

	mu      sync.Mutex
	pending map[uint64]*pendingCall // guarded by mu
	failErr error                   // guarded by mu; set once, before dead closes
	dead    chan struct{}
}

func newClientConn(f *forwarder, addr string, conn net.Conn) *clientConn {
	cc := &clientConn{
		f: f, addr: addr, conn: conn,
		sendq:   make(chan *pendingCall, forwardSendQueueMax),
		pending: make(map[uint64]*pendingCall),
		dead:    make(chan struct{}),
	}
	now := time.Now().UnixNano()
	cc.lastRead.Store(now)
	cc.lastUsed.Store(now)
	go cc.writeLoop()
	go cc.readLoop()
	return cc
}

func (cc *clientConn) register(pc *pendingCall) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.failErr != nil {
		return false
	}
	cc.pending[pc.id] = pc
	return true
}

func (cc *clientConn) unregister(id uint64) {
	cc.mu.Lock()
	delete(cc.pending, id)
	cc.mu.Unlock()
}

func (cc *clientConn) pendingCount() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return len(cc.pending)
}

func (cc *clientConn) err() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.failErr
}

// fail closes the connection (first, so nothing more can be written) and
// then wakes every caller waiting on it.
func (cc *clientConn) fail(err error) {
	cc.mu.Lock()
	if cc.failErr != nil {
		cc.mu.Unlock()
		return
	}
	cc.conn.Close()
	cc.failErr = fmt.Errorf("forward connection to %s: %w", cc.addr, err)
	cc.pending = nil
	cc.mu.Unlock()
	close(cc.dead)
	cc.f.remove(cc)
}

// checkStalled fails the connection when pc's caller gave up and nothing at
// all has been read from it since pc was written, for forwardStallMax: the
// peer is gone without a word (a dead machine sends no reset).
func (cc *clientConn) checkStalled(pc *pendingCall) {
	last := time.Unix(0, cc.lastRead.Load())
	if last.Before(pc.sent) && time.Since(pc.sent) > forwardStallMax {
		cc.fail(errors.New("no answer at all"))
	}
}

func (cc *clientConn) writeLoop() {
	w := bufio.NewWriterSize(cc.conn, forwardBufferBytes)
	for {
		var pc *pendingCall
		select {
		case pc = <-cc.sendq:
		case <-cc.dead:
			return
		}
		// Write this one and every other already queued, then flush once.
		for pc != nil {
			if pc.state.CompareAndSwap(callQueued, callWritten) {
				if err := writeFrame(w, pc.data); err != nil {
					cc.fail(err)
					return
				}
			}
			pc = cc.nextQueued()
		}
		if err := cc.conn.SetWriteDeadline(time.Now().Add(forwardWriteTimeout)); err != nil {
			cc.fail(err)
			return
		}
		if err := w.Flush(); err != nil {
			cc.fail(err)
			return
		}
	}
}

// nextQueued returns a call already queued, if any.
func (cc *clientConn) nextQueued() *pendingCall {
	select {
	case pc := <-cc.sendq:
		return pc
	default:
		return nil
	}
}

func (cc *clientConn) readLoop() {
	r := bufio.NewReaderSize(cc.conn, forwardBufferBytes)
	for {
		resp := new(replicationv1.ForwardResponse)
		if err := readFrame(r, resp); err != nil {
			cc.fail(err)
			return
		}
		cc.lastRead.Store(time.Now().UnixNano())
		cc.mu.Lock()
		pc := cc.pending[resp.GetId()]
		delete(cc.pending, resp.GetId())
		cc.mu.Unlock()
		if pc != nil {
			pc.done <- resp
		}
	}
}

// serveForward serves one forwarding connection until the peer closes it,
// it brings no request for forwardServerIdleMax, or the host closes. Each
// request runs in its own goroutine, at most forwardServeInFlightMax at a
// time per connection (then the connection is not read until one ends);
// one writer sends the responses back, flushing once per burst.
func (h *Host) serveForward(conn net.Conn) {
	r := bufio.NewReaderSize(conn, forwardBufferBytes)
	// slots holds one token per request in service or whose response is not
	// yet written; the writer frees it. Invariant: len(respq) <= cap(slots).
	slots := make(chan struct{}, forwardServeInFlightMax)
	respq := make(chan *replicationv1.ForwardResponse, forwardServeInFlightMax)
	writerDone := make(chan struct{})
	go h.writeResponses(conn, respq, slots, writerDone)

	var handlers sync.WaitGroup
	for {
		if err := conn.SetReadDeadline(time.Now().Add(forwardServerIdleMax)); err != nil {
			break
		}
		req := new(replicationv1.ForwardRequest)
		if err := readFrame(r, req); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				h.log.Debug("replication: forward connection ends", "remote", conn.RemoteAddr().String(), "err", err)
			}
			break
		}
		slots <- struct{}{}
		handlers.Add(1)
		go func() {
			defer handlers.Done()
			timeout := min(time.Duration(req.GetTimeoutMs())*time.Millisecond, forwardTimeoutMax)
			timeout -= min(forwardReplyMargin, timeout/10)
			ctx, cancel := context.WithTimeout(h.life, timeout)
			resp := h.serve(ctx, req)
			cancel()
			resp.Id = req.GetId()
			respq <- resp
		}()
	}
	handlers.Wait()
	close(respq)
	<-writerDone
}

// writeResponses writes the responses of one connection, flushing when no
// more are queued. After a write error it only drains, freeing the slots.
func (h *Host) writeResponses(conn net.Conn, respq <-chan *replicationv1.ForwardResponse, slots <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	w := bufio.NewWriterSize(conn, forwardBufferBytes)
	broken := false
	for resp := range respq {
		for resp != nil {
			if !broken {
				data, err := proto.Marshal(resp)
				if err == nil {
					err = writeFrame(w, data)
				}
				if err != nil {
					broken = true
					conn.Close()
				}
			}
			<-slots
			resp = nextResponse(respq)
		}
		if !broken {
			if err := conn.SetWriteDeadline(time.Now().Add(forwardWriteTimeout)); err != nil || w.Flush() != nil {
				broken = true
				conn.Close()
			}
		}
	}
}

// nextResponse returns a response already queued, if any.
func nextResponse(respq <-chan *replicationv1.ForwardResponse) *replicationv1.ForwardResponse {
	select {
	case resp := <-respq:
		return resp
	default:
		return nil
	}
}
