package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
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
