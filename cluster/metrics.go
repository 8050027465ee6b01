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
