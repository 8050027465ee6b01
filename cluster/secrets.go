package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names of a node's secrets inside its data directory.
const (
	CredentialKeyFile = "terminal-credential.key"
	OperatorTokenFile = "operator.token"
)

const secretBytes = 32

// ReadSecret reads a secret written by ensureSecret.
func ReadSecret(dataDir, name string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, name))
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	secret := strings.TrimSpace(string(raw))
	if len(secret) != 2*secretBytes {
		return "", fmt.Errorf("secret %s: want %d hex characters, found %d", name, 2*secretBytes, len(secret))
	}
	return secret, nil
}

// ensureSecret returns the secret stored under name, creating it from the
// system's random source on first use. Nodes of a cluster starting together
// on a shared secrets directory race to create it: the first link wins and
// every node reads that one.
func ensureSecret(dataDir, name string) (string, error) {
	secret, err := ReadSecret(dataDir, name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	buf := make([]byte, secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(dataDir, name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(buf) + "\n")
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	// CreateTemp makes the file readable by its owner only.
	if err := os.Link(tmp.Name(), filepath.Join(dataDir, name)); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	return ReadSecret(dataDir, name)
}
