package nodecert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// File names inside the secrets directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// NodeCertFile and NodeKeyFile name a node's certificate and key.
func NodeCertFile(name string) string { return "node-" + name + ".crt" }
func NodeKeyFile(name string) string  { return "node-" + name + ".key" }

// Lifetimes. A node re-issues its own certificate at start when less than
// RenewBefore is left (and ca.key is there).
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	NodeValidity = 365 * 24 * time.Hour
	RenewBefore  = 30 * 24 * time.Hour
	// clockSkewMax backdates NotBefore so that a peer whose clock is a
	// little behind accepts a certificate issued a moment ago.
	clockSkewMax = time.Hour
	caCommonName = "civicard cluster CA"
)

// ErrExists is returned by InitCA when the directory has a CA already.
var ErrExists = errors.New("nodecert: the secrets directory has a CA already")

// nodeNamePattern is what a node's name may be: it is a file name and a
// DNS name in its certificate.
var nodeNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// InitCA creates the cluster's CA in dir. Of several callers racing on one
// directory exactly one creates it; the others get ErrExists.
func InitCA(dir string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("nodecert: secrets directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("nodecert: CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             now.Add(-clockSkewMax),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("nodecert: CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("nodecert: CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// ca.key holds the certificate too, and is created first, with a link
	// that fails if it exists: it alone decides who won a race, and ca.crt
	// is written from it by whoever finds it missing.
	keyPEM := append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), certPEM...)
	if err := linkNew(dir, CAKeyFile, keyPEM); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrExists
		}
		return err
	}
	return writeCACert(dir)
}

// writeCACert writes ca.crt from ca.key if it is missing.
func writeCACert(dir string) error {
	_, cert, err := readCA(dir)
	if err != nil {
		return err
	}
	err = linkNew(dir, CACertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// Issue writes a certificate for the node name, signed by the CA in dir
// (ca.key must be there), replacing any it had. It returns the new
// certificate's expiry.
func Issue(dir, name string, now time.Time) (time.Time, error) {
	if !nodeNamePattern.MatchString(name) {
		return time.Time{}, fmt.Errorf("nodecert: node name %q: want letters, digits, '.', '_' or '-', at most 63", name)
	}
	caKey, caCert, err := readCA(dir)
	if err != nil {
		return time.Time{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return time.Time{}, fmt.Errorf("nodecert: node key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return time.Time{}, err
	}
	notAfter := now.Add(NodeValidity)
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-clockSkewMax),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// A node is both ends of the links it has.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return time.Time{}, fmt.Errorf("nodecert: node certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return time.Time{}, fmt.Errorf("nodecert: node key: %w", err)
	}
	// The key first: a reader that finds a new key with the old
	// certificate fails to pair them and keeps what it had (Source).
	if err := replace(dir, NodeKeyFile(name), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})); err != nil {
		return time.Time{}, err
	}
	if err := replace(dir, NodeCertFile(name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return time.Time{}, err
	}
	return notAfter, nil
}

// Ensure makes dir hold what node name needs to start: the CA (created if
// dir has none) and a certificate of its own signed by it, issued if
// missing, signed by another CA or expiring within RenewBefore, when ca.key
// is there to sign it. Without ca.key the node's certificate must have
// been issued beforehand.
func Ensure(dir, name string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("nodecert: secrets directory: %w", err)
	}
	_, errCert := os.Stat(filepath.Join(dir, CACertFile))
	_, errKey := os.Stat(filepath.Join(dir, CAKeyFile))
	switch {
	case errors.Is(errCert, fs.ErrNotExist) && errors.Is(errKey, fs.ErrNotExist):
		if err := InitCA(dir, now); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
		if err := writeCACert(dir); err != nil {
			return err
		}
	case errors.Is(errCert, fs.ErrNotExist) && errKey == nil:
		// Another node is creating the CA, or one crashed in between.
		if err := writeCACert(dir); err != nil {
			return err
		}
	}
	pool, err := readPool(dir)
	if err != nil {
		return err
	}
	cert, err := readNodeCert(dir, name)
	if err == nil && verify(pool, cert, now.Add(RenewBefore)) == nil {
		return nil
	}
	if _, errKey := os.Stat(filepath.Join(dir, CAKeyFile)); errKey != nil {
		if err != nil {
			return fmt.Errorf("nodecert: node %s has no certificate and %s is not there to issue one: %w", name, CAKeyFile, err)
		}
		// Valid but expiring, and nothing to renew it with: use it.
		return verify(pool, cert, now)
	}
	_, err = Issue(dir, name, now)
	return err
}

func readCA(dir string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	raw, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("nodecert: read CA key: %w", err)
	}
	var (
		key  *ecdsa.PrivateKey
		cert *x509.Certificate
	)
	for rest := raw; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch b.Type {
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "CERTIFICATE":
			cert, err = x509.ParseCertificate(b.Bytes)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("nodecert: %s: %w", CAKeyFile, err)
		}
	}
	if key == nil || cert == nil {
		return nil, nil, fmt.Errorf("nodecert: %s must hold the CA's key and certificate", CAKeyFile)
	}
	return key, cert, nil
}

// readPool reads the CA certificate every node trusts.
func readPool(dir string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("nodecert: read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("nodecert: %s holds no certificate", CACertFile)
	}
	return pool, nil
}

func readNodeCert(dir, name string) (*x509.Certificate, error) {
	raw, err := os.ReadFile(filepath.Join(dir, NodeCertFile(name)))
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("nodecert: %s holds no certificate", NodeCertFile(name))
	}
	return x509.ParseCertificate(b.Bytes)
}

// verify checks that cert is a node certificate of the CA in pool, valid at
// at.
func verify(pool *x509.CertPool, cert *x509.Certificate, at time.Time) error {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots: pool, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	return err
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("nodecert: serial: %w", err)
	}
	return serial, nil
}

// linkNew creates dir/name with data, readable by its owner only, failing
// with fs.ErrExist if it exists; nobody sees it half written.
func linkNew(dir, name string, data []byte) error {
	tmp, err := writeTemp(dir, name, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, filepath.Join(dir, name)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("nodecert: write %s: %w", name, err)
	}
	return nil
}

// replace writes dir/name with data, replacing it at once.
func replace(dir, name string, data []byte) error {
	tmp, err := writeTemp(dir, name, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("nodecert: write %s: %w", name, err)
	}
	return nil
}

func writeTemp(dir, name string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(dir, name+".*.tmp") // mode 0600
	if err != nil {
		return "", fmt.Errorf("nodecert: write %s: %w", name, err)
	}
	_, err = tmp.Write(data)
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("nodecert: write %s: %w", name, err)
	}
	return tmp.Name(), nil
}
