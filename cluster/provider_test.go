package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
)

func TestMembershipValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Membership)
		wantErr string
	}{
		{"default", func(*Membership) {}, ""},
		{"empty means automanaged", func(m *Membership) { m.Provider = "" }, ""},
		{"consul", func(m *Membership) { m.Provider = MembershipConsul }, ""},
		{"consul without an agent", func(m *Membership) { m.Provider, m.ConsulAddress = MembershipConsul, "" }, "agent's address"},
		{"etcd", func(m *Membership) { m.Provider = MembershipEtcd }, ""},
		{"etcd without endpoints", func(m *Membership) { m.Provider, m.EtcdEndpoints = MembershipEtcd, nil }, "endpoints"},
		{"etcd with an empty endpoint", func(m *Membership) { m.Provider, m.EtcdEndpoints = MembershipEtcd, []string{"a:1", ""} }, "endpoints"},
		{"k8s in-cluster", func(m *Membership) { m.Provider = MembershipKubernetes }, ""},
		{"unknown", func(m *Membership) { m.Provider = "zk" }, `"zk"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := DefaultMembership()
			tt.change(&m)
			err := m.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("validate = %v, want an error about %s", err, tt.wantErr)
			}
		})
	}
}

func TestNewProviderAutomanagedByDefault(t *testing.T) {
	for _, provider := range []string{"", MembershipAutomanaged} {
		m := DefaultMembership()
		m.Provider = provider
		p, err := newProvider(m, time.Second, 7102, []string{"127.0.0.1:7102"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.(*automanaged.AutoManagedProvider); !ok {
			t.Fatalf("provider %q made a %T", provider, p)
		}
	}
}
