package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	civicardv1 "civicard/messages/civicard/v1"
)

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "civicard test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// With Config.TLS the gateway speaks TLS (HTTP/2 by ALPN) and a plain
// request is refused.
func TestServeOverTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	cfg := DefaultConfig()
	cfg.OperatorToken = testOperatorToken
	cfg.Ready = func() error { return nil }
	cfg.Describe = func(bool) *civicardv1.GetNodeResponse { return &civicardv1.GetNodeResponse{} }
	cfg.Registry = prometheus.NewRegistry()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	gw, err := New(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ctx, ln, time.Second) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
	}}
	res, err := client.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || res.ProtoMajor != 2 || res.TLS == nil {
		t.Fatalf("healthz over TLS: %d %s over %s", res.StatusCode, body, res.Proto)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if res, err := plain.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		_ = res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("a plain request was served by the TLS gateway")
		}
	}
}

func TestConfigRefusesTLSWithoutCertificate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OperatorToken = testOperatorToken
	cfg.Ready = func() error { return nil }
	cfg.Describe = func(bool) *civicardv1.GetNodeResponse { return nil }
	cfg.Registry = prometheus.NewRegistry()
	cfg.TLS = &tls.Config{}
	if err := cfg.Validate(); err == nil {
		t.Fatal("a TLS config without a certificate was accepted")
	}
}
