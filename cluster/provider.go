package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
)

// The membership providers a node can use. Only automanaged needs no
// service of its own and is always built in; each of the others links a
// client library of its service (about 165 modules and 35 MB of binary
// for the three), so it is built in only with the build tag of its name,
// e.g. `go build -tags consul ./cmd/civicard` (provider_*.go).
const (
	// MembershipAutomanaged polls every peer's health endpoint (actor port
	// + 1): a static list, no service to run.
	MembershipAutomanaged = "automanaged"
	// MembershipConsul registers with a Consul agent and watches its
	// catalogue.
	MembershipConsul = "consul"
	// MembershipEtcd keeps a leased key in etcd and watches the others'.
	MembershipEtcd = "etcd"
	// MembershipKubernetes labels this pod and watches the pods of the
	// cluster (needs RBAC get, list, watch and patch on pods).
	MembershipKubernetes = "k8s"
)

// Membership says how a node finds the other members of its cluster. The
// Raft groups do not depend on it: they always use Peers.
type Membership struct {
	// Provider is one of the Membership* names; empty means automanaged.
	Provider string
	// ConsulAddress is the Consul agent's HTTP address (host:port).
	ConsulAddress string
	// EtcdEndpoints are the etcd cluster's client addresses (host:port).
	EtcdEndpoints []string
	// KubernetesAPI is the Kubernetes API server's URL; empty means the
	// pod's in-cluster configuration.
	KubernetesAPI string
}

// DefaultMembership is automanaged, with the other providers' services
// expected on this machine's default ports should one be chosen.
func DefaultMembership() Membership {
	return Membership{
		Provider:      MembershipAutomanaged,
		ConsulAddress: "127.0.0.1:8500",
		EtcdEndpoints: []string{"127.0.0.1:2379"},
	}
}

// MembershipProviders are the names Membership.Provider accepts.
func MembershipProviders() []string {
	return []string{MembershipAutomanaged, MembershipConsul, MembershipEtcd, MembershipKubernetes}
}

// etcdEndpointsMax bounds the endpoint list.
const etcdEndpointsMax = 64

func (m Membership) validate() error {
	switch m.Provider {
	case "", MembershipAutomanaged, MembershipKubernetes:
	case MembershipConsul:
		if m.ConsulAddress == "" {
			return errors.New("cluster: membership consul needs the agent's address")
		}
	case MembershipEtcd:
		if len(m.EtcdEndpoints) == 0 || len(m.EtcdEndpoints) > etcdEndpointsMax || slices.Contains(m.EtcdEndpoints, "") {
			return fmt.Errorf("cluster: membership etcd needs 1-%d endpoints, got %q", etcdEndpointsMax, m.EtcdEndpoints)
		}
	default:
		return fmt.Errorf("cluster: membership provider %q, want one of %s", m.Provider, strings.Join(MembershipProviders(), ", "))
	}
	return nil
}

// newProvider makes the membership provider of m. Automanaged polls hosts
// every refresh and answers on healthPort.
func newProvider(m Membership, refresh time.Duration, healthPort int, hosts []string) (protocluster.ClusterProvider, error) {
	switch m.Provider {
	case MembershipConsul:
		return newConsulProvider(m)
	case MembershipEtcd:
		return newEtcdProvider(m)
	case MembershipKubernetes:
		return newKubernetesProvider(m)
	default:
		return automanaged.NewWithConfig(refresh, healthPort, hosts...), nil
	}
}

// errNotBuiltIn is the answer of a provider this binary was built without.
func errNotBuiltIn(provider string) error {
	return fmt.Errorf("cluster: membership provider %q is not built into this binary: build it with `go build -tags %s ./cmd/civicard`", provider, provider)
}
