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
// system's random source on first use.
func ensureSecret(dataDir, name string) (string, error) {
	secret, err := ReadSecret(dataDir, name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	buf := make([]byte, secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	secret = hex.EncodeToString(buf)
	path := filepath.Join(dataDir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	return secret, nil
}
