package replication

import (
	"errors"
	"fmt"
	"time"

	replicationv1 "civicard/messages/replication/v1"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Values of the forwards counter's outcome label: how one attempt of a
// Host call ended, at the local leader ("local_*") or at another host.
const (
	attemptOK          = "ok"
	attemptNotLeader   = "not_leader"
	attemptNoGroup     = "no_group"
	attemptOverloaded  = "overloaded"
	attemptInvalid     = "invalid"
	attemptFailed      = "failed"
	attemptUnknown     = "unknown_outcome"
	attemptUnreachable = "unreachable"
	attemptLocalPrefix = "local_"
)

// hostMetrics are a Host's: attempts by group and outcome, and per group
// gauges read from Raft at scrape time (the Group's own metrics sit beside
// them under the same group label).
type hostMetrics struct {
	reg      prometheus.Registerer
	forwards *prometheus.CounterVec
}

func newHostMetrics(reg prometheus.Registerer) (*hostMetrics, error) {
	m := &hostMetrics{
		reg: reg,
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "attempts_total",
			Help: "Attempts of proposals, queries and membership changes by group and outcome; " +
				"outcomes starting local_ ran at this node's leader, the others were forwarded.",
		}, []string{"group", "outcome"}),
	}
	if reg != nil {
		if err := reg.Register(m.forwards); err != nil {
			return nil, fmt.Errorf("replication: register host metrics: %w", err)
		}
	}
	return m, nil
}

func (m *hostMetrics) unregister() {
	if m.reg != nil {
		m.reg.Unregister(m.forwards)
	}
}

func (m *hostMetrics) forward(group, outcome string) {
	m.forwards.WithLabelValues(group, outcome).Inc()
}

func (m *hostMetrics) forwardStatus(group string, local bool, s replicationv1.ForwardStatus) {
	var o string
	switch s {
	case replicationv1.ForwardStatus_FORWARD_STATUS_OK:
		o = attemptOK
	case replicationv1.ForwardStatus_FORWARD_STATUS_NOT_LEADER:
		o = attemptNotLeader
	case replicationv1.ForwardStatus_FORWARD_STATUS_NO_GROUP:
		o = attemptNoGroup
	case replicationv1.ForwardStatus_FORWARD_STATUS_OVERLOADED:
		o = attemptOverloaded
	case replicationv1.ForwardStatus_FORWARD_STATUS_INVALID:
		o = attemptInvalid
	case replicationv1.ForwardStatus_FORWARD_STATUS_FAILED:
		o = attemptFailed
	default:
		o = attemptUnknown
	}
	if local {
		o = attemptLocalPrefix + o
	}
	m.forward(group, o)
}

// addGroup registers the Raft gauges of one replica on reg (already labelled
// with the group) and returns how to unregister them.
func (m *hostMetrics) addGroup(reg prometheus.Registerer, g *Group) (func(), error) {
	if reg == nil {
		return func() {}, nil
	}
	r := g.raft
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help,
		}, f)
	}
	collectors := []prometheus.Collector{
		gauge("raft_state", "Raft state of this replica: 0 follower, 1 candidate, 2 leader, 3 shut down.",
			func() float64 { return float64(r.State()) }),
		gauge("last_log_index", "Raft index of the newest entry in this replica's log.",
			func() float64 { return float64(r.LastIndex()) }),
		gauge("commit_index", "Raft index of the newest entry this replica knows committed.",
			func() float64 { return float64(r.CommitIndex()) }),
		gauge("apply_lag_entries", "Entries in this replica's log that its ledger has not applied yet.",
			func() float64 { return float64(r.LastIndex() - min(r.LastIndex(), r.AppliedIndex())) }),
		gauge("leader_contact_age_seconds",
			"On a follower, seconds since it last heard from its leader (raft exposes no per-follower match index); 0 on the leader.",
			func() float64 {
				if r.State() == raft.Leader {
					return 0
				}
				last := r.LastContact()
				if last.IsZero() {
					return -1
				}
				return time.Since(last).Seconds()
			}),
	}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("replication: group metrics already registered: %w", err)
			}
			return nil, fmt.Errorf("replication: register group metrics: %w", err)
		}
	}
	return func() {
		for _, c := range collectors {
			reg.Unregister(c)
		}
	}, nil
}
