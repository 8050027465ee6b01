package station

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/terminals"
	"civicard/terminals/cardapp"
)

// PINPad is the keypad of a desk or a point of sale: the holder types the
// card's PIN there when a payment is over the e-purse's no-PIN limit. A
// validator on a bus has none (Deps.PINPad nil): such a payment is declined
// with the reason, to be made at a desk.
type PINPad interface {
	// ReadPIN asks the holder of cardID at reader for the PIN of a payment
	// and waits for it until ctx ends.
	ReadPIN(ctx context.Context, reader, cardID string) (string, error)
}

// pinWaitMax bounds how long a card waits on the reader for its PIN.
const pinWaitMax = 30 * time.Second

// withPIN answers a tap the gateway declined for want of a PIN: the holder
// types it, the card checks it (VERIFY), and the payment is made again as a
// new tap (its own sequence number) marked PIN verified. The declined tap
// stays recorded as declined.
func (s *Station) withPIN(ctx context.Context, out Outcome, card cardapp.Transmitter, declined *civicardv1.TapRequest) Outcome {
	pinCtx, cancel := context.WithTimeout(ctx, pinWaitMax)
	pin, err := s.deps.PINPad.ReadPIN(pinCtx, out.Reader, out.CardID)
	cancel()
	if err != nil {
		out.Result, out.Reason = Failed, "no PIN entered: "+err.Error()
		return out
	}
	var wrong *cardapp.ErrWrongPIN
	switch err := cardapp.VerifyPIN(card, pin); {
	case errors.As(err, &wrong):
		out.Result, out.Reason = Declined, wrong.Error()
		s.metrics.refused.WithLabelValues("wrong_pin").Inc()
		return out
	case err != nil:
		out.Result, out.Reason = Failed, "card gone: "+err.Error()
		return out
	}
	seq, err := s.seq.Next()
	if err != nil {
		out.Result, out.Reason = Failed, err.Error()
		return out
	}
	out.Sequence = seq
	req := s.client.Build(seq, out.CardID, terminals.Purchase{
		ServiceCode: declined.GetServiceCode(), Quantity: declined.GetQuantity(),
		Line: declined.GetLine(), Stop: declined.GetStop(), Direction: declined.GetDirection(),
		PINVerified: true,
	}, s.deps.Now())
	return s.send(ctx, out, req)
}

// LinePINPad reads PINs as lines from a keypad that types them (a USB
// keypad, a serial PIN pad's driver, a terminal's stdin), and prompts on
// out. One PIN is asked for at a time.
type LinePINPad struct {
	mu    sync.Mutex
	out   io.Writer
	lines chan string
}

// NewLinePINPad reads lines from in until it ends.
func NewLinePINPad(in io.Reader, out io.Writer) *LinePINPad {
	p := &LinePINPad{out: out, lines: make(chan string)}
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			p.lines <- strings.TrimSpace(sc.Text())
		}
		close(p.lines)
	}()
	return p
}

// ReadPIN prints "PIN? reader=... card=..." and returns the next line typed.
func (p *LinePINPad) ReadPIN(ctx context.Context, reader, cardID string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "PIN? reader=%q card=%s\n", reader, cardID)
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case line, ok := <-p.lines:
		if !ok {
			return "", io.EOF
		}
		return line, nil
	}
}
