package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
)

// fakeNodes records what reaches the cluster and answers with err.
type fakeNodes struct {
	added []*civicardv1.ClusterNodeInfo
	err   error
}

func (f *fakeNodes) ListNodes(context.Context) (*civicardv1.ListNodesResponse, error) {
	return &civicardv1.ListNodesResponse{}, f.err
}

func (f *fakeNodes) AddNode(_ context.Context, n *civicardv1.ClusterNodeInfo) (*civicardv1.ClusterNodeInfo, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.added = append(f.added, n)
	return n, nil
}

func (f *fakeNodes) DrainNode(_ context.Context, name string) (*civicardv1.ClusterNodeInfo, error) {
	return &civicardv1.ClusterNodeInfo{Name: name}, f.err
}

func (f *fakeNodes) RemoveNode(_ context.Context, name string) (*civicardv1.ClusterNodeInfo, error) {
	return &civicardv1.ClusterNodeInfo{Name: name}, f.err
}

type refusal struct{}

func (refusal) Error() string { return "node n9 is not listed" }
func (refusal) Refused() bool { return true }

// AddNode checks the request's shape before the cluster sees it, and maps
// the cluster's answers: a refusal is FAILED_PRECONDITION with its reason,
// any other failure UNAVAILABLE.
func TestAdminAddNode(t *testing.T) {
	const token = "operator-token-0123456789"
	valid := func() *civicardv1.AddNodeRequest {
		return &civicardv1.AddNodeRequest{Name: "n4", ActorAddr: "127.0.0.1:7140", RaftAddr: "127.0.0.1:7240"}
	}
	for _, tc := range []struct {
		name    string
		mutate  func(*civicardv1.AddNodeRequest)
		cluster error
		code    connect.Code // 0: accepted
		want    string
	}{
		{"valid", func(*civicardv1.AddNodeRequest) {}, nil, 0, ""},
		{"no name", func(r *civicardv1.AddNodeRequest) { r.Name = "" }, nil, connect.CodeInvalidArgument, "node name"},
		{"name with a comma", func(r *civicardv1.AddNodeRequest) { r.Name = "n4,n5" }, nil, connect.CodeInvalidArgument, "node name"},
		{"long name", func(r *civicardv1.AddNodeRequest) { r.Name = strings.Repeat("n", 33) }, nil, connect.CodeInvalidArgument, "node name"},
		{"no port", func(r *civicardv1.AddNodeRequest) { r.ActorAddr = "127.0.0.1" }, nil, connect.CodeInvalidArgument, "host:port"},
		{"port 0", func(r *civicardv1.AddNodeRequest) { r.RaftAddr = "127.0.0.1:0" }, nil, connect.CodeInvalidArgument, "host:port"},
		{"refused", func(*civicardv1.AddNodeRequest) {}, refusal{}, connect.CodeFailedPrecondition, "not listed"},
		{"cluster unreachable", func(*civicardv1.AddNodeRequest) {}, errors.New("no leader"), connect.CodeUnavailable, "retry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := &fakeNodes{err: tc.cluster}
			svc := adminService{gw: &Gateway{cfg: Config{OperatorToken: token, Nodes: nodes}}}
			req := valid()
			tc.mutate(req)
			creq := connect.NewRequest(req)
			creq.Header().Set("Authorization", "Bearer "+token)
			res, err := svc.AddNode(context.Background(), creq)
			if tc.code == 0 {
				if err != nil || res.Msg.GetName() != "n4" || len(nodes.added) != 1 {
					t.Fatalf("AddNode = %v, %v; cluster saw %v", res, err, nodes.added)
				}
				return
			}
			if connect.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.code, tc.want)
			}
			if len(nodes.added) != 0 {
				t.Fatalf("the cluster saw %v", nodes.added)
			}
		})
	}
	// The credential is checked before the service, by the role table
	// (TestRoleTable).
}
