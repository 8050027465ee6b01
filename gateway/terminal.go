package gateway

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"

	"civicard/actors"
	"civicard/cardno"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	grainsv1 "civicard/messages/grains/v1"
)

// Limits on the shape of a tap.
const (
	terminalIDBytesMax  = 64
	serviceCodeBytesMax = 32
)

type terminalService struct{ gw *Gateway }

var _ civicardv1connect.TerminalServiceHandler = terminalService{}

func (s terminalService) Tap(ctx context.Context, req *connect.Request[civicardv1.TapRequest]) (*connect.Response[civicardv1.TapResponse], error) {
	start := time.Now()
	answer, err := s.tap(ctx, req)
	result := "error"
	switch {
	case err != nil:
	case answer.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED:
		result = "accepted"
	default:
		result = "declined"
	}
	s.gw.metrics.observeTap(start, result)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(answer), nil
}

func (s terminalService) tap(ctx context.Context, req *connect.Request[civicardv1.TapRequest]) (*civicardv1.TapResponse, error) {
	credential, ok := bearer(req.Header().Get("Authorization"))
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("missing terminal credential (Authorization: Bearer ...)"))
	}
	tap := req.Msg
	if err := validateTap(tap); err != nil {
		return nil, err
	}
	res, err := grainsv1.GetTerminalGrainClient(s.gw.cluster, tap.GetTerminalId()).
		Tap(&grainsv1.TerminalTap{Tap: tap, Credential: credential}, actors.CallOptions(ctx, s.gw.cfg.TapTimeout)...)
	if err != nil {
		return nil, fromGrain(err)
	}
	return res, nil
}

func validateTap(tap *civicardv1.TapRequest) error {
	switch id := tap.GetTerminalId(); {
	case id == "":
		return invalid("terminal_id is required")
	case len(id) > terminalIDBytesMax:
		return invalid("terminal_id longer than %d bytes", terminalIDBytesMax)
	}
	if tap.GetSequence() == 0 {
		return invalid("sequence is required and starts at 1")
	}
	if err := cardno.Valid(tap.GetCardId()); err != nil {
		return invalid("card_id: %v", err)
	}
	if tap.GetTimeUnixMs() <= 0 {
		return invalid("time_unix_ms is required")
	}
	if len(tap.GetServiceCode()) > serviceCodeBytesMax {
		return invalid("service_code longer than %d bytes", serviceCodeBytesMax)
	}
	return nil
}

// bearer extracts the credential of an "Authorization: Bearer X" header.
func bearer(header string) (string, bool) {
	scheme, credential, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	credential = strings.TrimSpace(credential)
	return credential, credential != ""
}
