package replication

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"civicard/cluster/nodecert"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

// nodeTLS issues certificates for the ids in a CA of their own in dir and
// returns each one's TLS configuration.
func nodeTLS(tb testing.TB, dir string, ids ...string) map[string]*tls.Config {
	tb.Helper()
	cfgs := make(map[string]*tls.Config)
	for _, id := range ids {
		if err := nodecert.Ensure(dir, id, time.Now()); err != nil {
			tb.Fatal(err)
		}
		src, err := nodecert.Open(dir, id)
		if err != nil {
			tb.Fatal(err)
		}
		cfgs[id] = src.TLSConfig()
	}
	return cfgs
}

// With TLS, the hosts replicate and forward among themselves, and a
// client without a certificate of the cluster's CA (none at all, or one of
// another CA) is refused: its forged proposal and read are not served and
// change nothing.
func TestTLSRefusesClientsWithoutAClusterCertificate(t *testing.T) {
	cluster := nodeTLS(t, t.TempDir(), "node-1", "node-2", "node-3")
	// Another CA's certificate, for a name the cluster has.
	stranger := nodeTLS(t, t.TempDir(), "node-1")["node-1"]
	hosts := startClusterTLS(t, 3, func(id string) *tls.Config { return cluster[id] }, "shard-0")

	leader := leaderOf(t, hosts, "shard-0")
	var follower *testHost
	for _, h := range hosts {
		if h != leader {
			follower = h
		}
	}
	// Through a follower: its proposals are forwarded to the leader.
	hostAllOK(t, follower, "shard-0", setupCommands("C-1"))
	converged(t, hosts, "shard-0")

	forged := topUp("topup/forged", "C-1", 10_000)
	propose := &replicationv1.ForwardRequest{
		Group: "shard-0",
		Kind:  &replicationv1.ForwardRequest_Propose{Propose: &replicationv1.ProposeRequest{Commands: []*ledgerv1.Command{forged}}},
	}
	query := &replicationv1.ForwardRequest{
		Group: "shard-0",
		Kind:  &replicationv1.ForwardRequest_Query{Query: &replicationv1.Query{}},
	}
	for name, clientTLS := range map[string]*tls.Config{"no certificate": nil, "another CA": stranger} {
		f := newForwarder(1, 1, clientTLS)
		for _, req := range []*replicationv1.ForwardRequest{propose, query} {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			resp, err := f.call(ctx, leader.Addr(), req)
			cancel()
			if err == nil {
				t.Errorf("%s: %T answered %v", name, req.GetKind(), resp)
			}
		}
		f.close()
	}
	// A raw connection speaking the protocol in the clear gets nothing
	// back: the handshake it never made fails and the connection closes.
	c, err := net.Dial("tcp", leader.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(preambleForward + "\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 64)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a client in the clear read %d bytes, %v; want the connection closed", n, err)
	}

	// The forged top-up was never applied: proposed now by a node, it
	// applies for the first time.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := follower.Propose(ctx, "shard-0", forged)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetReplayed() || res.GetStatus() != ledgerv1.Status_STATUS_OK {
		t.Errorf("the forged top-up: %v; want applied now, not replayed", res)
	}
}

// A node whose certificate is issued again presents the new one on the
// links made after it, while the proposals through it go on.
func TestTLSRotatedCertificateIsUsedForNewLinks(t *testing.T) {
	dir := t.TempDir()
	cluster := nodeTLS(t, dir, "node-1", "node-2", "node-3")
	hosts := startClusterTLS(t, 3, func(id string) *tls.Config { return cluster[id] }, "shard-0")
	leader := leaderOf(t, hosts, "shard-0")
	var follower *testHost
	for _, h := range hosts {
		if h != leader {
			follower = h
		}
	}
	hostAllOK(t, follower, "shard-0", setupCommands("C-1"))

	// Top-ups through the follower (forwarded to the leader) until the
	// test says stop; every one must be acknowledged.
	var acked atomic.Int64
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			res, err := follower.Propose(ctx, "shard-0", topUp(fmt.Sprintf("topup/%d", i), "C-1", 1))
			cancel()
			if err != nil || res.GetStatus() != ledgerv1.Status_STATUS_OK {
				done <- fmt.Errorf("top-up %d: %v, %v", i, res, err)
				return
			}
			acked.Add(1)
		}
	}()
	presented := func() *x509.Certificate {
		conn, err := tls.Dial("tcp", leader.Addr(), cluster[follower.id])
		if err != nil {
			t.Fatalf("dial the leader: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	waitFor(t, "top-ups before the rotation", func() bool { return acked.Load() > 0 })
	before := presented()
	if _, err := nodecert.Issue(dir, leader.id, time.Now()); err != nil {
		t.Fatal(err)
	}
	after := presented()
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Errorf("the leader still presents serial %v after its certificate was issued again", before.SerialNumber)
	}
	if after.Subject.CommonName != leader.id {
		t.Errorf("the new certificate names %q, want %q", after.Subject.CommonName, leader.id)
	}
	// A new forwarding link to the leader works with it.
	f := newForwarder(1, 1, cluster[follower.id])
	defer f.close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := f.call(ctx, leader.Addr(), &replicationv1.ForwardRequest{
		Group: "shard-0",
		Kind:  &replicationv1.ForwardRequest_Propose{Propose: &replicationv1.ProposeRequest{Commands: []*ledgerv1.Command{topUp("topup/new-link", "C-1", 1)}}},
	})
	if err != nil || resp.GetStatus() != replicationv1.ForwardStatus_FORWARD_STATUS_OK {
		t.Fatalf("a new link after the rotation: %v, %v", resp, err)
	}
	// And the top-ups went on through it.
	rotated := acked.Load()
	waitFor(t, "top-ups after the rotation", func() bool { return acked.Load() > rotated+10 })
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
