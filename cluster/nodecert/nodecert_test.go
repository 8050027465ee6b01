package nodecert

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"
)

// Nodes starting together on one secrets directory end with one CA, and
// each with a certificate naming it, signed by that CA.
func TestEnsureRaceHasOneCA(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = Ensure(dir, []string{"n1", "n2", "n3", "n4"}[i%4], now) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("ensure %d: %v", i, err)
		}
	}
	for _, name := range []string{"n1", "n2", "n3", "n4"} {
		s, err := Open(dir, name)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		c, _ := s.current()
		if c.Leaf.Subject.CommonName != name || len(c.Leaf.DNSNames) != 1 || c.Leaf.DNSNames[0] != name {
			t.Errorf("%s: certificate names %q %v", name, c.Leaf.Subject.CommonName, c.Leaf.DNSNames)
		}
		if got := s.Expiry(); got.Before(now.Add(NodeValidity - time.Minute)) {
			t.Errorf("%s: expires %v", name, got)
		}
	}
	if err := InitCA(dir, now); err != ErrExists {
		t.Errorf("a second InitCA: %v, want ErrExists", err)
	}
}

// handshake runs a TLS handshake between a client and a server
// configuration over loopback and returns the two ends' errors.
func handshake(t *testing.T, client, server *tls.Config) (errClient, errServer error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		s := tls.Server(conn, server)
		err = s.Handshake()
		if err == nil {
			// TLS 1.3 checks the client's certificate after the
			// client finished: read to see it refused.
			_, err = s.Read(make([]byte, 1))
		}
		done <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(conn, client)
	errClient = c.Handshake()
	if errClient == nil {
		_, errClient = c.Write([]byte{1})
	}
	if errClient != nil {
		conn.Close()
	}
	return errClient, <-done
}

func TestLinksNeedACertificateOfTheClusterCA(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	now := time.Now()
	for _, n := range []string{"n1", "n2"} {
		if err := Ensure(dir, n, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := Ensure(other, "n2", now); err != nil {
		t.Fatal(err)
	}
	n1, _ := Open(dir, "n1")
	n2, _ := Open(dir, "n2")
	stranger, _ := Open(other, "n2")

	if ec, es := handshake(t, n2.TLSConfig(), n1.TLSConfig()); ec != nil || es != nil {
		t.Fatalf("two nodes of the cluster: client %v, server %v", ec, es)
	}
	if _, es := handshake(t, stranger.TLSConfig(), n1.TLSConfig()); es == nil {
		t.Error("a client with another CA's certificate was accepted")
	}
	if ec, _ := handshake(t, n1.TLSConfig(), stranger.TLSConfig()); ec == nil {
		t.Error("a server with another CA's certificate was accepted")
	}
	noCert := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	if _, es := handshake(t, noCert, n1.TLSConfig()); es == nil {
		t.Error("a client without a certificate was accepted")
	}
	old := &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true, GetClientCertificate: n2.TLSConfig().GetClientCertificate}
	if _, es := handshake(t, old, n1.TLSConfig()); es == nil {
		t.Error("TLS 1.2 was accepted")
	}
}

// A certificate issued again is read by the next handshake.
func TestSourceReadsARotatedCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := Ensure(dir, "n1", now); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, "n1")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.current()
	expiry, err := Issue(dir, "n1", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	second, _ := s.current()
	if second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 || !s.Expiry().Equal(expiry.Truncate(time.Second)) {
		t.Errorf("after Issue the source still has serial %v expiring %v (new expiry %v)", second.Leaf.SerialNumber, s.Expiry(), expiry)
	}
}
