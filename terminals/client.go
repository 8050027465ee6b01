package terminals

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
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
}

// Client sends one terminal's taps.
type Client struct {
	terminalID string
	api        civicardv1connect.TerminalServiceClient
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

// Tap reports card presented at time at, under the terminal's sequence
// number. It resends the same tap while the outcome is unknown, at most
// attemptsMax times or until ctx ends.
func (c *Client) Tap(ctx context.Context, sequence uint64, cardID string, buy Purchase, at time.Time) (*civicardv1.TapResponse, error) {
	req := &civicardv1.TapRequest{
		TerminalId:  c.terminalID,
		Sequence:    sequence,
		CardId:      cardID,
		TimeUnixMs:  at.UnixMilli(),
		ServiceCode: buy.ServiceCode,
		Quantity:    buy.Quantity,
	}
	pause := c.backoff
	var err error
	for attempt := 1; attempt <= c.attemptsMax; attempt++ {
		var res *connect.Response[civicardv1.TapResponse]
		res, err = c.api.Tap(ctx, connect.NewRequest(req))
		if err == nil {
			return res.Msg, nil
		}
		if !OutcomeUnknown(err) || attempt == c.attemptsMax {
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

// OutcomeUnknown reports whether err leaves open whether the tap was
// settled, so that sending it again (same sequence) is the right thing.
func OutcomeUnknown(err error) bool {
	var connectErr *connect.Error
	if !errors.As(err, &connectErr) {
		return true // transport failure: the request may have arrived
	}
	switch connectErr.Code() {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeUnknown, connect.CodeAborted:
		return true
	}
	return false
}
