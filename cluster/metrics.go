package cluster

import (
	"fmt"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"
)

// grainKinds are the kinds whose activations a node reports.
func grainKinds() []string { return []string{"Card", "Terminal", "Institution"} }

// registerMemberMetrics exports what the member sees and hosts, read at
// scrape time: the members of the cluster and the grains active here.
func registerMemberMetrics(reg prometheus.Registerer, c *protocluster.Cluster) error {
	collectors := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "civicard_cluster_members",
			Help: "Members of the cluster this node sees, itself included.",
		}, func() float64 { return float64(c.MemberList.Length()) }),
	}
	for _, kind := range grainKinds() {
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "civicard_grains_hosted",
			Help:        "Grains active on this node, by kind.",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 {
			if k, ok := c.TryGetClusterKind(kind); ok {
				return float64(k.Count())
			}
			return 0
		}))
	}
	for _, col := range collectors {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("cluster: register metrics: %w", err)
		}
	}
	return nil
}

// registerScalerMetrics exports, read at scrape time, this node's status in
// the node list (0 not listed, 1 active, 2 draining, 3 removed) and how many
// Raft groups it replicates and leads. The Raft state and replication lag
// of each replica are the replication package's (civicard_replication_raft_state,
// _apply_lag_entries, _leader_contact_age_seconds).
func registerScalerMetrics(reg prometheus.Registerer, s *scaler) error {
	count := func(leading bool) float64 {
		n := 0
		for _, st := range s.host.Groups() {
			if !leading || st.State == "Leader" {
				n++
			}
		}
		return float64(n)
	}
	for _, col := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "civicard_cluster_node_status",
			Help: "This node's status in the cluster's node list: 0 not listed, 1 active, 2 draining, 3 removed.",
		}, func() float64 { return float64(s.status()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "civicard_cluster_groups_replicated",
			Help: "Raft groups (registry and shards) this node holds a replica of.",
		}, func() float64 { return count(false) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "civicard_cluster_groups_led",
			Help: "Raft groups (registry and shards) whose leader is this node.",
		}, func() float64 { return count(true) }),
	} {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("cluster: register metrics: %w", err)
		}
	}
	return nil
}
