//go:build pcsc

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ebfe/scard"

	"civicard/terminals/cardapp"
)

// Reader is one reader, by name, with its own PC/SC context for
// transactions.
type Reader struct {
	name string
	ctx  *scard.Context
}

// OpenReader establishes a context for transactions on the reader name.
func OpenReader(name string) (*Reader, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("pcsc: establish context: %w", err)
	}
	return &Reader{name: name, ctx: ctx}, nil
}

// Name is the reader's PC/SC name.
func (r *Reader) Name() string { return r.name }

// Close releases the reader's context.
func (r *Reader) Close() error { return r.ctx.Release() }

// Connect opens a connection to the card in the reader.
func (r *Reader) Connect() (*Card, error) {
	card, err := r.ctx.Connect(r.name, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		return nil, fmt.Errorf("pcsc: connect %q: %w", r.name, err)
	}
	return &Card{card: card}, nil
}

// Card is a connection to a card; it implements cardapp.Transmitter.
type Card struct{ card *scard.Card }

var _ cardapp.Transmitter = (*Card)(nil)

// Transmit implements cardapp.Transmitter.
func (c *Card) Transmit(command []byte) ([]byte, error) { return c.card.Transmit(command) }

// Close ends the connection and leaves the card powered, as it is.
func (c *Card) Close() error { return c.card.Disconnect(scard.LeaveCard) }

// Readers lists the readers pcscd knows (in no particular order).
func Readers() ([]string, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("pcsc: establish context: %w", err)
	}
	defer ctx.Release()
	names, err := ctx.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	return names, err
}

// Watcher waits for cards to come and go, on a context of its own.
type Watcher struct{ ctx *scard.Context }

// NewWatcher establishes the watching context.
func NewWatcher() (*Watcher, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("pcsc: establish context: %w", err)
	}
	return &Watcher{ctx: ctx}, nil
}

// Close releases the context.
func (w *Watcher) Close() error { return w.ctx.Release() }

// waitSliceMax bounds one GetStatusChange call, so that a lost cancel
// costs at most this long.
const waitSliceMax = time.Second

// Wait blocks until the reader name holds a card (present true) or holds
// none (present false), or ctx ends.
func (w *Watcher) Wait(ctx context.Context, name string, present bool) error {
	stop := context.AfterFunc(ctx, func() { _ = w.ctx.Cancel() })
	defer stop()
	states := []scard.ReaderState{{Reader: name, CurrentState: scard.StateUnaware}}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := w.ctx.GetStatusChange(states, waitSliceMax)
		switch {
		case err == nil:
		case errors.Is(err, scard.ErrTimeout):
			continue
		case errors.Is(err, scard.ErrCancelled):
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		default:
			return fmt.Errorf("pcsc: wait on %q: %w", name, err)
		}
		event := states[0].EventState
		if event&scard.StateUnknown != 0 {
			return fmt.Errorf("pcsc: no reader %q", name)
		}
		has := event&scard.StatePresent != 0 && event&scard.StateMute == 0
		if has == present {
			return nil
		}
		states[0].CurrentState = event &^ scard.StateChanged
	}
}

// CardGone reports whether err means the card left (or was never properly
// there) during a tap: the tap failed and charged nothing.
func CardGone(err error) bool {
	for _, gone := range []error{scard.ErrRemovedCard, scard.ErrResetCard, scard.ErrNotTransacted, scard.ErrNoSmartcard, scard.ErrUnpoweredCard, scard.ErrUnresponsiveCard} {
		if errors.Is(err, gone) {
			return true
		}
	}
	return false
}

// ServiceGone reports whether err means pcscd went away: establish the
// contexts again, with backoff.
func ServiceGone(err error) bool {
	return errors.Is(err, scard.ErrNoService) || errors.Is(err, scard.ErrServiceStopped)
}
