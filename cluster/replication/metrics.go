package replication

import (
	"errors"
	"fmt"

	ledgerv1 "civicard/messages/ledger/v1"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	metricsNamespace = "civicard"
	metricsSubsystem = "replication"
)

// Values of the proposals counter's status label.
const (
	outcomeOK           = "ok"
	outcomeDeclined     = "declined"
	outcomeStaleVersion = "stale_version"
	outcomeRejected     = "rejected"
	// outcomeError: the caller got an error instead of a Result (overloaded,
	// closed, not the leader, its context ended, or Raft failed).
	outcomeError = "error"
)

type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	commitSeconds prometheus.Histogram
	batchCommands prometheus.Histogram
	// proposals by outcome, resolved once so counting costs no label lookup.
	ok, declined, staleVersion, rejected, failed prometheus.Counter
	leader                                       prometheus.Gauge
	appliedIndex                                 prometheus.Gauge
}

// newMetrics creates the group's metrics and registers them on reg (nil:
// not registered). queueDepth is read at scrape time.
func newMetrics(reg prometheus.Registerer, queueDepth func() int) (*metrics, error) {
	const ns, sub = metricsNamespace, metricsSubsystem
	commit := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "commit_latency_seconds",
		Help: "Time from raft.Apply of a log entry until it is committed and applied by the ledger.",
		// 0.25 ms to 4 s: an fsync here takes 0.2-16 ms.
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 15),
	})
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "batch_commands",
		Help:    "Commands per log entry.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 15), // 1 to 16384 (batchMaxLimit)
	})
	proposals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "proposals_total",
		Help: "Proposed commands by the ledger status of their result, or error when the caller got no result.",
	}, []string{"status"})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "queue_depth",
		Help: "Proposals waiting to be batched into a log entry.",
	}, func() float64 { return float64(queueDepth()) })
	leader := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "is_leader",
		Help: "1 while this node is the group's Raft leader, else 0.",
	})
	applied := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "last_applied_index",
		Help: "Raft index of the last log entry the ledger applied.",
	})

	m := &metrics{
		reg:           reg,
		collectors:    []prometheus.Collector{commit, batch, proposals, depth, leader, applied},
		commitSeconds: commit,
		batchCommands: batch,
		ok:            proposals.WithLabelValues(outcomeOK),
		declined:      proposals.WithLabelValues(outcomeDeclined),
		staleVersion:  proposals.WithLabelValues(outcomeStaleVersion),
		rejected:      proposals.WithLabelValues(outcomeRejected),
		failed:        proposals.WithLabelValues(outcomeError),
		leader:        leader,
		appliedIndex:  applied,
	}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				reg.Unregister(done)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("replication: metrics already registered (another open group on this registry? wrap it with a label): %w", err)
			}
			return nil, fmt.Errorf("replication: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

// count records the outcome of one proposal as its caller sees it.
func (m *metrics) count(res *ledgerv1.Result, err error) {
	if err != nil {
		m.failed.Inc()
		return
	}
	switch res.GetStatus() {
	case ledgerv1.Status_STATUS_OK:
		m.ok.Inc()
	case ledgerv1.Status_STATUS_DECLINED:
		m.declined.Inc()
	case ledgerv1.Status_STATUS_STALE_VERSION:
		m.staleVersion.Inc()
	case ledgerv1.Status_STATUS_REJECTED:
		m.rejected.Inc()
	default:
		// The ledger promises one of the four; anything else is its bug,
		// and the caller will treat it as an error too.
		m.failed.Inc()
	}
}
