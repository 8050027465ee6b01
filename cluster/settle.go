package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"civicard/cluster/replication"
	"civicard/domain/settlement/clearing"
	"civicard/domain/settlement/cycle"
	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// SettlementConfig configures clearing cycles and payouts. Every node of a
// cluster must have the same: the node that leads the registry settles,
// and a new leader finishes what an old one started.
type SettlementConfig struct {
	// Cycle is how long a clearing cycle lasts; cycles end on its
	// multiples (24h: at midnight UTC). 0 closes cycles only on request
	// (SettlementService.CloseCycle).
	Cycle time.Duration
	// Fee is the operator's fee on each transaction.
	Fee *civicardv1.CycleFeePolicy
	// Operator is who pays the institutions: the debtor of the payout files.
	// There is no default: a cluster that closes cycles on a schedule must
	// be told (a made-up account in a payment file is worse than none).
	// Without it, cycles close only on request and no payout file is made.
	Operator payout.Party
	// ReconcileEvery is how often the registry's leader reconciles the
	// books (civicard_reconcile_ok); 0: only after each batch.
	ReconcileEvery time.Duration
	// StatementsReconciled is how many of the newest paid batches a
	// reconciliation checks against their statements.
	StatementsReconciled int
}

// DefaultSettlementConfig returns daily cycles, a 1.5% fee and no payout
// debtor: Operator must be set, or Cycle 0. Payouts are paid in the
// ledger's currency (Settings.Currency).
func DefaultSettlementConfig() SettlementConfig {
	return SettlementConfig{
		Cycle:                24 * time.Hour,
		Fee:                  &civicardv1.CycleFeePolicy{BasisPoints: 150},
		ReconcileEvery:       time.Minute,
		StatementsReconciled: 3,
	}
}

// Validate rejects a settlement config that cannot work.
func (c SettlementConfig) Validate() error {
	if c.Cycle < 0 || (c.Cycle > 0 && c.Cycle < time.Second) {
		return fmt.Errorf("cluster: settlement cycle %v: 0 (on request) or at least 1s", c.Cycle)
	}
	switch {
	case c.Operator == (payout.Party{}) && c.Cycle > 0:
		return fmt.Errorf("cluster: settlement closes a cycle every %v, but no payout debtor is configured: give the operator's account the payouts are paid from (--operator-name, --operator-iban, --operator-bic), or --cycle 0 to close cycles only on request", c.Cycle)
	case c.Operator != (payout.Party{}):
		if err := payout.CheckIBAN(c.Operator.IBAN); err != nil {
			return fmt.Errorf("cluster: operator account: %w", err)
		}
		if c.Operator.Name == "" {
			return errors.New("cluster: the operator's name is empty")
		}
	}
	if c.ReconcileEvery < 0 || c.StatementsReconciled < 0 || c.StatementsReconciled > 100 {
		return errors.New("cluster: ReconcileEvery >= 0, StatementsReconciled in [0, 100]")
	}
	return clearing.CheckFee(c.Fee)
}

// hostLedgers is cycle.Ledgers over the replication host: every read
// at the group's leader, every proposal forwarded to it.
type hostLedgers struct {
	host   *replication.Host
	shards int
}

var _ cycle.Ledgers = hostLedgers{}

func (h hostLedgers) Shards() []string {
	out := make([]string, h.shards)
	for i := range out {
		out[i] = replication.ShardGroup(i)
	}
	return out
}

func (h hostLedgers) Registry() string { return replication.RegistryGroup }

// Propose applies cmd in group, which must be where the command table
// routes it (for a cycle's close and a payout: the shard the coordinator
// names).
func (h hostLedgers) Propose(ctx context.Context, group string, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	groups, err := groupsOf(cmd, h.shards, group)
	if err != nil {
		return nil, err
	}
	if len(groups) != 1 || groups[0] != group {
		return nil, fmt.Errorf("cluster: command %s goes to %s, not to %s", cmd.GetId(), strings.Join(groups, ", "), group)
	}
	return h.host.Propose(ctx, group, cmd)
}

func (h hostLedgers) CycleTotals(ctx context.Context, group string, k uint64) (*ledgerv1.CycleTotals, uint64, error) {
	return ledgerReads{h.host}.CycleTotals(ctx, group, k)
}

func (h hostLedgers) Batches(ctx context.Context, limit int) ([]*civicardv1.SettlementBatch, error) {
	return ledgerReads{h.host}.Batches(ctx, replication.RegistryGroup, limit)
}

func (h hostLedgers) Batch(ctx context.Context, k uint64) (*civicardv1.SettlementBatch, error) {
	return ledgerReads{h.host}.Batch(ctx, replication.RegistryGroup, k)
}

func (h hostLedgers) Institution(ctx context.Context, id string) (*civicardv1.Institution, bool, error) {
	return ledgerReads{h.host}.Institution(ctx, replication.RegistryGroup, id)
}

func (h hostLedgers) Statement(ctx context.Context, group string, k uint64, institutionID string) ([]*civicardv1.SettlementStatementLine, error) {
	return ledgerReads{h.host}.Statement(ctx, group, k, institutionID)
}

func (h hostLedgers) StatementSums(ctx context.Context, group string, k uint64) (*ledgerv1.CycleTotals, error) {
	return ledgerReads{h.host}.StatementSums(ctx, group, k)
}

func (h hostLedgers) Totals(ctx context.Context, group string) (*civicardv1.LedgerTotals, error) {
	return ledgerReads{h.host}.LedgerTotals(ctx, group)
}

// Settler closes cycles and settles them, serves the SettlementService
// and reconciles the books. Any node can run a step (they are idempotent
// and reach the groups' leaders); the schedule runs on the node that leads
// the registry.
type Settler struct {
	l   hostLedgers
	cfg SettlementConfig
	// currency is the ledger's: the batches' and payout files'.
	currency string
	logger   *slog.Logger
	now      func() time.Time

	// mu serialises this node's settlement runs: two at once would only
	// repeat each other's steps.
	mu sync.Mutex

	reconcileOK prometheus.Gauge
	mismatches  prometheus.Counter
	batchesPaid prometheus.Counter
	settleFails prometheus.Counter
}

func newSettler(l hostLedgers, cfg SettlementConfig, currency string, logger *slog.Logger, reg prometheus.Registerer) (*Settler, error) {
	s := &Settler{
		l: l, cfg: cfg, currency: currency, logger: logger.With(slog.String("component", "settlement")), now: time.Now,
		reconcileOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "civicard_reconcile_ok",
			Help: "1 when the last reconciliation of the books found no mismatch, 0 when it found one (an alarm); set by the registry's leader.",
		}),
		mismatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "civicard_reconcile_mismatches_total",
			Help: "Mismatches found by reconciliations of the books.",
		}),
		batchesPaid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "civicard_settlement_batches_total",
			Help: "Settlement batches this node ran to paid (a batch finished by two nodes counts on both).",
		}),
		settleFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "civicard_settlement_failures_total",
			Help: "Settlement runs that stopped with an error (retried on the next tick).",
		}),
	}
	for _, c := range []prometheus.Collector{s.reconcileOK, s.mismatches, s.batchesPaid, s.settleFails} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cluster: register settlement metrics: %w", err)
		}
	}
	return s, nil
}

func (s *Settler) coordinatorConfig() cycle.Config {
	return cycle.Config{Currency: s.currency, Fee: s.cfg.Fee, Now: s.now}
}

// CloseCycle settles cycle k (0: the pending one, else the open one) and
// returns its paid batch.
func (s *Settler) CloseCycle(ctx context.Context, k uint64) (*civicardv1.SettlementBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := cycle.Settle(ctx, s.l, s.coordinatorConfig(), k)
	if err != nil {
		s.settleFails.Inc()
		if errors.Is(err, cycle.ErrRefused) {
			s.logger.Error("settlement refused: an alarm", slog.Uint64("cycle", k), slog.Any("error", err))
		}
		return nil, err
	}
	s.batchesPaid.Inc()
	s.logger.Info("batch paid", slog.Uint64("cycle", b.GetCycle()), slog.Int("institutions", len(b.GetInstitutions())))
	return b, nil
}

// ListBatches returns the newest batches and the open cycle.
func (s *Settler) ListBatches(ctx context.Context, limit int) ([]*civicardv1.SettlementBatch, uint64, error) {
	batches, err := s.l.Batches(ctx, limit)
	if err != nil {
		return nil, 0, err
	}
	next, err := cycle.Next(ctx, s.l)
	return batches, next, err
}

// Statement is an institution's statement of cycle k.
func (s *Settler) Statement(ctx context.Context, k uint64, institutionID string) (*civicardv1.GetStatementResponse, error) {
	return cycle.Statement(ctx, s.l, k, institutionID)
}

// PayoutFile is batch k's pain.001.001.09 file and its message id.
func (s *Settler) PayoutFile(ctx context.Context, k uint64) ([]byte, string, error) {
	if s.cfg.Operator == (payout.Party{}) {
		return nil, "", fmt.Errorf("%w: no payout debtor is configured on this node (--operator-name, --operator-iban, --operator-bic)", cycle.ErrRefused)
	}
	return cycle.PayoutFile(ctx, s.l, k, s.cfg.Operator)
}

// Reconcile checks the books and reports; a mismatch is logged with the
// accounts it names, counted, and turns civicard_reconcile_ok to 0.
func (s *Settler) Reconcile(ctx context.Context) (*civicardv1.ReconcileResponse, error) {
	rep, err := cycle.Reconcile(ctx, s.l, s.cfg.StatementsReconciled, s.cfg.Operator)
	if err != nil {
		return nil, err
	}
	if rep.OK() {
		s.reconcileOK.Set(1)
	} else {
		s.reconcileOK.Set(0)
		s.mismatches.Add(float64(len(rep.Mismatches)))
		for _, m := range rep.Mismatches {
			s.logger.Error("reconciliation mismatch", slog.String("mismatch", m))
		}
	}
	return &civicardv1.ReconcileResponse{Ok: rep.OK(), Checks: rep.Checks, Mismatches: rep.Mismatches}, nil
}

// settleTick is how often the schedule looks at the cycle.
func settleTick(cycle time.Duration) time.Duration {
	if cycle == 0 {
		return time.Second
	}
	return min(max(cycle/10, 100*time.Millisecond), 5*time.Second)
}

// run is the schedule: on the node that leads the registry, it finishes a
// cycle in flight at once (its predecessor died mid-way), closes the open
// cycle when Cycle has passed since the last batch, and reconciles.
func (s *Settler) run(ctx context.Context, leadsRegistry func() bool) {
	ticker := time.NewTicker(settleTick(s.cfg.Cycle))
	defer ticker.Stop()
	started := s.now()
	var lastReconcile time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if !leadsRegistry() {
			continue
		}
		if err := s.tick(ctx, started); err != nil && ctx.Err() == nil {
			s.logger.Warn("settlement step failed; retrying", slog.Any("error", err))
			continue
		}
		if s.cfg.ReconcileEvery > 0 && s.now().Sub(lastReconcile) >= s.cfg.ReconcileEvery {
			lastReconcile = s.now()
			if _, err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("reconciliation did not run", slog.Any("error", err))
			}
		}
	}
}

func (s *Settler) tick(ctx context.Context, started time.Time) error {
	pending, err := cycle.Pending(ctx, s.l)
	if err != nil {
		return err
	}
	due := pending != 0
	if !due && s.cfg.Cycle > 0 {
		last, err := s.l.Batches(ctx, 1)
		if err != nil {
			return err
		}
		since := started
		if len(last) > 0 {
			since = time.UnixMilli(last[0].GetCreatedUnixMs())
		}
		// Cycles end on multiples of Cycle since Go's zero time (a daily
		// cycle at midnight UTC), whenever the nodes were started.
		due = s.now().Truncate(s.cfg.Cycle).After(since)
	}
	if !due {
		return nil
	}
	if _, err := s.CloseCycle(ctx, pending); err != nil {
		return err
	}
	if _, err := s.Reconcile(ctx); err != nil {
		return err
	}
	return nil
}

// settlementSchedule is the node's Settler as a component: made when the
// Raft groups are up, its schedule (run) running until Stop.
type settlementSchedule struct {
	groups     *raftGroups
	cfg        SettlementConfig
	currency   string
	logger     *slog.Logger
	registerer prometheus.Registerer
	settler    *Settler
	loop
}

func (s *settlementSchedule) Start(ctx context.Context) error {
	settler, err := newSettler(hostLedgers{host: s.groups.host, shards: s.groups.router.shards}, s.cfg, s.currency, s.logger, s.registerer)
	if err != nil {
		return err
	}
	s.settler = settler
	leads := leadsRegistry(s.groups.host)
	s.run = func(ctx context.Context) { settler.run(ctx, leads) }
	return s.loop.Start(ctx)
}

// leadsRegistry reports whether this node's replica of the registry leads.
func leadsRegistry(host *replication.Host) func() bool {
	return func() bool {
		for _, g := range host.Groups() {
			if g.Name == replication.RegistryGroup {
				return strings.EqualFold(g.State, "Leader")
			}
		}
		return false
	}
}
