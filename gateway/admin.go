package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
)

type adminService struct{ gw *Gateway }

var _ civicardv1connect.AdminServiceHandler = adminService{}

func (s adminService) GetNode(_ context.Context, req *connect.Request[civicardv1.GetNodeRequest]) (*connect.Response[civicardv1.GetNodeResponse], error) {
	return connect.NewResponse(s.gw.cfg.Describe(req.Msg.GetWithDigests())), nil
}

// NodeAdmin changes and lists a multi-node cluster's nodes (the embedded
// node has none). An error of a request that was understood and refused
// (an unknown node, a step out of order) has a method Refused() bool that
// returns true; the caller sees FAILED_PRECONDITION with the reason. Any
// other error means the cluster could not be asked (UNAVAILABLE, retry).
type NodeAdmin interface {
	ListNodes(ctx context.Context) (*civicardv1.ListNodesResponse, error)
	AddNode(ctx context.Context, node *civicardv1.ClusterNodeInfo) (*civicardv1.ClusterNodeInfo, error)
	DrainNode(ctx context.Context, name string) (*civicardv1.ClusterNodeInfo, error)
	RemoveNode(ctx context.Context, name string) (*civicardv1.ClusterNodeInfo, error)
}

func (s adminService) nodes(header http.Header) (NodeAdmin, error) {
	if s.gw.cfg.Nodes == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this node is not part of a multi-node cluster"))
	}
	return s.gw.cfg.Nodes, nil
}

func (s adminService) ListNodes(ctx context.Context, req *connect.Request[civicardv1.ListNodesRequest]) (*connect.Response[civicardv1.ListNodesResponse], error) {
	nodes, err := s.nodes(req.Header())
	if err != nil {
		return nil, err
	}
	res, err := nodes.ListNodes(ctx)
	return answerNode(res, err)
}

func (s adminService) AddNode(ctx context.Context, req *connect.Request[civicardv1.AddNodeRequest]) (*connect.Response[civicardv1.ClusterNodeInfo], error) {
	nodes, err := s.nodes(req.Header())
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if err := checkNodeName(m.GetName()); err != nil {
		return nil, err
	}
	for _, addr := range []string{m.GetActorAddr(), m.GetRaftAddr()} {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" || port == "0" {
			return nil, invalid("address %q: want host:port", addr)
		}
	}
	res, err := nodes.AddNode(ctx, &civicardv1.ClusterNodeInfo{Name: m.GetName(), ActorAddr: m.GetActorAddr(), RaftAddr: m.GetRaftAddr()})
	return answerNode(res, err)
}

func (s adminService) DrainNode(ctx context.Context, req *connect.Request[civicardv1.DrainNodeRequest]) (*connect.Response[civicardv1.ClusterNodeInfo], error) {
	nodes, err := s.nodes(req.Header())
	if err != nil {
		return nil, err
	}
	if err := checkNodeName(req.Msg.GetName()); err != nil {
		return nil, err
	}
	res, err := nodes.DrainNode(ctx, req.Msg.GetName())
	return answerNode(res, err)
}

func (s adminService) RemoveNode(ctx context.Context, req *connect.Request[civicardv1.RemoveNodeRequest]) (*connect.Response[civicardv1.ClusterNodeInfo], error) {
	nodes, err := s.nodes(req.Header())
	if err != nil {
		return nil, err
	}
	if err := checkNodeName(req.Msg.GetName()); err != nil {
		return nil, err
	}
	res, err := nodes.RemoveNode(ctx, req.Msg.GetName())
	return answerNode(res, err)
}

// nodeNameBytesMax is the longest node name (the ledger's bound).
const nodeNameBytesMax = 32

func checkNodeName(name string) error {
	if name == "" || len(name) > nodeNameBytesMax || strings.ContainsAny(name, "/=, ") || !utf8.ValidString(name) {
		return invalid("node name %q: 1-%d bytes of UTF-8, no '/', '=', ',' or spaces", name, nodeNameBytesMax)
	}
	return nil
}

func answerNode[T any](res *T, err error) (*connect.Response[T], error) {
	var refusal interface{ Refused() bool }
	switch {
	case errors.As(err, &refusal) && refusal.Refused():
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	case err != nil:
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("the cluster did not answer, retry: %w", err))
	}
	return connect.NewResponse(res), nil
}
