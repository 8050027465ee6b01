package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/terminals"
)

// verifyReport is the part of what `civicard admin verify` prints (JSON)
// that the crash test reads.
type verifyReport struct {
	FundingMinor     int64  `json:"funding_minor"`
	CardsMinor       int64  `json:"cards_minor"`
	ReceivablesMinor int64  `json:"receivables_minor"`
	Invariants       string `json:"invariants"`
}

// TestCrashLosesNothingAcknowledged runs concurrent taps and top-ups against
// `civicard up`, kills it with SIGKILL while they are in flight, starts it
// again on the same data and checks every acknowledged operation against the
// ledger: each is there exactly once, nothing unacknowledged is half there,
// and the money adds up to the grosz.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	c := startCity(t)
	const (
		tapWorkers      = 24
		topUpWorkers    = 4
		cardsUsed       = 60
		ackedBeforeKill = 1500
	)
	cards := make([]string, cardsUsed)
	for i := range cards {
		cards[i] = c.fundedCard(t, i, 1)
	}

	var (
		mu       sync.Mutex
		acked    []ackedOp
		tried    = map[string]bool{} // transaction ids sent, acknowledged or not
		ackCount atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		// killed is set once the node is killed; afterKill[w] once worker
		// w has sent an operation after that and had it fail.
		killed    atomic.Bool
		afterKill [tapWorkers + topUpWorkers]atomic.Bool
	)
	record := func(op ackedOp, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		tried[op.transactionID] = true
		if ok {
			acked = append(acked, op)
			ackCount.Add(1)
		}
	}
	ctx := context.Background()
	for w := range tapWorkers {
		terminal, terminalID := c.terminal(w)
		rng := rand.New(rand.NewPCG(1, uint64(w)))
		wg.Go(func() {
			for seq := uint64(1); !stop.Load(); seq++ {
				card := cards[rng.IntN(len(cards))]
				sentAfterKill := killed.Load()
				callCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
				res, err := terminal.Tap(callCtx, seq, card, terminals.Purchase{}, time.Now())
				cancel()
				record(ackedOp{cardID: card, transactionID: fmt.Sprintf("tap/%s/%d", terminalID, seq), tap: &tapKey{w, seq}, answer: res}, err == nil)
				afterKill[w].Store(sentAfterKill)
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the node is gone: do not spin
				}
			}
		})
	}
	for w := range topUpWorkers {
		rng := rand.New(rand.NewPCG(2, uint64(w)))
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				card := cards[rng.IntN(len(cards))]
				requestID := fmt.Sprintf("crash-%d-%d", w, i)
				sentAfterKill := killed.Load()
				callCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
				_, err := c.cards.TopUp(callCtx, connect.NewRequest(&civicardv1.TopUpRequest{
					CardId: card, Amount: &civicardv1.Money{Currency: "PLN", MinorUnits: 150}, RequestId: requestID,
				}))
				cancel()
				// A full card is refused (failed_precondition): nothing to find.
				record(ackedOp{cardID: card, transactionID: "topup/" + requestID}, err == nil)
				afterKill[tapWorkers+w].Store(sentAfterKill)
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}

	waitFor(t, 2*time.Minute, fmt.Sprintf("%d operations acknowledged before the kill", ackedBeforeKill), func() error {
		if n := ackCount.Load(); n < ackedBeforeKill {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})
	c.node.Kill()
	killedTime := time.Now()
	killedAt := ackCount.Load()
	killed.Store(true)
	// The calls in flight at the kill end, answered or not; then every
	// client tries the dead node once more.
	waitFor(t, 30*time.Second, "every client to send an operation to the dead node", func() error {
		for w := range afterKill {
			if !afterKill[w].Load() {
				return fmt.Errorf("client %d has not", w)
			}
		}
		return nil
	})
	stop.Store(true)
	wg.Wait()
	t.Logf("killed with %d acknowledged operations, %d sent", killedAt, len(tried))

	restartedAt := time.Now()
	c.start(t)
	t.Logf("restarted and taking taps %v after the restart began", time.Since(restartedAt).Round(time.Millisecond))

	// Every acknowledged operation is in its card's ledger exactly once;
	// every other one at most once. Each card's balance is its newest
	// transaction's balance_after.
	seen := map[string]int{}
	var chargedMinor, toppedUpMinor int64 // as found in the ledger
	for _, card := range cards {
		txns := c.transactions(t, card)
		for _, txn := range txns {
			seen[txn.GetTransactionId()]++
			switch txn.GetKind() {
			case civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE:
				chargedMinor -= txn.GetAmount().GetMinorUnits()
			case civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP:
				if tried[txn.GetTransactionId()] {
					toppedUpMinor += txn.GetAmount().GetMinorUnits()
				}
			}
		}
		if len(txns) > 0 && txns[0].GetBalanceAfter().GetMinorUnits() != c.card(t, card).GetBalance().GetMinorUnits() {
			t.Errorf("card %s: balance differs from its newest transaction's balance_after", card)
		}
	}
	for _, op := range acked {
		if n := seen[op.transactionID]; n != 1 {
			t.Errorf("acknowledged %s found %d times in the ledger", op.transactionID, n)
		}
	}
	for id := range tried {
		if n := seen[id]; n > 1 {
			t.Errorf("%s found %d times", id, n)
		}
	}

	checkDeclines(t, acked, c.data)

	// Resending every acknowledged tap returns its first answer and moves
	// nothing.
	for _, op := range acked {
		if op.tap == nil {
			continue
		}
		terminal, _ := c.terminal(op.tap.terminal)
		res, err := terminal.Tap(ctx, op.tap.sequence, op.cardID, terminals.Purchase{}, time.Now())
		if err != nil {
			t.Fatalf("resend %s: %v", op.transactionID, err)
		}
		if !res.GetReplayed() || res.GetTransactionId() != op.transactionID || res.GetCharged().GetMinorUnits() != op.answer.GetCharged().GetMinorUnits() || res.GetResult() != op.answer.GetResult() {
			t.Fatalf("resend %s = %v, want the first answer %v replayed", op.transactionID, res, op.answer)
		}
	}
	t.Logf("%d acknowledged operations verified, %v after the kill", len(acked), time.Since(killedTime).Round(time.Millisecond))

	// The whole ledger balances: stop the node and verify it offline.
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.node.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(civicardBin, "admin", "verify", "--data", c.node.DataDir).Output()
	if err != nil {
		t.Fatalf("admin verify: %v\n%s", err, out)
	}
	var report verifyReport
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("admin verify printed %q: %v", out, err)
	}
	if report.Invariants != "ok" || report.FundingMinor+report.CardsMinor+report.ReceivablesMinor != 0 {
		t.Fatalf("ledger does not balance: %+v", report)
	}
	// Money in: the demo city's starting balances and this test's top-ups;
	// money out of cards: exactly what the institutions are owed.
	var demoMinor int64
	for _, card := range c.data.Cards {
		demoMinor += card.BalanceMinor
	}
	if got, want := -report.FundingMinor, demoMinor+toppedUpMinor; got != want {
		t.Errorf("funding paid out %d, want %d (demo %d + top-ups %d)", got, want, demoMinor, toppedUpMinor)
	}
	if report.ReceivablesMinor != chargedMinor {
		t.Errorf("institutions are owed %d, cards were charged %d", report.ReceivablesMinor, chargedMinor)
	}
	t.Logf("ledger: %+v", report)
	c.start(t) // the cleanup stops it
}
