//go:build k8s

package cluster

import (
	"fmt"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/k8s"
	"k8s.io/client-go/rest"
)

func newKubernetesProvider(m Membership) (protocluster.ClusterProvider, error) {
	if m.KubernetesAPI == "" {
		p, err := k8s.New()
		if err != nil {
			return nil, fmt.Errorf("cluster: kubernetes membership (in-cluster configuration): %w", err)
		}
		return p, nil
	}
	p, err := k8s.NewWithConfig(&rest.Config{Host: m.KubernetesAPI})
	if err != nil {
		return nil, fmt.Errorf("cluster: kubernetes membership at %s: %w", m.KubernetesAPI, err)
	}
	return p, nil
}
