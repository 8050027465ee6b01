package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/cluster"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/sim/demo"
	"civicard/sim/procnode"
	"civicard/terminals"
)

// The cluster tests run every node as its own `civicard node` process on
// loopback, drive taps and top-ups through all their gateways, inject a
// fault, and check the outcome against the record of what was
// acknowledged.

// testCluster is n `civicard node` processes.
type testCluster struct {
	nodes    []*procnode.Node
	secrets  string
	data     *demo.Dataset
	operator string
	http     *http.Client

	// peers is the --peers the nodes were started with.
	peers string

	// serving are the nodes whose gateways the clients use, by index in
	// nodes (all of them unless a test changes it), and extra the base URLs
	// of more gateways they use.
	mu      sync.Mutex
	serving []int    // guarded by mu
	extra   []string // guarded by mu
}

// gateways returns the base URLs of the gateways the clients use now.
func (c *testCluster) gateways() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var urls []string
	if c.serving == nil {
		for _, n := range c.nodes {
			urls = append(urls, n.URL())
		}
	}
	for _, i := range c.serving {
		urls = append(urls, c.nodes[i].URL())
	}
	return append(urls, c.extra...)
}

// serve makes the clients use the gateways of these nodes from now on.
func (c *testCluster) serve(nodes ...int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serving = slices.Clone(nodes)
}

// nodePlace is where a test node listens, and the network namespace it
// runs in ("": the test's own).
type nodePlace struct {
	actor, raft, http string
	netns             string
}

// loopbackPlaces gives n nodes free ports on 127.0.0.1.
func loopbackPlaces(t *testing.T, n int) []nodePlace {
	t.Helper()
	ports, err := procnode.FreeNodePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	places := make([]nodePlace, len(ports))
	for i, p := range ports {
		places[i] = nodePlace{actor: p.ActorAddr(), raft: p.RaftAddr(), http: "127.0.0.1:0"}
	}
	return places
}

// loopbackPlace gives one node free actor (and membership) and Raft ports
// on 127.0.0.1.
func loopbackPlace(t *testing.T) nodePlace {
	t.Helper()
	return loopbackPlaces(t, 1)[0]
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	return startClusterAt(t, loopbackPlaces(t, n))
}

// startClusterAt starts a node at each place; args are added to every
// node's command line.
func startClusterAt(t *testing.T, places []nodePlace, args ...string) *testCluster {
	t.Helper()
	dir := t.TempDir()
	n := len(places)
	var peers []string
	for i, p := range places {
		peers = append(peers, fmt.Sprintf("n%d=%s=%s", i+1, p.actor, p.raft))
	}
	c := &testCluster{secrets: filepath.Join(dir, "secrets"), peers: strings.Join(peers, ","), http: &http.Client{Timeout: 10 * time.Second}}
	for i := range n {
		data := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		c.nodes = append(c.nodes, &procnode.Node{
			Bin: civicardBin, DataDir: data, Log: processLog(), Netns: places[i].netns, Args: args,
			Command: []string{"node", "--name", fmt.Sprintf("n%d", i+1), "--peers", strings.Join(peers, ","),
				"--data", data, "--secrets", c.secrets, "--http", places[i].http, "--demo", "--cards", fmt.Sprint(testCards), "--log-level", "warn"},
		})
	}
	// Every node waits for a quorum of the others: start them together.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, node := range c.nodes {
		wg.Go(func() { errs[i] = node.Start(ctx) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, node := range c.nodes {
			node.Kill()
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if c.operator, err = cluster.ReadSecret(c.secrets, cluster.OperatorTokenFile); err != nil {
		t.Fatal(err)
	}
	key, err := cluster.ReadSecret(c.secrets, cluster.CredentialKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := demo.DefaultConfig()
	cfg.Cards, cfg.CredentialKey = testCards, []byte(key)
	if c.data, err = demo.Generate(cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

// cards returns the card service at node i's gateway.
func (c *testCluster) cards(i int) civicardv1connect.CardServiceClient {
	return c.cardsAt(c.nodes[i].URL())
}

func (c *testCluster) cardsAt(baseURL string) civicardv1connect.CardServiceClient {
	return civicardv1connect.NewCardServiceClient(c.http, baseURL, terminals.WithCredential(c.operator))
}

// restart starts node i again on its data and waits until it is healthy.
func (c *testCluster) restart(t *testing.T, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.nodes[i].Start(ctx); err != nil {
		t.Fatalf("restart n%d: %v", i+1, err)
	}
}

var leaderMetric = regexp.MustCompile(`(?m)^civicard_settlement_is_leader\{group="([^"]+)"\} 1$`)

// metrics returns what node i's /metrics says.
func (c *testCluster) metrics(t *testing.T, i int) string {
	t.Helper()
	return c.metricsAt(t, c.nodes[i].URL())
}

// metricsAt returns what the node at baseURL says on /metrics.
func (c *testCluster) metricsAt(t *testing.T, baseURL string) string {
	t.Helper()
	res, err := c.http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", baseURL, err)
	}
	defer res.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, res.Body); err != nil {
		t.Fatalf("metrics of %s: %v", baseURL, err)
	}
	return body.String()
}

// leaders returns, per node, the groups it leads (from its /metrics).
func (c *testCluster) leaders(t *testing.T, alive []bool) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	for i := range c.nodes {
		if !alive[i] {
			continue
		}
		for _, m := range leaderMetric.FindAllStringSubmatch(c.metrics(t, i), -1) {
			out[i] = append(out[i], m[1])
		}
	}
	return out
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
	deadline := time.Now().Add(90 * time.Second)
	for l.ackedCount() < target {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d operations acknowledged in time", l.ackedCount(), target)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
// acknowledged tap answered again, replayed, with its first answer. It
// resolves first, so that no operation's outcome is unknown.
func (l *clusterLoad) verify(t *testing.T, g int) {
	t.Helper()
	l.resolve(t)
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

// clusterFault is one fault the cluster must survive.
type clusterFault struct {
	name string
	// stallMax is the longest an operation sent just after the fault may
	// wait; 0 only reports it (a paused or cut-off node is not a crash: it
	// is noticed only by timeouts, and a client's attempts that reach it
	// or its grains time out first).
	stallMax time.Duration
	// resumeMax, if set, is the longest the cluster may acknowledge nothing
	// after the fault: the time until taps resume.
	resumeMax time.Duration
	// inject returns when the fault is over (or has been made).
	inject func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome
}

// faultOutcome is what a fault did.
type faultOutcome struct {
	// at are the moments a node failed or stopped.
	at []time.Time
	// alive are the nodes alive afterwards.
	alive []bool
}

func TestClusterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 civicard nodes per fault")
	}
	faults := []clusterFault{
		{name: "kill -9 of a follower", stallMax: 3 * time.Second, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
			victim := c.pick(t, false)
			at := time.Now()
			c.nodes[victim].Kill()
			return faultOutcome{at: []time.Time{at}, alive: c.aliveWithout(victim)}
		}},
		{name: "kill -9 of the node leading the most groups", stallMax: 3 * time.Second, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
			victim := c.pick(t, true)
			at := time.Now()
			c.nodes[victim].Kill()
			return faultOutcome{at: []time.Time{at}, alive: c.aliveWithout(victim)}
		}},
		{name: "SIGSTOP of the leader for 10 s, then SIGCONT", stallMax: 0, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
			victim := c.pick(t, true)
			at := time.Now()
			if err := c.nodes[victim].Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			l.waitAcked(t, 300)
			time.Sleep(10*time.Second - time.Since(at))
			if err := c.nodes[victim].Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			// Declared dead while paused, it must not linger as a member
			// nobody routes to: it stops, and its supervisor (here, the
			// test) starts it again.
			select {
			case <-c.nodes[victim].Exited():
			case <-time.After(15 * time.Second):
				t.Fatalf("n%d still runs 15 s after waking from a 10 s pause", victim+1)
			}
			c.expectRestartRequired(t, victim)
			c.restart(t, victim)
			return faultOutcome{at: []time.Time{at}, alive: c.aliveWithout(-1)}
		}},
		{name: "rolling restart of every node", stallMax: 5 * time.Second, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
			var stops []time.Time
			for i, node := range c.nodes {
				stops = append(stops, time.Now())
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := node.Stop(ctx)
				cancel()
				if err != nil {
					t.Fatalf("stop n%d: %v", i+1, err)
				}
				c.restart(t, i)
				l.waitAcked(t, 200)
			}
			return faultOutcome{at: stops, alive: c.aliveWithout(-1)}
		}},
	}
	for _, fault := range faults {
		t.Run(fault.name, func(t *testing.T) { fault.run(t, startCluster(t, 3)) })
	}
}

// run drives taps and top-ups through every gateway of c, injects the
// fault under load, keeps the load going, and checks the outcome against
// the record of what was acknowledged.
func (fault clusterFault) run(t *testing.T, c *testCluster) {
	t.Helper()
	l := startClusterLoad(t, c, 24, 4, 300, 0)
	l.waitAcked(t, 600)
	outcome := fault.inject(t, c, l)
	l.waitAcked(t, 600)
	var stall, gap time.Duration
	for _, at := range outcome.at {
		stall = max(stall, l.stall(at, 2*time.Second))
		gap = max(gap, l.gap(at, 10*time.Second))
	}
	l.finish()
	l.verify(t, slices.Index(outcome.alive, true))
	c.checkReplicas(t, outcome.alive, l)
	t.Logf("%s: %d operations acknowledged, %d sent; an operation sent in the 2 s after the fault waited at most %v; no operation was acknowledged for %v at most",
		fault.name, len(l.acked), len(l.tried), stall.Round(time.Millisecond), gap.Round(time.Millisecond))
	if fault.stallMax > 0 && stall > fault.stallMax {
		t.Errorf("an operation sent after the fault waited %v, want taps to resume within %v", stall, fault.stallMax)
	}
	if fault.resumeMax > 0 && gap > fault.resumeMax {
		t.Errorf("nothing was acknowledged for %v after the fault, want taps to resume within %v", gap, fault.resumeMax)
	}
}

// expectRestartRequired checks that node i, which has exited, said that it
// must be started again, in its exit status and its last words.
func (c *testCluster) expectRestartRequired(t *testing.T, i int) {
	t.Helper()
	if code := c.nodes[i].ExitCode(); code != exitRestart {
		t.Errorf("n%d exited with status %d, want %d (restart required)\n%s", i+1, code, exitRestart, c.nodes[i].Stderr())
	}
	if !strings.Contains(c.nodes[i].Stderr(), cluster.ErrRestartRequired.Error()) {
		t.Errorf("n%d did not say why it stopped:\n%s", i+1, c.nodes[i].Stderr())
	}
}

// pick returns the alive node leading the most groups (leader) or a node
// leading none (a follower).
func (c *testCluster) pick(t *testing.T, leader bool) int {
	t.Helper()
	leaders := c.leaders(t, c.aliveWithout(-1))
	// Shards hold the money: leading one weighs more than the registry.
	weight := func(i int) int {
		w := 0
		for _, g := range leaders[i] {
			w++
			if strings.HasPrefix(g, "shard-") {
				w += 10
			}
		}
		return w
	}
	best := -1
	for i := range c.nodes {
		switch {
		case leader && (best < 0 || weight(i) > weight(best)):
			best = i
		case !leader && weight(i) == 0:
			return i
		}
	}
	if !leader {
		t.Fatalf("every node leads a group: %v", leaders)
	}
	return best
}

// aliveWithout is every node but skip (-1: all).
func (c *testCluster) aliveWithout(skip int) []bool {
	alive := make([]bool, len(c.nodes))
	for i := range alive {
		alive[i] = i != skip
	}
	return alive
}

// checkReplicas waits until every replica of every group has applied the
// same entries, then checks that their ledgers are identical (digests) and
// that the money adds up across the shards: what the funding account paid
// is the demo city's starting balances plus the top-ups found in the
// ledger, and what the institutions are owed is what the cards paid.
func (c *testCluster) checkReplicas(t *testing.T, alive []bool, l *clusterLoad) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		replicas := map[string][]*civicardv1.GroupReplica{}
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
		settled := true
		for _, rs := range replicas {
			for _, r := range rs[1:] {
				if r.GetAppliedIndex() != rs[0].GetAppliedIndex() || string(r.GetDigest()) != string(rs[0].GetDigest()) {
					settled = false
				}
			}
		}
		if !settled {
			if time.Now().After(deadline) {
				for group, rs := range replicas {
					for _, r := range rs {
						t.Logf("%s: applied %d digest %x", group, r.GetAppliedIndex(), r.GetDigest())
					}
				}
				t.Fatal("replicas did not converge to the same ledger")
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
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
		return
	}
}

// allTransactions reads a card's whole history, page by page.
func allTransactions(t *testing.T, api civicardv1connect.CardServiceClient, card string) []*civicardv1.Transaction {
	t.Helper()
	var all []*civicardv1.Transaction
	before := uint64(0)
	for {
		res, err := api.ListTransactions(context.Background(), connect.NewRequest(&civicardv1.ListTransactionsRequest{CardId: card, PageSize: 500, BeforeLedgerSequence: before}))
		if err != nil {
			t.Fatalf("transactions of %s: %v", card, err)
		}
		page := res.Msg.GetTransactions()
		all = append(all, page...)
		if len(page) < 500 {
			return all
		}
		before = page[len(page)-1].GetLedgerSequence()
	}
}
