package gateway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"civicard/actors"
	"civicard/domain/cardno"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	grainsv1 "civicard/messages/grains/v1"
)

// Limits on the shape of a tap.
const (
	terminalIDBytesMax  = 64
	serviceCodeBytesMax = 32
	lineBytesMax        = 32
	stopBytesMax        = 64
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
	// A signed tap is checked against the terminal's registered key by its
	// grain; an unsigned one needs the terminal's bearer credential.
	credential, ok := bearer(req.Header().Get("Authorization"))
	if !ok && len(req.Msg.GetSignature()) == 0 {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("missing terminal credential (Authorization: Bearer ...) or signature"))
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

// GetDenylist passes a terminal's request for the blocked cards to its grain.
func (s terminalService) GetDenylist(ctx context.Context, req *connect.Request[civicardv1.GetDenylistRequest]) (*connect.Response[civicardv1.GetDenylistResponse], error) {
	credential, err := checkVersioned(req.Header(), req.Msg)
	if err != nil {
		return nil, err
	}
	return answer(grainsv1.GetTerminalGrainClient(s.gw.cluster, req.Msg.GetTerminalId()).
		Denylist(&grainsv1.TerminalDenylist{Request: req.Msg, Credential: credential}, actors.CallOptions(ctx, s.gw.cfg.RequestTimeout)...))
}

// GetTariff passes a terminal's request for its price list to its grain.
func (s terminalService) GetTariff(ctx context.Context, req *connect.Request[civicardv1.GetTariffRequest]) (*connect.Response[civicardv1.GetTariffResponse], error) {
	credential, err := checkVersioned(req.Header(), req.Msg)
	if err != nil {
		return nil, err
	}
	return answer(grainsv1.GetTerminalGrainClient(s.gw.cluster, req.Msg.GetTerminalId()).
		Tariff(&grainsv1.TerminalTariffRequest{Request: req.Msg, Credential: credential}, actors.CallOptions(ctx, s.gw.cfg.RequestTimeout)...))
}

// versionedRequest is a terminal's request for a list it keeps by version.
type versionedRequest interface {
	GetTerminalId() string
	GetKnownVersion() string
	GetSignature() []byte
}

// checkVersioned checks the shape of a versioned request and returns the
// bearer credential it came with, if any: a request needs a credential or a
// signature (which the terminal's grain verifies).
func checkVersioned(header http.Header, req versionedRequest) (string, error) {
	credential, ok := bearer(header.Get("Authorization"))
	if !ok && len(req.GetSignature()) == 0 {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("missing terminal credential (Authorization: Bearer ...) or signature"))
	}
	switch id := req.GetTerminalId(); {
	case id == "":
		return "", invalid("terminal_id is required")
	case len(id) > terminalIDBytesMax:
		return "", invalid("terminal_id longer than %d bytes", terminalIDBytesMax)
	case len(req.GetKnownVersion()) > requestIDBytesMax:
		return "", invalid("known_version longer than %d bytes", requestIDBytesMax)
	}
	return credential, nil
}

// offlineBatchMax bounds the taps of one UploadOfflineTaps call.
const offlineBatchMax = 100

// UploadOfflineTaps settles a batch of offline taps one by one, in order,
// through the terminal's grain. Any error ends the batch: the terminal sends
// it again, and the taps already settled answer as the first time.
func (s terminalService) UploadOfflineTaps(ctx context.Context, req *connect.Request[civicardv1.UploadOfflineTapsRequest]) (*connect.Response[civicardv1.UploadOfflineTapsResponse], error) {
	credential, _ := bearer(req.Header().Get("Authorization"))
	taps := req.Msg.GetTaps()
	switch {
	case len(taps) == 0:
		return nil, invalid("taps: none")
	case len(taps) > offlineBatchMax:
		return nil, invalid("taps: %d, at most %d per call", len(taps), offlineBatchMax)
	}
	for i, tap := range taps {
		if err := validateTap(tap); err != nil {
			return nil, err
		}
		if tap.GetTerminalId() != req.Msg.GetTerminalId() {
			return nil, invalid("taps[%d]: terminal_id %q in a batch of %q", i, tap.GetTerminalId(), req.Msg.GetTerminalId())
		}
		if i > 0 && tap.GetSequence() <= taps[i-1].GetSequence() {
			return nil, invalid("taps[%d]: sequence %d after %d; want increasing", i, tap.GetSequence(), taps[i-1].GetSequence())
		}
		if credential == "" && len(tap.GetSignature()) == 0 {
			return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("missing terminal credential (Authorization: Bearer ...) or signature"))
		}
	}
	grain := grainsv1.GetTerminalGrainClient(s.gw.cluster, req.Msg.GetTerminalId())
	out := &civicardv1.UploadOfflineTapsResponse{Results: make([]*civicardv1.TapResponse, 0, len(taps))}
	for _, tap := range taps {
		start := time.Now()
		res, err := grain.Tap(&grainsv1.TerminalTap{Tap: tap, Credential: credential, Offline: true}, actors.CallOptions(ctx, s.gw.cfg.TapTimeout)...)
		if err != nil {
			s.gw.metrics.observeTap(start, "error")
			return nil, fromGrain(err)
		}
		s.gw.metrics.observeTap(start, "offline")
		out.Results = append(out.Results, res)
	}
	return connect.NewResponse(out), nil
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
	if len(tap.GetLine()) > lineBytesMax {
		return invalid("line longer than %d bytes", lineBytesMax)
	}
	if len(tap.GetStop()) > stopBytesMax {
		return invalid("stop longer than %d bytes", stopBytesMax)
	}
	if d := tap.GetDirection(); d < -1 || d > 1 {
		return invalid("direction %d: want -1, 0 or 1", d)
	}
	if n := len(tap.GetSignature()); n != 0 && n != ed25519.SignatureSize {
		return invalid("signature is %d bytes, an ed25519 signature %d", n, ed25519.SignatureSize)
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
