package cluster

import (
	"context"
	"fmt"

	"civicard/actors"
	"civicard/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	"civicard/settlement"
)

// localLedger serves the grains from a Raft group on this node. Reads come
// from the local state machine: a stale read costs at most one refused
// proposal, because every charge carries the version it was decided on.
type localLedger struct {
	group *settlement.Group
}

var _ actors.Ledger = localLedger{}

func (l localLedger) Propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	return l.group.Propose(ctx, cmd)
}

func (l localLedger) Card(_ context.Context, cardID string) (card *ledgerv1.CardState, err error) {
	l.group.Read(func(s *ledger.State) {
		var ok bool
		if card, ok = s.Card(cardID); !ok {
			err = fmt.Errorf("card %q: %w", cardID, actors.ErrNotFound)
		}
	})
	return card, err
}

func (l localLedger) Transactions(_ context.Context, cardID string, beforeSequence uint64, limit int) (txns []*civicardv1.Transaction, err error) {
	l.group.Read(func(s *ledger.State) {
		txns = s.Transactions(cardID, beforeSequence, limit)
	})
	return txns, nil
}

func (l localLedger) Institution(_ context.Context, institutionID string) (inst *civicardv1.Institution, err error) {
	l.group.Read(func(s *ledger.State) {
		var ok bool
		if inst, ok = s.Institution(institutionID); !ok {
			err = fmt.Errorf("institution %q: %w", institutionID, actors.ErrNotFound)
		}
	})
	return inst, err
}

// BlockedCards implements actors.DenylistReader.
func (l localLedger) BlockedCards(context.Context) (ids []string, err error) {
	l.group.Read(func(s *ledger.State) { ids = s.BlockedCards() })
	return ids, nil
}

func (l localLedger) Terminal(_ context.Context, terminalID string) (terminal *civicardv1.Terminal, err error) {
	l.group.Read(func(s *ledger.State) {
		var ok bool
		if terminal, ok = s.Terminal(terminalID); !ok {
			err = fmt.Errorf("terminal %q: %w", terminalID, actors.ErrNotFound)
		}
	})
	return terminal, err
}
