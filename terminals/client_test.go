package terminals

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
)

// gateway answers taps with a scripted list of errors, then accepts.
type gateway struct {
	civicardv1connect.UnimplementedTerminalServiceHandler
	mu       sync.Mutex
	failures []error
	seen     []*civicardv1.TapRequest
	auth     []string
}

func (g *gateway) Tap(_ context.Context, req *connect.Request[civicardv1.TapRequest]) (*connect.Response[civicardv1.TapResponse], error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen = append(g.seen, req.Msg)
	g.auth = append(g.auth, req.Header().Get("Authorization"))
	if len(g.failures) > 0 {
		err := g.failures[0]
		g.failures = g.failures[1:]
		return nil, err
	}
	return connect.NewResponse(&civicardv1.TapResponse{Result: civicardv1.TapResult_TAP_RESULT_ACCEPTED, TransactionId: "tap/T-1/7"}), nil
}

func serve(t *testing.T, g *gateway) *Client {
	t.Helper()
	_, handler := civicardv1connect.NewTerminalServiceHandler(g)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c := NewClient(srv.Client(), srv.URL, "T-1", "secret")
	c.backoff = time.Millisecond
	return c
}

func TestTapResendsTheSameTapWhileTheOutcomeIsUnknown(t *testing.T) {
	g := &gateway{failures: []error{
		connect.NewError(connect.CodeUnavailable, errors.New("leader changed")),
		connect.NewError(connect.CodeDeadlineExceeded, errors.New("slow")),
	}}
	res, err := serve(t, g).Tap(context.Background(), 7, "320000000018", Purchase{ServiceCode: "RIDE-20MIN"}, time.UnixMilli(1_700_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if res.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED {
		t.Fatalf("answer %v", res)
	}
	if len(g.seen) != 3 {
		t.Fatalf("sent %d times, want 3", len(g.seen))
	}
	for i, req := range g.seen {
		if req.GetSequence() != 7 || req.GetTerminalId() != "T-1" || req.GetTimeUnixMs() != 1_700_000_000_000 || req.GetServiceCode() != "RIDE-20MIN" {
			t.Errorf("attempt %d sent %v, want the same tap", i, req)
		}
		if g.auth[i] != "Bearer secret" {
			t.Errorf("attempt %d Authorization %q", i, g.auth[i])
		}
	}
}

func TestTapDoesNotResendARefusal(t *testing.T) {
	g := &gateway{failures: []error{connect.NewError(connect.CodeInvalidArgument, errors.New("bad card number"))}}
	_, err := serve(t, g).Tap(context.Background(), 1, "1", Purchase{}, time.Now())
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("err = %v, want invalid_argument", err)
	}
	if len(g.seen) != 1 {
		t.Fatalf("sent %d times, want 1", len(g.seen))
	}
}

func TestTapGivesUpAfterAttemptsMax(t *testing.T) {
	unavailable := connect.NewError(connect.CodeUnavailable, errors.New("down"))
	g := &gateway{failures: []error{unavailable, unavailable, unavailable, unavailable}}
	_, err := serve(t, g).Tap(context.Background(), 1, "1", Purchase{}, time.Now())
	if connect.CodeOf(err) != connect.CodeUnavailable || !OutcomeUnknown(err) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if len(g.seen) != 3 {
		t.Fatalf("sent %d times, want 3", len(g.seen))
	}
}
