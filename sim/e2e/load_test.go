package e2e

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/purse"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/sim/demo"
	"civicard/terminals"
)

// The loads of the crash and cluster tests: many clients tapping and
// topping up through every gateway, the record of what was acknowledged,
// and the checks of the ledger against it.

// ackedOp is an operation the system acknowledged (a tap's answer may be a
// decline).
type ackedOp struct {
	cardID        string
	transactionID string
	tap           *tapKey // nil for a top-up
	answer        *civicardv1.TapResponse
}

// tapKey is a tap's terminal (an index in the demo city's terminals) and
// sequence number.
type tapKey struct {
	terminal int
	sequence uint64
}

// clusterLoad is taps and top-ups from many clients through every gateway,
// with the record of what was acknowledged.
type clusterLoad struct {
	c     *testCluster
	cards []string
	// first are the cards' balances when the load started.
	first map[string]int64

	mu    sync.Mutex
	acked []ackedOp
	tried map[string]bool
	// unknown are the operations given up on while their outcome was
	// unknown; resolve sends them again.
	unknown []pendingOp
	// ackTimes are when each acknowledged operation was answered, and
	// sendTimes when it was first sent.
	ackTimes, sendTimes []time.Time

	// Outcomes of the operations: sent more than once, never answered
	// (lost), refused with an error that is not worth retrying, and taps
	// declined by reason.
	retried, lost, refused int
	declined               map[civicardv1.DeclineReason]int
	// refusals are the first refusals' errors (at most refusalsKept).
	refusals []string

	stop atomic.Bool
	wg   sync.WaitGroup
}

// sendFunc sends one operation to the gateway at a base URL; a tap's
// answer comes back, nil for other operations.
type sendFunc func(gateway string) (*civicardv1.TapResponse, error)

// pendingOp is an operation whose outcome is unknown, and how to send it
// again.
type pendingOp struct {
	op   ackedOp
	sent time.Time
	send sendFunc
}

// gatewayOrder is the order in which a client tries the gateways: its own
// first, then the others, as a terminal with a list of addresses would.
func gatewayOrder(worker, n int) []int {
	order := make([]int, n)
	for k := range n {
		order[k] = (worker + k) % n
	}
	return order
}

// refusalsKept bounds the refusals a load keeps to report.
const refusalsKept = 10

// attemptsMax bounds how often a client sends one operation (to the next
// gateway each time) before it gives up and leaves the outcome unknown.
const attemptsMax = 20

// topUpMinor is what each top-up of the load adds.
const topUpMinor = 150

// startClusterLoad starts tapWorkers terminals and topUpWorkers back-office
// clients on cardsUsed cards; each waits pause after every operation.
func startClusterLoad(t *testing.T, c *testCluster, tapWorkers, topUpWorkers, cardsUsed int, pause time.Duration) *clusterLoad {
	l := &clusterLoad{c: c, tried: map[string]bool{}, declined: map[civicardv1.DeclineReason]int{}}
	used := 0
	for _, card := range c.data.Cards {
		if card.BalanceMinor > 0 && used < cardsUsed {
			l.cards = append(l.cards, card.CardID)
			used++
		}
	}
	// The balances the load starts from (a test may have charged cards
	// before).
	l.first = map[string]int64{}
	api := c.cardsAt(c.gateways()[0])
	for _, card := range l.cards {
		res, err := api.GetCard(context.Background(), connect.NewRequest(&civicardv1.GetCardRequest{CardId: card}))
		if err != nil {
			t.Fatalf("card %s before the load: %v", card, err)
		}
		l.first[card] = res.Msg.GetCard().GetBalance().GetMinorUnits()
	}
	for w := range tapWorkers {
		seed := c.data.Terminals[w]
		rng := rand.New(rand.NewPCG(3, uint64(w)))
		l.wg.Go(func() {
			for seq := uint64(1); !l.stop.Load(); seq++ {
				card := l.cards[rng.IntN(len(l.cards))]
				id := fmt.Sprintf("tap/%s/%d", seed.Terminal.GetTerminalId(), seq)
				sent := time.Now()
				send := func(gateway string) (*civicardv1.TapResponse, error) {
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					defer cancel()
					client := terminals.NewClient(c.http, gateway, seed.Terminal.GetTerminalId(), seed.Credential)
					return client.Tap(ctx, seq, card, terminals.Purchase{}, sent)
				}
				res, attempts, err := l.retry(w, send)
				l.record(ackedOp{cardID: card, transactionID: id, tap: &tapKey{w, seq}, answer: res}, attempts, err, sent, send)
				time.Sleep(pause)
			}
		})
	}
	for w := range topUpWorkers {
		rng := rand.New(rand.NewPCG(4, uint64(w)))
		l.wg.Go(func() {
			for i := 0; !l.stop.Load(); i++ {
				card := l.cards[rng.IntN(len(l.cards))]
				requestID := fmt.Sprintf("cluster-%d-%d", w, i)
				sent := time.Now()
				send := func(gateway string) (*civicardv1.TapResponse, error) {
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					defer cancel()
					_, err := c.cardsAt(gateway).TopUp(ctx, connect.NewRequest(&civicardv1.TopUpRequest{
						CardId: card, Amount: &civicardv1.Money{Currency: "PLN", MinorUnits: topUpMinor}, RequestId: requestID,
					}))
					return nil, err
				}
				_, attempts, err := l.retry(w, send)
				l.record(ackedOp{cardID: card, transactionID: "topup/" + requestID}, attempts, err, sent, send)
				time.Sleep(pause)
			}
		})
	}
	return l
}

// retry sends one operation through the gateways in use, in the worker's
// order, while its outcome is unknown; it returns how often it sent it.
func (l *clusterLoad) retry(worker int, send sendFunc) (*civicardv1.TapResponse, int, error) {
	var res *civicardv1.TapResponse
	var err error
	for attempt := range attemptsMax {
		gateways := l.c.gateways()
		order := gatewayOrder(worker, len(gateways))
		if res, err = send(gateways[order[attempt%len(order)]]); err == nil || !terminals.OutcomeUnknown(err) {
			return res, attempt + 1, err
		}
		if l.stop.Load() {
			return nil, attempt + 1, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, attemptsMax, err
}

// record notes the outcome of an operation sent attempts times:
// acknowledged (err == nil; a tap possibly declined), refused (nothing
// applied), or unknown (kept for resolve).
func (l *clusterLoad) record(op ackedOp, attempts int, err error, sent time.Time, send sendFunc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tried[op.transactionID] = true
	if attempts > 1 {
		l.retried++
	}
	switch {
	case err == nil:
		if op.answer.GetResult() == civicardv1.TapResult_TAP_RESULT_DECLINED {
			l.declined[op.answer.GetDeclineReason()]++
		}
		l.acked = append(l.acked, op)
		l.ackTimes = append(l.ackTimes, time.Now())
		l.sendTimes = append(l.sendTimes, sent)
	case terminals.OutcomeUnknown(err):
		if !l.stop.Load() { // not cut short by the end of the run
			l.lost++
		}
		l.unknown = append(l.unknown, pendingOp{op: op, sent: sent, send: send})
	default:
		l.refused++
		if len(l.refusals) < refusalsKept {
			l.refusals = append(l.refusals, fmt.Sprintf("%s: %v", op.transactionID, err))
		}
	}
}

// resolve sends every operation whose outcome was left unknown again, as
// its client would once the cluster answers, through the gateways in turn
// (a restarted node's address has changed) until it is answered:
// afterwards every operation tried is either acknowledged or was refused.
// Call it after finish.
func (l *clusterLoad) resolve(t *testing.T) {
	t.Helper()
	pending := l.unknown
	l.unknown = nil
	for _, p := range pending {
		var res *civicardv1.TapResponse
		var err error
		for attempt := range attemptsMax {
			gateways := l.c.gateways()
			if res, err = p.send(gateways[attempt%len(gateways)]); err == nil || !terminals.OutcomeUnknown(err) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		switch {
		case err == nil:
			p.op.answer = res
			l.record(p.op, 1, nil, p.sent, p.send)
		case terminals.OutcomeUnknown(err):
			t.Fatalf("%s: outcome still unknown after %d attempts: %v", p.op.transactionID, attemptsMax, err)
		}
	}
	if len(pending) > 0 {
		t.Logf("%d operations of unknown outcome sent again and answered", len(pending))
	}
}

func (l *clusterLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitAcked waits until n more operations are acknowledged.
func (l *clusterLoad) waitAcked(t *testing.T, n int) {
	t.Helper()
	target := l.ackedCount() + n
	waitFor(t, 90*time.Second, fmt.Sprintf("%d operations acknowledged", target), func() error {
		if acked := l.ackedCount(); acked < target {
			return fmt.Errorf("%d acknowledged", acked)
		}
		return nil
	})
}

// stall is the longest an operation sent within window after the fault
// waited for its acknowledgement (retries included): how long a passenger
// tapping just after the fault stood at the validator.
func (l *clusterLoad) stall(fault time.Time, window time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	for i, sent := range l.sendTimes {
		if !sent.Before(fault) && sent.Before(fault.Add(window)) {
			longest = max(longest, l.ackTimes[i].Sub(sent))
		}
	}
	return longest
}

// gap is the longest time within window after the fault in which no
// operation was acknowledged: how long the city's taps stopped altogether.
func (l *clusterLoad) gap(fault time.Time, window time.Duration) time.Duration {
	l.mu.Lock()
	times := slices.Clone(l.ackTimes)
	l.mu.Unlock()
	slices.SortFunc(times, time.Time.Compare)
	last, end := fault, fault.Add(window)
	var longest time.Duration
	for _, at := range times {
		if at.Before(fault) {
			continue
		}
		if at.After(end) {
			break
		}
		longest = max(longest, at.Sub(last))
		last = at
	}
	return longest
}

func (l *clusterLoad) finish() {
	l.stop.Store(true)
	l.wg.Wait()
}

// verify checks the ledger, read through gateway g, against the record:
// every acknowledged operation exactly once, nothing twice, every card's
// balance its newest transaction's and, to the grosz, its first balance
// plus the acknowledged top-ups less the acknowledged charges, and every
// acknowledged tap answered again, replayed, with its first answer; and
// the taps' answers (checkDeclines). It resolves first, so that no
// operation's outcome is unknown.
func (l *clusterLoad) verify(t *testing.T, g int) {
	t.Helper()
	l.resolve(t)
	checkDeclines(t, l.acked, l.c.data)
	seen := map[string]int{}
	api := l.c.cards(g)
	want := maps.Clone(l.first)
	for _, op := range l.acked {
		if op.tap == nil {
			want[op.cardID] += topUpMinor
		} else {
			want[op.cardID] -= op.answer.GetCharged().GetMinorUnits()
		}
	}
	for _, card := range l.cards {
		txns := allTransactions(t, api, card)
		for _, txn := range txns {
			seen[txn.GetTransactionId()]++
		}
		got, err := api.GetCard(context.Background(), connect.NewRequest(&civicardv1.GetCardRequest{CardId: card}))
		if err != nil {
			t.Fatal(err)
		}
		if balance := got.Msg.GetCard().GetBalance().GetMinorUnits(); len(txns) > 0 && txns[0].GetBalanceAfter().GetMinorUnits() != balance {
			t.Errorf("card %s: balance %d, newest transaction says %d", card, balance, txns[0].GetBalanceAfter().GetMinorUnits())
		}
		if got.Msg.GetCard().GetBalance().GetMinorUnits() < 0 {
			t.Errorf("card %s: negative balance", card)
		}
		if balance := got.Msg.GetCard().GetBalance().GetMinorUnits(); balance != want[card] {
			t.Errorf("card %s: balance %d, want %d (first balance, plus top-ups, less charges acknowledged)", card, balance, want[card])
		}
	}
	for _, op := range l.acked {
		if n := seen[op.transactionID]; n != 1 {
			t.Errorf("acknowledged %s found %d times", op.transactionID, n)
		}
	}
	for id := range l.tried {
		if seen[id] > 1 {
			t.Errorf("%s found %d times", id, seen[id])
		}
	}
	for _, op := range l.acked {
		if op.tap == nil {
			continue
		}
		seed := l.c.data.Terminals[op.tap.terminal]
		client := terminals.NewClient(l.c.http, l.c.nodes[g].BaseURL, seed.Terminal.GetTerminalId(), seed.Credential)
		res, err := client.Tap(context.Background(), op.tap.sequence, op.cardID, terminals.Purchase{}, time.Now())
		if err != nil {
			t.Fatalf("resend %s: %v", op.transactionID, err)
		}
		if !res.GetReplayed() || res.GetTransactionId() != op.transactionID || res.GetCharged().GetMinorUnits() != op.answer.GetCharged().GetMinorUnits() {
			t.Fatalf("resend %s = %v, want the first answer %v replayed", op.transactionID, res, op.answer)
		}
	}
}

// checkReplicas waits until every replica of every group has applied the
// same entries, then checks that their ledgers are identical (digests) and
// that the money adds up across the shards: what the funding account paid
// is the demo city's starting balances plus the top-ups found in the
// ledger, and what the institutions are owed is what the cards paid.
func (c *testCluster) checkReplicas(t *testing.T, alive []bool, l *clusterLoad) {
	t.Helper()
	// Every replica of every group at the same index with the same digest.
	var replicas map[string][]*civicardv1.GroupReplica
	waitFor(t, 30*time.Second, "every replica of every group at the same ledger", func() error {
		replicas = map[string][]*civicardv1.GroupReplica{}
		for i, node := range c.nodes {
			if !alive[i] {
				continue
			}
			api := civicardv1connect.NewAdminServiceClient(c.http, node.BaseURL, terminals.WithCredential(c.operator))
			res, err := api.GetNode(context.Background(), connect.NewRequest(&civicardv1.GetNodeRequest{WithDigests: true}))
			if err != nil {
				t.Fatalf("n%d: %v", i+1, err)
			}
			for _, g := range res.Msg.GetGroups() {
				replicas[g.GetGroup()] = append(replicas[g.GetGroup()], g)
			}
		}
		var differ []string
		for group, rs := range replicas {
			for _, r := range rs[1:] {
				if r.GetAppliedIndex() != rs[0].GetAppliedIndex() || string(r.GetDigest()) != string(rs[0].GetDigest()) {
					for _, r := range rs {
						differ = append(differ, fmt.Sprintf("%s: applied %d digest %x", group, r.GetAppliedIndex(), r.GetDigest()))
					}
					break
				}
			}
		}
		if len(differ) > 0 {
			return fmt.Errorf("replicas differ:\n%s", strings.Join(differ, "\n"))
		}
		return nil
	})
	var funding, receivables int64
	for group, rs := range replicas {
		totals := rs[0].GetTotals()
		if totals.GetFundingMinor()+totals.GetCardsMinor()+totals.GetReceivablesMinor()+totals.GetPayoutsMinor()+totals.GetFeesMinor() != 0 {
			t.Errorf("%s does not balance: %v", group, totals)
		}
		funding += totals.GetFundingMinor()
		// What was paid out and taken as fees was owed first.
		receivables += totals.GetReceivablesMinor() + totals.GetPayoutsMinor() + totals.GetFeesMinor()
	}
	var demoMinor, toppedUp, charged int64
	for _, card := range c.data.Cards {
		demoMinor += card.BalanceMinor
	}
	api := c.cards(slices.Index(alive, true))
	for _, card := range l.cards {
		for _, txn := range allTransactions(t, api, card) {
			switch txn.GetKind() {
			case civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP:
				if l.tried[txn.GetTransactionId()] {
					toppedUp += txn.GetAmount().GetMinorUnits()
				}
			case civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE:
				charged -= txn.GetAmount().GetMinorUnits()
			}
		}
	}
	if -funding != demoMinor+toppedUp {
		t.Errorf("funding paid %d, want demo %d + top-ups %d", -funding, demoMinor, toppedUp)
	}
	if receivables != charged {
		t.Errorf("institutions are owed %d, cards paid %d", receivables, charged)
	}
	t.Logf("%d groups, every replica identical; money: funding %d, receivables %d", len(replicas), funding, receivables)
}

// declinesShown bounds the wrongly declined taps checkDeclines names.
const declinesShown = 5

// checkDeclines checks the answers of acknowledged taps on funded cards of
// the demo city (an acknowledged decline is not a success): some taps are
// accepted, and a tap is declined only for want of money, with a balance
// below the fare its terminal charges (the most it charged any card), or,
// on a bearer card, for its monthly limit, once the card has spent nearly
// that much.
func checkDeclines(t *testing.T, ops []ackedOp, city *demo.Dataset) {
	t.Helper()
	bearer := map[string]bool{}
	for _, card := range city.Cards {
		bearer[card.CardID] = card.Kind == civicardv1.CardKind_CARD_KIND_BEARER
	}
	monthMax := purse.DefaultLimits().BearerMonthMaxMinor
	fare := map[int]int64{}
	spent := map[string]int64{} // by card
	accepted := 0
	for _, op := range ops {
		if op.tap != nil && op.answer.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED {
			accepted++
			charged := op.answer.GetCharged().GetMinorUnits()
			fare[op.tap.terminal] = max(fare[op.tap.terminal], charged)
			spent[op.cardID] += charged
		}
	}
	if accepted == 0 {
		t.Errorf("no tap accepted of %d operations acknowledged", len(ops))
	}
	var wrong []string
	for _, op := range ops {
		if op.tap == nil || op.answer.GetResult() != civicardv1.TapResult_TAP_RESULT_DECLINED {
			continue
		}
		balance, fare := op.answer.GetBalance().GetMinorUnits(), fare[op.tap.terminal]
		switch reason := op.answer.GetDeclineReason(); {
		case reason == civicardv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS:
			if fare > 0 && balance >= fare {
				wrong = append(wrong, fmt.Sprintf("%s declined for want of money with a balance of %d, the fare is at most %d", op.transactionID, balance, fare))
			}
		case reason == civicardv1.DeclineReason_DECLINE_REASON_LIMIT_BEARER_MONTH:
			// The card spent at most spent before this tap, which cost at
			// most fare: together over the limit, or the decline is wrong.
			if !bearer[op.cardID] || fare > 0 && spent[op.cardID]+fare <= monthMax {
				wrong = append(wrong, fmt.Sprintf("%s declined for the bearer monthly limit (bearer card %v) after %d spent in all, the fare is at most %d", op.transactionID, bearer[op.cardID], spent[op.cardID], fare))
			}
		default:
			wrong = append(wrong, fmt.Sprintf("%s declined %v (%s)", op.transactionID, reason, op.answer.GetDeclineDetail()))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d taps of funded cards declined wrongly (%d accepted), among them:\n%s", len(wrong), accepted, strings.Join(wrong[:min(len(wrong), declinesShown)], "\n"))
	}
}
