package cluster

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"civicard/cluster/nodecert"
)

// nodeCertificate makes sure the node has its certificate of the cluster's
// CA in the secrets directory (issuing it, and creating the CA for the
// first node of a cluster, as nodecert.Ensure does) and returns the source
// of its links' TLS. Every node does, the embedded one too: its Raft
// listener is on loopback, where any local process could otherwise propose.
// The certificate's expiry is exported as
// civicard_node_certificate_expiry_timestamp_seconds.
func nodeCertificate(secretsDir, name string, reg prometheus.Registerer) (*nodecert.Source, error) {
	if err := nodecert.Ensure(secretsDir, name, time.Now()); err != nil {
		return nil, fmt.Errorf("cluster: node certificate: %w", err)
	}
	src, err := nodecert.Open(secretsDir, name)
	if err != nil {
		return nil, fmt.Errorf("cluster: node certificate: %w", err)
	}
	expiry := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "civicard_node_certificate_expiry_timestamp_seconds",
		Help: "When the certificate this node presents to the others expires (Unix time); it is read again when its files change.",
	}, func() float64 { return float64(src.Expiry().Unix()) })
	if err := reg.Register(expiry); err != nil {
		return nil, fmt.Errorf("cluster: register metrics: %w", err)
	}
	return src, nil
}
