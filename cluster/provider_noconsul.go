//go:build !consul

package cluster

import protocluster "github.com/asynkron/protoactor-go/cluster"

func newConsulProvider(Membership) (protocluster.ClusterProvider, error) {
	return nil, errNotBuiltIn("consul")
}
