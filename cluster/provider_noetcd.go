//go:build !etcd

package cluster

import protocluster "github.com/asynkron/protoactor-go/cluster"

func newEtcdProvider(Membership) (protocluster.ClusterProvider, error) {
	return nil, errNotBuiltIn("etcd")
}
