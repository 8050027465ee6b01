//go:build consul

package cluster

import (
	"fmt"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/consul"
	"github.com/hashicorp/consul/api"
)

func newConsulProvider(m Membership) (protocluster.ClusterProvider, error) {
	p, err := consul.NewWithConfig(&api.Config{Address: m.ConsulAddress})
	if err != nil {
		return nil, fmt.Errorf("cluster: consul membership at %s: %w", m.ConsulAddress, err)
	}
	return p, nil
}
