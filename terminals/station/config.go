package station

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"civicard/terminals/cardapp"
)

// Config is a terminal's configuration file (JSON). Relative file names are
// relative to the file's directory.
type Config struct {
	// Gateway is the API's base URL, e.g. "http://127.0.0.1:8080".
	Gateway string `json:"gateway"`
	// TerminalID as registered in the ledger.
	TerminalID string `json:"terminal_id"`
	// PrivateKeyFile holds the terminal's ed25519 key: the 32-byte seed in
	// hex (`civicard terminal keygen` writes one).
	PrivateKeyFile string `json:"private_key_file"`
	// IssuerKeyFile holds the issuer's card master key, 16 bytes in hex.
	// On a real validator it lives in a secure element (SAM).
	IssuerKeyFile string `json:"issuer_key_file"`
	// Readers are the PC/SC readers to use, by name or by a path.Match
	// pattern ("Virtual PCD *"); at least one, at most ReadersMax.
	Readers []string `json:"readers"`
	// ServiceCode is what a tap buys: a code of the institution's price
	// list, empty for its default. Quantity 0 means 1.
	ServiceCode string `json:"service_code"`
	Quantity    uint32 `json:"quantity"`
	// Line, Stop and Direction say where a transport validator is (ids of
	// the network; direction 1 towards the line's last stop, -1 its first,
	// 0 unknown): needed for check-in/check-out ("CICO") products.
	Line      string `json:"line"`
	Stop      string `json:"stop"`
	Direction int32  `json:"direction"`
	// StateDir keeps the sequence counter (and the offline queue).
	StateDir string `json:"state_dir"`
	// MetricsAddr serves /metrics when set, e.g. "127.0.0.1:9464".
	MetricsAddr string `json:"metrics_addr"`
	// TapBudgetMs bounds the gateway's answer to one tap (default 2000).
	// Past it (or at once, when the gateway refuses connections) the
	// terminal decides offline.
	TapBudgetMs int `json:"tap_budget_ms"`

	// The offline risk limit: while taps of a card wait in the offline
	// queue, at most OfflineTapsPerCard of them (default 3), and at most
	// OfflineAmountPerCardMinor (default 2000) at OfflinePriceMinor each
	// (the configured service's price; 0: only the count limits).
	OfflineTapsPerCard        int   `json:"offline_taps_per_card"`
	OfflineAmountPerCardMinor int64 `json:"offline_amount_per_card_minor"`
	OfflinePriceMinor         int64 `json:"offline_price_minor"`
	// SyncIntervalMs is how often the terminal uploads offline taps and
	// refreshes its denylist (default 1000); UploadBatch taps per call
	// (default 50, at most 100).
	SyncIntervalMs int `json:"sync_interval_ms"`
	UploadBatch    int `json:"upload_batch"`

	dir string // of the file, for relative names
}

// Limits.
const (
	ReadersMax       = 16
	tapBudgetMax     = time.Minute
	tapBudgetDefault = 2 * time.Second
)

// LoadConfig reads and validates a configuration file.
func LoadConfig(file string) (Config, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("%s: %w", file, err)
	}
	cfg.dir = filepath.Dir(file)
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", file, err)
	}
	return cfg, nil
}

// Validate rejects a configuration the terminal could not run with.
func (c Config) Validate() error {
	switch {
	case c.Gateway == "":
		return errors.New("gateway is required")
	case c.TerminalID == "":
		return errors.New("terminal_id is required")
	case c.PrivateKeyFile == "":
		return errors.New("private_key_file is required")
	case c.IssuerKeyFile == "":
		return errors.New("issuer_key_file is required")
	case c.StateDir == "":
		return errors.New("state_dir is required")
	case len(c.Readers) == 0 || len(c.Readers) > ReadersMax:
		return fmt.Errorf("%d readers, want 1..%d", len(c.Readers), ReadersMax)
	case c.TapBudgetMs < 0 || time.Duration(c.TapBudgetMs)*time.Millisecond > tapBudgetMax:
		return fmt.Errorf("tap_budget_ms %d outside 0..%d", c.TapBudgetMs, tapBudgetMax.Milliseconds())
	case c.Direction < -1 || c.Direction > 1:
		return fmt.Errorf("direction %d: want -1, 0 or 1", c.Direction)
	case len(c.Line) > 32 || len(c.Stop) > 64:
		return errors.New("line (32 bytes) or stop (64 bytes) too long")
	}
	switch {
	case c.OfflineTapsPerCard < 0 || c.OfflineTapsPerCard > 100:
		return fmt.Errorf("offline_taps_per_card %d outside 0..100", c.OfflineTapsPerCard)
	case c.OfflineAmountPerCardMinor < 0 || c.OfflinePriceMinor < 0:
		return errors.New("offline amounts must not be negative")
	case c.SyncIntervalMs < 0 || c.SyncIntervalMs > 3_600_000:
		return fmt.Errorf("sync_interval_ms %d outside 0..3600000", c.SyncIntervalMs)
	case c.UploadBatch < 0 || c.UploadBatch > uploadBatchMax:
		return fmt.Errorf("upload_batch %d outside 0..%d", c.UploadBatch, uploadBatchMax)
	}
	for _, pattern := range c.Readers {
		if _, err := path.Match(pattern, ""); err != nil {
			return fmt.Errorf("reader pattern %q: %w", pattern, err)
		}
	}
	return nil
}

// uploadBatchMax is the gateway's limit per UploadOfflineTaps call.
const uploadBatchMax = 100

func orDefault[T int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func (c Config) offlineTapsPerCard() int { return orDefault(c.OfflineTapsPerCard, 3) }
func (c Config) offlineAmountPerCard() int64 {
	return orDefault(c.OfflineAmountPerCardMinor, 2000)
}
func (c Config) syncInterval() time.Duration {
	return time.Duration(orDefault(c.SyncIntervalMs, 1000)) * time.Millisecond
}
func (c Config) uploadBatch() int { return orDefault(c.UploadBatch, 50) }

// TapBudget is how long a tap may wait for the gateway.
func (c Config) TapBudget() time.Duration {
	if c.TapBudgetMs == 0 {
		return tapBudgetDefault
	}
	return time.Duration(c.TapBudgetMs) * time.Millisecond
}

func (c Config) file(name string) string {
	if filepath.IsAbs(name) || c.dir == "" {
		return name
	}
	return filepath.Join(c.dir, name)
}

// State is where the state directory is.
func (c Config) State() string { return c.file(c.StateDir) }

// PrivateKey reads the terminal's signing key.
func (c Config) PrivateKey() (ed25519.PrivateKey, error) {
	seed, err := readHex(c.file(c.PrivateKeyFile), ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("terminal key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// IssuerKey reads the issuer's card master key.
func (c Config) IssuerKey() ([]byte, error) {
	key, err := readHex(c.file(c.IssuerKeyFile), cardapp.KeySize)
	if err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	return key, nil
}

// MatchReaders picks, for every pattern, the readers whose name it matches,
// sorted, each once. It fails when a pattern matches nothing.
func (c Config) MatchReaders(names []string) ([]string, error) {
	var out []string
	seen := make(map[string]bool)
	for _, pattern := range c.Readers {
		found := false
		for _, name := range names {
			if ok, _ := path.Match(pattern, name); ok {
				found = true
				if !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("no reader matches %q (readers: %q)", pattern, names)
		}
	}
	return out, nil
}

func readHex(file string, size int) ([]byte, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(b) != size {
		return nil, fmt.Errorf("%s: %d bytes, want %d", file, len(b), size)
	}
	return b, nil
}
