//go:build !k8s

package cluster

import protocluster "github.com/asynkron/protoactor-go/cluster"

func newKubernetesProvider(Membership) (protocluster.ClusterProvider, error) {
	return nil, errNotBuiltIn("k8s")
}
