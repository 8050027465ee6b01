package gateway

import (
	"context"
	"crypto/ed25519"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"civicard/actors"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	grainsv1 "civicard/messages/grains/v1"
)

// registryService registers terminals' public keys and revokes terminals,
// for operators, through the terminal's grain.
type registryService struct{ gw *Gateway }

var _ civicardv1connect.TerminalRegistryServiceHandler = registryService{}

func (s registryService) change(ctx context.Context, header http.Header, terminalID, requestID string, change *grainsv1.ChangeTerminal) (*civicardv1.Terminal, error) {
	switch {
	case terminalID == "":
		return nil, invalid("terminal_id is required")
	case len(terminalID) > terminalIDBytesMax:
		return nil, invalid("terminal_id longer than %d bytes", terminalIDBytesMax)
	case requestID == "":
		return nil, invalid("request_id is required")
	case len(requestID) > requestIDBytesMax:
		return nil, invalid("request_id longer than %d bytes", requestIDBytesMax)
	}
	change.RequestId = terminalID + "/" + requestID
	res, err := grainsv1.GetTerminalGrainClient(s.gw.cluster, terminalID).
		Change(change, actors.CallOptions(ctx, s.gw.cfg.RequestTimeout)...)
	if err != nil {
		return nil, fromGrain(err)
	}
	return withoutCredential(res.GetTerminal()), nil
}

// withoutCredential is a terminal record fit for an answer: the digest of
// its bearer credential stays inside (an unsalted SHA-256 of a credential
// can be guessed offline).
func withoutCredential(t *civicardv1.Terminal) *civicardv1.Terminal {
	if t == nil {
		return nil
	}
	out := proto.CloneOf(t)
	out.CredentialSha256 = nil
	return out
}

func (s registryService) RegisterTerminalKey(ctx context.Context, req *connect.Request[civicardv1.RegisterTerminalKeyRequest]) (*connect.Response[civicardv1.RegisterTerminalKeyResponse], error) {
	if n := len(req.Msg.GetPublicKey()); n != ed25519.PublicKeySize {
		return nil, invalid("public_key is %d bytes, an ed25519 key %d", n, ed25519.PublicKeySize)
	}
	t, err := s.change(ctx, req.Header(), req.Msg.GetTerminalId(), req.Msg.GetRequestId(),
		&grainsv1.ChangeTerminal{Change: &grainsv1.ChangeTerminal_PublicKey{PublicKey: req.Msg.GetPublicKey()}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.RegisterTerminalKeyResponse{Terminal: t}), nil
}

func (s registryService) RevokeTerminal(ctx context.Context, req *connect.Request[civicardv1.RevokeTerminalRequest]) (*connect.Response[civicardv1.RevokeTerminalResponse], error) {
	if len(req.Msg.GetReason()) > blockReasonBytesMax {
		return nil, invalid("reason longer than %d bytes", blockReasonBytesMax)
	}
	t, err := s.change(ctx, req.Header(), req.Msg.GetTerminalId(), req.Msg.GetRequestId(),
		&grainsv1.ChangeTerminal{Change: &grainsv1.ChangeTerminal_RevokeReason{RevokeReason: req.Msg.GetReason()}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.RevokeTerminalResponse{Terminal: t}), nil
}
