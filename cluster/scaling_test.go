package cluster

import (
	"testing"

	ledgerv1 "civicard/messages/ledger/v1"
)

// A node stops reporting ready once the node list says it drains, so a
// load balancer stops sending it clients before it goes.
func TestScalerReadyFollowsTheNodeStatus(t *testing.T) {
	for _, tc := range []struct {
		status ledgerv1.NodeStatus
		ready  bool
	}{
		{ledgerv1.NodeStatus_NODE_STATUS_UNSPECIFIED, true}, // not listed yet
		{ledgerv1.NodeStatus_NODE_STATUS_ACTIVE, true},
		{ledgerv1.NodeStatus_NODE_STATUS_DRAINING, false},
		{ledgerv1.NodeStatus_NODE_STATUS_REMOVED, false},
	} {
		s := &scaler{name: "n2", haveView: true, view: clusterView{nodes: []*ledgerv1.ClusterNode{
			{Name: "n1", Status: ledgerv1.NodeStatus_NODE_STATUS_ACTIVE},
			{Name: "n2", Status: tc.status},
		}}}
		if err := s.ready(); (err == nil) != tc.ready {
			t.Errorf("%v: ready() = %v, want ready %v", tc.status, err, tc.ready)
		}
	}
}
