package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"

	"civicard/domain/money"
	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// ErrNotFound is returned by a Ledger for an id it does not know.
var ErrNotFound = errors.New("not found")

// Ledger is what the grains need from the replication layer. Proposals are
// acknowledged only after a Raft commit; an error means the outcome is
// unknown and the same command (same id) may be proposed again.
type Ledger interface {
	Propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error)
	Card(ctx context.Context, cardID string) (*ledgerv1.CardState, error)
	Transactions(ctx context.Context, cardID string, beforeSequence uint64, limit int) ([]*civicardv1.Transaction, error)
	Institution(ctx context.Context, institutionID string) (*civicardv1.Institution, error)
	Terminal(ctx context.Context, terminalID string) (*civicardv1.Terminal, error)
	// Tariff returns the region and the price list of institutionID ("":
	// none) as the ledger that settles cardID's commands holds them
	// (cardID "": the registry's).
	Tariff(ctx context.Context, cardID, institutionID string) (*ledgerv1.TariffRecords, error)
}

// DenylistReader is implemented by a Ledger that can list the blocked
// cards (sorted), for terminals' offline denylists. Without it, the terminal
// grain answers Denylist with FAILED_PRECONDITION.
type DenylistReader interface {
	BlockedCards(ctx context.Context) ([]string, error)
}

// Config holds the grains' settings.
type Config struct {
	// Currency of the ledger, for the amounts in answers.
	Currency string
	// ProposeTimeout bounds one ledger proposal or read made by a grain.
	ProposeTimeout time.Duration
	// VersionRetryMax bounds how often a card grain decides again after the
	// ledger refused a stale version before it gives up with UNAVAILABLE.
	VersionRetryMax int
	// IdleTimeout passivates a grain that received nothing for this long.
	IdleTimeout time.Duration
	// RecentTapsMax bounds the answers a terminal grain keeps to serve retries
	// without asking the card again.
	RecentTapsMax int
}

// DefaultConfig returns settings fit for a city.
func DefaultConfig() Config {
	return Config{
		Currency:        money.DefaultCurrency,
		ProposeTimeout:  3 * time.Second,
		VersionRetryMax: 3,
		IdleTimeout:     10 * time.Minute,
		RecentTapsMax:   256,
	}
}

// Validate rejects settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Currency == "":
		return errors.New("actors: Currency is empty")
	case c.ProposeTimeout <= 0:
		return errors.New("actors: ProposeTimeout must be positive")
	case c.VersionRetryMax < 1 || c.VersionRetryMax > 100:
		return fmt.Errorf("actors: VersionRetryMax %d outside [1, 100]", c.VersionRetryMax)
	case c.IdleTimeout <= 0:
		return errors.New("actors: IdleTimeout must be positive")
	case c.RecentTapsMax < 1 || c.RecentTapsMax > 1<<16:
		return fmt.Errorf("actors: RecentTapsMax %d outside [1, 65536]", c.RecentTapsMax)
	}
	return nil
}

// Deps is what every grain of a node shares: settings, the ledger, the
// tariff, metrics.
type Deps struct {
	Config Config
	Ledger Ledger
	// Tariffs are the region and the price lists, read from Ledger.
	Tariffs *Tariffs
	// Context lives as long as the node; grains derive their timeouts from it.
	Context context.Context
	Logger  *slog.Logger
	Metrics *Metrics
}

// Metrics are the grains' Prometheus collectors.
type Metrics struct {
	activations    *prometheus.CounterVec
	versionRetries prometheus.Counter
}

// NewMetrics registers the grains' collectors on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicard_grain_activations_total",
			Help: "Grains activated on this node, by kind.",
		}, []string{"kind"}),
		versionRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "civicard_card_version_retries_total",
			Help: "Proposals the ledger refused as stale, after which the card grain reloaded and decided again.",
		}),
	}
	for _, c := range []prometheus.Collector{m.activations, m.versionRetries} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("actors: register metrics: %w", err)
		}
	}
	return m, nil
}

// Kinds returns the cluster kinds of all grains, wired to deps.
func Kinds(deps *Deps) []*protocluster.Kind {
	idle := deps.Config.IdleTimeout
	dispatcher := actor.WithDispatcher(newWorkerDispatcher(workerIdleMax))
	return []*protocluster.Kind{
		grainsv1.NewCardKind(func() grainsv1.Card { return &cardGrain{deps: deps} }, idle, dispatcher),
		grainsv1.NewTerminalKind(func() grainsv1.Terminal { return &terminalGrain{deps: deps} }, idle, dispatcher),
		grainsv1.NewInstitutionKind(func() grainsv1.Institution { return &institutionGrain{deps: deps} }, idle, dispatcher),
	}
}

// workerIdleMax is how long a mailbox worker waits for more work: long
// enough to span the gaps between taps under load, short enough that a
// quiet node keeps few goroutines.
const workerIdleMax = 2 * time.Second

// CallOptions bounds a grain call by timeoutMax and by ctx's deadline, and
// retries a lost activation with a real backoff: the library's default retry
// sleeps nanoseconds.
func CallOptions(ctx context.Context, timeoutMax time.Duration) []protocluster.GrainCallOption {
	timeout := timeoutMax
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(min(time.Until(deadline), timeoutMax), time.Millisecond)
	}
	return []protocluster.GrainCallOption{
		protocluster.WithTimeout(timeout),
		protocluster.WithRetryCount(callRetryMax),
		protocluster.WithRetryAction(backoff),
	}
}

const (
	callRetryMax     = 6
	callBackoffFirst = 20 * time.Millisecond
	callBackoffMax   = 500 * time.Millisecond
)

// backoff sleeps 20, 40, 80 ... ms, at most 500 ms, and returns the next
// attempt number.
func backoff(attempt int) int {
	time.Sleep(min(callBackoffFirst<<attempt, callBackoffMax))
	return attempt + 1
}

func (d *Deps) money(minor int64) *civicardv1.Money {
	return &civicardv1.Money{Currency: d.Config.Currency, MinorUnits: minor}
}

// timeout derives a bounded context for one ledger call from the node's.
func (d *Deps) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(d.Context, d.Config.ProposeTimeout)
}
