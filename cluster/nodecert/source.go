package nodecert

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Source is a node's certificate as its files hold it now, and the TLS
// configuration of its links.
type Source struct {
	dir, name string
	pool      *x509.CertPool

	mu              sync.Mutex
	cert            *tls.Certificate // guarded by mu; the pair last read whole
	certPEM, keyPEM []byte           // guarded by mu; the files cert was read from
}

// Open reads the CA certificate and node name's pair from dir (see Ensure).
func Open(dir, name string) (*Source, error) {
	pool, err := readPool(dir)
	if err != nil {
		return nil, err
	}
	s := &Source{dir: dir, name: name, pool: pool}
	if _, err := s.current(); err != nil {
		return nil, err
	}
	return s, nil
}

// Name is the node's name, as its certificate names it.
func (s *Source) Name() string { return s.name }

// Expiry is when the node's current certificate expires.
func (s *Source) Expiry() time.Time {
	c, err := s.current()
	if err != nil || c.Leaf == nil {
		return time.Time{}
	}
	return c.Leaf.NotAfter
}

// current returns the pair the files hold, parsed again if they changed.
// The files are read whole each time (two small files, on a handshake,
// which pooled links make rare): a file's time and size can stay the same
// across a rewrite. A pair that does not read (half written, key and
// certificate not matching, not of the CA) leaves the last good one in use.
func (s *Source) current() (*tls.Certificate, error) {
	certPEM, errC := os.ReadFile(filepath.Join(s.dir, NodeCertFile(s.name)))
	keyPEM, errK := os.ReadFile(filepath.Join(s.dir, NodeKeyFile(s.name)))
	err := errors.Join(errC, errK)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.cert != nil && bytes.Equal(certPEM, s.certPEM) && bytes.Equal(keyPEM, s.keyPEM) {
		return s.cert, nil
	}
	if err == nil {
		var c tls.Certificate
		// Leaf is set by X509KeyPair (Go 1.23 and later).
		if c, err = tls.X509KeyPair(certPEM, keyPEM); err == nil {
			if err = verify(s.pool, c.Leaf, time.Now()); err == nil {
				s.cert, s.certPEM, s.keyPEM = &c, certPEM, keyPEM
			}
		}
	}
	if s.cert == nil {
		return nil, fmt.Errorf("nodecert: node %s: %w", s.name, err)
	}
	return s.cert, nil
}

// TLSConfig is the configuration of both ends of a link between nodes:
// TLS 1.3 only; each end presents its node certificate (read again when
// its files change) and accepts only a peer presenting a certificate of
// the cluster's CA. Any node of the cluster may be at the other end: the
// address a node dials names no node, so no name is checked.
func (s *Source) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.current()
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.current()
		},
		// The chain is checked in VerifyConnection, the same way on
		// both ends: against the cluster's CA, not the system's roots,
		// and with no host name.
		ClientAuth:         tls.RequireAnyClientCert,
		InsecureSkipVerify: true,
		VerifyConnection:   s.verifyPeer,
	}
}

func (s *Source) verifyPeer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("nodecert: the peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: s.pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("nodecert: peer certificate: %w", err)
	}
	return nil
}
