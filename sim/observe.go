package sim

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/terminals"
)

// Observer reads the system's state through the operator API.
type Observer struct {
	Gateways      []string
	HTTPClient    *http.Client
	OperatorToken string
}

// Limits of the observer.
const (
	// convergeTimeout bounds the wait for every replica to apply the same
	// entries.
	convergeTimeout = 60 * time.Second
	// readWorkers read cards at once.
	readWorkers = 16
	// pageSize is the page of a card's history.
	pageSize = 500
	// historyPagesMax bounds the pages of one card's history.
	historyPagesMax = 1000
)

// LedgerState is the ledger as every replica shows it.
type LedgerState struct {
	Totals Totals
	// Cards is how many cards the ledger holds.
	Cards int64
	// Groups and Replicas counted; Identical is true when every replica of
	// every group has applied the same entries to the same state.
	Groups, Replicas int
	Identical        bool
}

// Ledger waits until every replica it can reach has applied the same
// entries with the same digest, and returns the totals summed over the
// groups. A gateway that does not answer is skipped (a node that is down).
func (o *Observer) Ledger(ctx context.Context) (LedgerState, error) {
	deadline := time.Now().Add(convergeTimeout)
	for {
		replicas := map[string][]*civicardv1.GroupReplica{}
		answered := 0
		var lastErr error
		for _, gw := range o.Gateways {
			api := civicardv1connect.NewAdminServiceClient(o.HTTPClient, gw, terminals.WithCredential(o.OperatorToken))
			callCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
			res, err := api.GetNode(callCtx, connect.NewRequest(&civicardv1.GetNodeRequest{WithDigests: true}))
			cancel()
			if err != nil {
				lastErr = err
				continue
			}
			answered++
			for _, g := range res.Msg.GetGroups() {
				replicas[g.GetGroup()] = append(replicas[g.GetGroup()], g)
			}
		}
		state, settled := summarise(replicas)
		if answered > 0 && settled {
			return state, nil
		}
		if time.Now().After(deadline) {
			if answered == 0 {
				return state, fmt.Errorf("sim: no gateway answered GetNode: %w", lastErr)
			}
			state.Identical = false
			return state, nil
		}
		select {
		case <-ctx.Done():
			return state, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// summarise sums the totals of each group's leader replica and reports
// whether every group has a leader and identical replicas.
func summarise(replicas map[string][]*civicardv1.GroupReplica) (LedgerState, bool) {
	state := LedgerState{Groups: len(replicas), Identical: true}
	settled := len(replicas) > 0
	for _, group := range slices.Sorted(maps.Keys(replicas)) {
		rs := replicas[group]
		state.Replicas += len(rs)
		for _, r := range rs[1:] {
			if r.GetAppliedIndex() != rs[0].GetAppliedIndex() || !bytes.Equal(r.GetDigest(), rs[0].GetDigest()) {
				state.Identical, settled = false, false
			}
		}
		leader := slices.IndexFunc(rs, func(r *civicardv1.GroupReplica) bool { return r.GetState() == "Leader" })
		if leader < 0 {
			settled = false
			continue
		}
		t := rs[leader].GetTotals()
		state.Totals.FundingMinor += t.GetFundingMinor()
		state.Totals.CardsMinor += t.GetCardsMinor()
		state.Totals.ReceivablesMinor += t.GetReceivablesMinor()
		state.Cards += t.GetCards()
	}
	return state, settled
}

// Cards reads every card in ids with its whole history.
func (o *Observer) Cards(ctx context.Context, ids []string) (map[string]CardLedger, error) {
	apis := make([]civicardv1connect.CardServiceClient, len(o.Gateways))
	for i, gw := range o.Gateways {
		apis[i] = civicardv1connect.NewCardServiceClient(o.HTTPClient, gw, terminals.WithCredential(o.OperatorToken))
	}
	out := make(map[string]CardLedger, len(ids))
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	for range readWorkers {
		wg.Go(func() {
			for i := range next {
				cl, err := o.card(ctx, apis, i, ids[i])
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out[ids[i]] = cl
				mu.Unlock()
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, firstErr
}

func (o *Observer) card(ctx context.Context, apis []civicardv1connect.CardServiceClient, worker int, id string) (CardLedger, error) {
	var cl CardLedger
	err := failover(ctx, len(apis), worker, func(ctx context.Context, g int) error {
		res, err := apis[g].GetCard(ctx, connect.NewRequest(&civicardv1.GetCardRequest{CardId: id}))
		if err == nil {
			cl.Card = res.Msg.GetCard()
		}
		return err
	}, nil)
	if err != nil {
		return cl, fmt.Errorf("sim: card %s: %w", id, err)
	}
	before := uint64(0)
	for range historyPagesMax {
		var page []*civicardv1.Transaction
		err := failover(ctx, len(apis), worker, func(ctx context.Context, g int) error {
			res, err := apis[g].ListTransactions(ctx, connect.NewRequest(&civicardv1.ListTransactionsRequest{CardId: id, PageSize: pageSize, BeforeLedgerSequence: before}))
			if err == nil {
				page = res.Msg.GetTransactions()
			}
			return err
		}, nil)
		if err != nil {
			return cl, fmt.Errorf("sim: transactions of %s: %w", id, err)
		}
		cl.Transactions = append(cl.Transactions, page...)
		if len(page) < pageSize {
			return cl, nil
		}
		before = page[len(page)-1].GetLedgerSequence()
	}
	return cl, fmt.Errorf("sim: card %s has more than %d transactions", id, pageSize*historyPagesMax)
}
