package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
)

type adminService struct{ gw *Gateway }

var _ civicardv1connect.AdminServiceHandler = adminService{}

func (s adminService) GetNode(_ context.Context, req *connect.Request[civicardv1.GetNodeRequest]) (*connect.Response[civicardv1.GetNodeResponse], error) {
	if err := s.gw.operator(req.Header()); err != nil {
		return nil, err
	}
	return connect.NewResponse(s.gw.cfg.Describe(req.Msg.GetWithDigests())), nil
}

// operator checks the operator credential of a request.
func (g *Gateway) operator(header http.Header) error {
	token, ok := bearer(header.Get("Authorization"))
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(g.cfg.OperatorToken)) != 1 {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("missing or wrong operator credential"))
	}
	return nil
}
