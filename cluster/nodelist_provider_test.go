package cluster

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"

	"civicard/cluster/nodecert"
)

// With TLS, a member's health poll is answered only between members of the
// cluster's CA.
func TestMembershipPollsNeedACertificateOfTheClusterCA(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	source := func(dir, name string) *nodecert.Source {
		if err := nodecert.Ensure(dir, name, time.Now()); err != nil {
			t.Fatal(err)
		}
		s, err := nodecert.Open(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	n1, n2, stranger := source(dir, "n1"), source(dir, "n2"), source(other, "n2")

	// n1's endpoint, served as StartMember serves it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	srv := &http.Server{ReadHeaderTimeout: healthTimeout, ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(automanaged.NodeModel{ID: "n1", Address: "127.0.0.1", Port: 1})
	})}
	go srv.Serve(tls.NewListener(ln, n1.TLSConfig()))
	defer srv.Close()

	member := newNodeListProvider(time.Second, "127.0.0.1:0", nil, quietLogger())
	member.useTLS(n2.TLSConfig())
	if n := member.health(t.Context(), host); n == nil || n.ID != "n1" {
		t.Fatalf("a member's poll: %v, want n1", n)
	}
	foreign := newNodeListProvider(time.Second, "127.0.0.1:0", nil, quietLogger())
	foreign.useTLS(stranger.TLSConfig())
	if n := foreign.health(t.Context(), host); n != nil {
		t.Errorf("a poll with another CA's certificate was answered: %v", n)
	}
	plain := newNodeListProvider(time.Second, "127.0.0.1:0", nil, quietLogger())
	if n := plain.health(t.Context(), host); n != nil {
		t.Errorf("a poll in the clear was answered: %v", n)
	}
	noCert := newNodeListProvider(time.Second, "127.0.0.1:0", nil, quietLogger())
	noCert.useTLS(&tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
	if n := noCert.health(t.Context(), host); n != nil {
		t.Errorf("a poll without a certificate was answered: %v", n)
	}
}
