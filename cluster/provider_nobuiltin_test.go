//go:build !consul && !etcd && !k8s

package cluster

import (
	"strings"
	"testing"
	"time"
)

// A binary built without a provider's tag says how to build one with it.
func TestNewProviderNotBuiltIn(t *testing.T) {
	for _, provider := range []string{MembershipConsul, MembershipEtcd, MembershipKubernetes} {
		m := DefaultMembership()
		m.Provider = provider
		_, err := newProvider(m, time.Second, 7102, nil)
		if err == nil || !strings.Contains(err.Error(), "-tags "+provider) {
			t.Errorf("%s: %v, want the build tag to use", provider, err)
		}
	}
}
