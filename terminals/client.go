package terminals

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/terminals/tapsig"
)

// WithCredential sends credential as "Authorization: Bearer" on every call.
func WithCredential(credential string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+credential)
			return next(ctx, req)
		}
	}))
}

// Purchase is what a tap buys.
type Purchase struct {
	// ServiceCode from the institution's price list; empty for its default.
	ServiceCode string
	Quantity    uint32
	// Line and Stop where a transport validator is, and the vehicle's
	// Direction (+1 towards the last stop, -1 the first, 0 unknown):
	// needed for check-in/check-out.
	Line, Stop string
	Direction  int32
	// PINVerified: the terminal checked the holder's PIN.
	PINVerified bool
}

// Client sends one terminal's taps.
type Client struct {
	terminalID string
	api        civicardv1connect.TerminalServiceClient
	// key signs every tap when set (a terminal with a registered key).
	key ed25519.PrivateKey
	// attemptsMax bounds how often one tap is sent when the outcome stays
	// unknown; backoff is the pause before the second attempt, doubled after.
	attemptsMax int
	backoff     time.Duration
}

// NewClient returns a client for the terminal terminalID at the gateway at
// baseURL (e.g. "http://127.0.0.1:8080").
func NewClient(httpClient connect.HTTPClient, baseURL, terminalID, credential string, opts ...connect.ClientOption) *Client {
	opts = append([]connect.ClientOption{WithCredential(credential)}, opts...)
	return &Client{
		terminalID:  terminalID,
		api:         civicardv1connect.NewTerminalServiceClient(httpClient, baseURL, opts...),
		attemptsMax: 3,
		backoff:     50 * time.Millisecond,
	}
}

// NewSigningClient returns a client for the terminal terminalID that signs
// every tap with key, whose public half the registry holds; it sends no
// bearer credential.
func NewSigningClient(httpClient connect.HTTPClient, baseURL, terminalID string, key ed25519.PrivateKey, opts ...connect.ClientOption) *Client {
	return &Client{
		terminalID:  terminalID,
		api:         civicardv1connect.NewTerminalServiceClient(httpClient, baseURL, opts...),
		key:         key,
		attemptsMax: 3,
		backoff:     50 * time.Millisecond,
	}
}

// Tap reports card presented at time at, under the terminal's sequence
// number. It resends the same tap while the outcome is unknown, at most
// attemptsMax times or until ctx ends.
func (c *Client) Tap(ctx context.Context, sequence uint64, cardID string, buy Purchase, at time.Time) (*civicardv1.TapResponse, error) {
	return c.Send(ctx, c.Build(sequence, cardID, buy, at))
}

// Build returns the tap, signed when the client has a key.
func (c *Client) Build(sequence uint64, cardID string, buy Purchase, at time.Time) *civicardv1.TapRequest {
	req := &civicardv1.TapRequest{
		TerminalId:  c.terminalID,
		Sequence:    sequence,
		CardId:      cardID,
		TimeUnixMs:  at.UnixMilli(),
		ServiceCode: buy.ServiceCode,
		Quantity:    buy.Quantity,
		Line:        buy.Line,
		Stop:        buy.Stop,
		Direction:   buy.Direction,
		PinVerified: buy.PINVerified,
	}
	if c.key != nil {
		tapsig.Sign(c.key, req)
	}
	return req
}

// Send sends a tap built by Build, again while the outcome is unknown, at
// most attemptsMax times or until ctx ends.
func (c *Client) Send(ctx context.Context, req *civicardv1.TapRequest) (*civicardv1.TapResponse, error) {
	return c.SendAttempts(ctx, req, c.attemptsMax)
}

// SendAttempts is Send with its own bound on attempts (at least 1): a
// terminal that knows the gateway is down tries once before deciding
// offline.
func (c *Client) SendAttempts(ctx context.Context, req *civicardv1.TapRequest, attemptsMax int) (*civicardv1.TapResponse, error) {
	sequence := req.GetSequence()
	pause := c.backoff
	attemptsMax = max(attemptsMax, 1)
	var err error
	for attempt := 1; attempt <= attemptsMax; attempt++ {
		var res *connect.Response[civicardv1.TapResponse]
		res, err = c.api.Tap(ctx, connect.NewRequest(req))
		if err == nil {
			return res.Msg, nil
		}
		if !OutcomeUnknown(err) || attempt == attemptsMax {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("tap %s/%d: %w (last answer: %w)", c.terminalID, sequence, ctx.Err(), err)
		case <-time.After(pause):
		}
		pause *= 2
	}
	return nil, fmt.Errorf("tap %s/%d: %w", c.terminalID, sequence, err)
}

// UploadOfflineTaps sends taps accepted offline (built by Build, in
// sequence order) and returns one answer per tap. A failure leaves the
// outcome of every tap unknown: send the same batch again.
func (c *Client) UploadOfflineTaps(ctx context.Context, taps []*civicardv1.TapRequest) ([]*civicardv1.TapResponse, error) {
	res, err := c.api.UploadOfflineTaps(ctx, connect.NewRequest(&civicardv1.UploadOfflineTapsRequest{TerminalId: c.terminalID, Taps: taps}))
	if err != nil {
		return nil, fmt.Errorf("upload %d offline taps of %s: %w", len(taps), c.terminalID, err)
	}
	if n := len(res.Msg.GetResults()); n != len(taps) {
		return nil, fmt.Errorf("upload %d offline taps of %s: %d answers", len(taps), c.terminalID, n)
	}
	return res.Msg.GetResults(), nil
}

// Denylist asks for the blocked cards unless known is the current version.
func (c *Client) Denylist(ctx context.Context, known string, now time.Time) (*civicardv1.GetDenylistResponse, error) {
	req := &civicardv1.GetDenylistRequest{TerminalId: c.terminalID, KnownVersion: known, TimeUnixMs: now.UnixMilli()}
	if c.key != nil {
		tapsig.SignDenylist(c.key, req)
	}
	res, err := c.api.GetDenylist(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fmt.Errorf("denylist of %s: %w", c.terminalID, err)
	}
	return res.Msg, nil
}

// Tariff asks for the price list of the terminal's institution, unless
// known is its current version.
func (c *Client) Tariff(ctx context.Context, known string, now time.Time) (*civicardv1.GetTariffResponse, error) {
	req := &civicardv1.GetTariffRequest{TerminalId: c.terminalID, KnownVersion: known, TimeUnixMs: now.UnixMilli()}
	if c.key != nil {
		tapsig.SignTariff(c.key, req)
	}
	res, err := c.api.GetTariff(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fmt.Errorf("tariff of %s: %w", c.terminalID, err)
	}
	return res.Msg, nil
}

// OutcomeUnknown reports whether err leaves open whether the tap was
// settled, so that sending it again (same sequence) is the right thing.
func OutcomeUnknown(err error) bool {
	var connectErr *connect.Error
	if !errors.As(err, &connectErr) {
		return true // transport failure: the request may have arrived
	}
	switch connectErr.Code() {
	// Canceled too: a gateway stopping under a request, or the caller
	// giving up, says nothing of whether the tap was settled.
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeUnknown, connect.CodeAborted, connect.CodeCanceled:
		return true
	}
	return false
}
