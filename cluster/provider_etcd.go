//go:build etcd

package cluster

import (
	"fmt"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdDialTimeout bounds the first connection to etcd.
const etcdDialTimeout = 5 * time.Second

func newEtcdProvider(m Membership) (protocluster.ClusterProvider, error) {
	// Every civicard cluster is named "civicard"; the members' keys live
	// under this prefix.
	p, err := etcd.NewWithConfig("/civicard", clientv3.Config{Endpoints: m.EtcdEndpoints, DialTimeout: etcdDialTimeout})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd membership at %v: %w", m.EtcdEndpoints, err)
	}
	return p, nil
}
