package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"civicard/domain/money"
	civicardv1 "civicard/messages/civicard/v1"
)

// Config holds the gateway's settings.
type Config struct {
	// Currency every amount must be given in.
	Currency string
	// OperatorToken is the bootstrap credential: its holder is an
	// operator admin, the way in before any user exists.
	OperatorToken string
	// Users authenticates the users' tokens; nil: UserRegistry's users,
	// or, without one, the OperatorToken alone.
	Users Authenticator
	// UserRegistry reads the registry's users (AdminService's users calls
	// and, when Users is nil, the users' tokens); nil on a node without a
	// ledger.
	UserRegistry UserRegistry
	// BodyMaxBytes is the largest request body accepted.
	BodyMaxBytes int
	// TLS, when not nil, serves the API over TLS (HTTP/1.1 and HTTP/2);
	// nil serves it in plain text (HTTP/1.1 and unencrypted HTTP/2).
	TLS *tls.Config
	// BodyReadTimeout bounds the time a client takes to send a request's
	// headers and body.
	BodyReadTimeout time.Duration
	// TapTimeout is a tap's server-side budget; a terminal that hears nothing
	// by then decides offline.
	TapTimeout time.Duration
	// RequestTimeout bounds every other call.
	RequestTimeout time.Duration
	// PageSizeMax bounds one page of transactions.
	PageSizeMax uint32
	// Now is the gateway's clock, injected for tests.
	Now func() time.Time
	// Ready reports whether the node takes taps (nil error) for /healthz.
	Ready func() error
	// Describe answers AdminService.GetNode.
	Describe func(withDigests bool) *civicardv1.GetNodeResponse
	// Settlement serves the SettlementService; nil on a node without a
	// ledger (it answers UNIMPLEMENTED).
	Settlement Settlement
	// Nodes answers AdminService's node list calls; nil on a node that is
	// not part of a multi-node cluster.
	Nodes NodeAdmin
	// RegistryAdmin takes AdminService's registry writes (institutions,
	// terminals, the tariff); nil on a node without a ledger (it answers
	// UNIMPLEMENTED).
	RegistryAdmin RegistryAdmin
	Logger        *slog.Logger
	Registry      *prometheus.Registry
}

// DefaultConfig returns production settings; OperatorToken, Ready and
// Registry must still be set.
func DefaultConfig() Config {
	return Config{
		Currency:        money.DefaultCurrency,
		BodyMaxBytes:    64 << 10,
		BodyReadTimeout: 10 * time.Second,
		TapTimeout:      2 * time.Second,
		RequestTimeout:  5 * time.Second,
		PageSizeMax:     500,
		Now:             time.Now,
		Logger:          slog.Default(),
	}
}

// Validate rejects settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Currency == "":
		return errors.New("gateway: Currency is empty")
	case len(c.OperatorToken) < 16:
		return errors.New("gateway: OperatorToken shorter than 16 characters")
	case c.BodyMaxBytes < 1<<10 || c.BodyMaxBytes > 16<<20:
		return fmt.Errorf("gateway: BodyMaxBytes %d outside [1 KiB, 16 MiB]", c.BodyMaxBytes)
	case c.BodyReadTimeout <= 0 || c.BodyReadTimeout > time.Minute:
		return fmt.Errorf("gateway: BodyReadTimeout %s outside (0, 1m]", c.BodyReadTimeout)
	case c.TapTimeout <= 0 || c.RequestTimeout <= 0:
		return errors.New("gateway: timeouts must be positive")
	case c.PageSizeMax < 1:
		return errors.New("gateway: PageSizeMax must be positive")
	case c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil:
		return errors.New("gateway: TLS has no certificate")
	case c.Now == nil || c.Ready == nil || c.Describe == nil || c.Logger == nil || c.Registry == nil:
		return errors.New("gateway: Now, Ready, Describe, Logger and Registry are required")
	}
	return nil
}
