package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// The end-to-end tests run the real binary: `civicard up` as its own process
// on a loopback port and a temporary data directory, driven over HTTP.

// testCards is the size of the demo city in these tests: big enough for
// every kind of card, small enough to start in a second or two.
const testCards = 3000

// civicardBin is the binary TestMain built, set before any test runs.
var civicardBin string

// exitRestart is the exit status of a node the cluster no longer takes back
// (paused, or cut off from most of the cluster, for too long), as
// `civicard help` documents it for supervisors.
const exitRestart = 3

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	root, err := procnode.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "civicard-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if civicardBin, err = procnode.Build(ctx, root, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// demoArgs are the flags that make a new cluster of `civicard node`
// processes load the demo city (testCards cards) on its first start; every
// test that starts nodes expecting the demo city's cards passes them.
//
// `civicard node` starts an empty cluster unless given --demo.
func demoArgs() []string { return []string{"--demo"} }

// unavailable skips a test that the machine cannot run (no network
// namespaces, no PC/SC readers), and fails it under CI=true: there a test
// that silently does not run would pass without having tested anything.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, and this test cannot run here: "+format, args...)
	}
	t.Skipf(format, args...)
}

// pollInterval is how often waitFor looks again.
const pollInterval = 50 * time.Millisecond

// waitFor waits until cond holds, looking every pollInterval, and fails the
// test if it does not within timeout. cond returns nil when it holds, or
// why not: the last reason is in the failure. Call it from the test's
// goroutine only (it may end the test).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", timeout, what, err)
		}
		time.Sleep(pollInterval)
	}
}

// waitExit waits until the process of node has ended, and fails the test
// if it still runs after timeout.
func waitExit(t *testing.T, node *procnode.Node, timeout time.Duration, what string) {
	t.Helper()
	select {
	case <-node.Exited():
	case <-time.After(timeout):
		t.Fatalf("waited %v for %s to exit", timeout, what)
	}
}

// scrapeMetrics returns what the process at baseURL says on /metrics, read
// over HTTP as Prometheus reads it.
func scrapeMetrics(t *testing.T, client *http.Client, baseURL string) string {
	t.Helper()
	text, err := fetchMetrics(client, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// fetchMetrics is scrapeMetrics for a wait, where an error is a reason to
// look again.
func fetchMetrics(client *http.Client, baseURL string) (string, error) {
	res, err := client.Get(baseURL + "/metrics")
	if err != nil {
		return "", fmt.Errorf("metrics of %s: %w", baseURL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", fmt.Errorf("metrics of %s: %w", baseURL, err)
	}
	return string(body), nil
}

// metricValue reads the number of the first line of text that re matches
// (its first group): 0 when no line does.
func metricValue(text string, re *regexp.Regexp) (float64, error) {
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0, nil
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("metric %q: %w", m[0], err)
	}
	return v, nil
}

// city is a running node with its demo data and clients.
type city struct {
	node     *procnode.Node
	data     *demo.Dataset
	cards    civicardv1connect.CardServiceClient
	http     *http.Client
	operator string
	key      string
}

// startCity starts `civicard up` on a fresh data directory and stops it when
// the test ends.
func startCity(t *testing.T) *city {
	t.Helper()
	node := &procnode.Node{Bin: civicardBin, DataDir: filepath.Join(t.TempDir(), "data"), Args: []string{"--cards", fmt.Sprint(testCards)}, Log: processLog()}
	c := &city{node: node, http: &http.Client{Timeout: 10 * time.Second}}
	c.start(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := node.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return c
}

func (c *city) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.node.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.operator, err = cluster.ReadSecret(c.node.DataDir, cluster.OperatorTokenFile); err != nil {
		t.Fatal(err)
	}
	if c.key, err = cluster.ReadSecret(c.node.DataDir, cluster.CredentialKeyFile); err != nil {
		t.Fatal(err)
	}
	cfg := demo.DefaultConfig()
	cfg.Cards, cfg.CredentialKey = testCards, []byte(c.key)
	if c.data, err = demo.Generate(cfg); err != nil {
		t.Fatal(err)
	}
	c.cards = civicardv1connect.NewCardServiceClient(c.http, c.node.BaseURL, terminals.WithCredential(c.operator))
}

// terminal returns a client of the demo terminal i.
func (c *city) terminal(i int) (*terminals.Client, string) {
	seed := c.data.Terminals[i]
	return terminals.NewClient(c.http, c.node.BaseURL, seed.Terminal.GetTerminalId(), seed.Credential), seed.Terminal.GetTerminalId()
}

// fundedCard returns the i-th active card with at least minMinor on it.
func (c *city) fundedCard(t *testing.T, i int, minMinor int64) string {
	t.Helper()
	for _, card := range c.data.Cards {
		if card.BalanceMinor >= minMinor {
			if i == 0 {
				return card.CardID
			}
			i--
		}
	}
	t.Fatalf("no funded card %d", i)
	return ""
}

func (c *city) card(t *testing.T, id string) *civicardv1.Card {
	t.Helper()
	res, err := c.cards.GetCard(context.Background(), connect.NewRequest(&civicardv1.GetCardRequest{CardId: id}))
	if err != nil {
		t.Fatalf("get card %s: %v", id, err)
	}
	return res.Msg.GetCard()
}

func (c *city) transactions(t *testing.T, id string) []*civicardv1.Transaction {
	t.Helper()
	res, err := c.cards.ListTransactions(context.Background(), connect.NewRequest(&civicardv1.ListTransactionsRequest{CardId: id, PageSize: 500}))
	if err != nil {
		t.Fatalf("transactions of %s: %v", id, err)
	}
	return res.Msg.GetTransactions()
}

func (c *city) topUp(t *testing.T, id string, minor int64, requestID string) *civicardv1.TopUpResponse {
	t.Helper()
	res, err := c.cards.TopUp(context.Background(), connect.NewRequest(&civicardv1.TopUpRequest{
		CardId: id, Amount: &civicardv1.Money{Currency: "PLN", MinorUnits: minor}, RequestId: requestID,
	}))
	if err != nil {
		t.Fatalf("top up %s: %v", id, err)
	}
	return res.Msg
}

// metrics returns what the node's /metrics says.
func (c *city) metrics(t *testing.T) string {
	t.Helper()
	return scrapeMetrics(t, c.http, c.node.BaseURL)
}

// processLog is where the node's output goes: the test's stderr with -v.
func processLog() io.Writer {
	if testing.Verbose() {
		return os.Stderr
	}
	return io.Discard
}

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
			Command: append([]string{"node", "--name", fmt.Sprintf("n%d", i+1), "--peers", strings.Join(peers, ","),
				"--data", data, "--secrets", c.secrets, "--http", places[i].http, plainHTTP(places[i].http), "--cards", fmt.Sprint(testCards), "--log-level", "warn"},
				demoArgs()...),
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

// join starts a node that is not among the cluster's peers with --join
// and appends it to the cluster's nodes.
func (c *testCluster) join(t *testing.T, name string, joinAddrs []string) {
	t.Helper()
	place := loopbackPlace(t)
	data := filepath.Join(filepath.Dir(c.secrets), name)
	// A joining node loads no demo city (the cluster's first peer did), but
	// it is a node of the demo city: --demo gives it the demo's payout
	// debtor, which a node that closes cycles needs.
	node := &procnode.Node{
		Bin: civicardBin, DataDir: data, Log: processLog(),
		Command: append([]string{"node", "--name", name, "--join", strings.Join(joinAddrs, ","),
			"--actor", place.actor, "--raft", place.raft,
			"--data", data, "--secrets", c.secrets, "--http", place.http, plainHTTP(place.http), "--cards", fmt.Sprint(testCards), "--log-level", "warn"},
			demoArgs()...),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := node.Start(ctx); err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	t.Cleanup(node.Kill)
	c.mu.Lock() // the clients read c.nodes
	c.nodes = append(c.nodes, node)
	c.mu.Unlock()
}

// startGateway starts `civicard gateway` on the cluster's peers.
func (c *testCluster) startGateway(t *testing.T) *procnode.Node {
	t.Helper()
	actor := loopbackPlace(t).actor
	data := filepath.Join(filepath.Dir(c.secrets), "gw")
	gw := &procnode.Node{
		Bin: civicardBin, DataDir: data, Log: processLog(),
		Command: []string{"gateway", "--name", "gw", "--peers", c.peers, "--actor", actor,
			"--data", data, "--secrets", c.secrets, "--http", "127.0.0.1:0", "--cards", "0", "--log-level", "warn"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := gw.Start(ctx); err != nil {
		t.Fatalf("gateway: %v", err)
	}
	t.Cleanup(gw.Kill)
	return gw
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

// aliveWithout is every node but skip (-1: all).
func (c *testCluster) aliveWithout(skip int) []bool {
	alive := make([]bool, len(c.nodes))
	for i := range alive {
		alive[i] = i != skip
	}
	return alive
}

var leaderMetric = regexp.MustCompile(`(?m)^civicard_replication_is_leader\{group="([^"]+)"\} 1$`)

// metrics returns what node i's /metrics says.
func (c *testCluster) metrics(t *testing.T, i int) string {
	t.Helper()
	return c.metricsAt(t, c.nodes[i].URL())
}

// metricsAt returns what the node at baseURL says on /metrics.
func (c *testCluster) metricsAt(t *testing.T, baseURL string) string {
	t.Helper()
	return scrapeMetrics(t, c.http, baseURL)
}

// metric reads one number from node i's /metrics (0 when it is absent).
func (c *testCluster) metric(t *testing.T, i int, re *regexp.Regexp) float64 {
	t.Helper()
	v, err := metricValue(c.metrics(t, i), re)
	if err != nil {
		t.Fatalf("n%d: %v", i+1, err)
	}
	return v
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

// raftAddrOf asks a node's gateway for its Raft address.
func raftAddrOf(t *testing.T, c *testCluster, n *procnode.Node) string {
	t.Helper()
	api := civicardv1connect.NewAdminServiceClient(c.http, n.BaseURL, terminals.WithCredential(c.operator))
	res, err := api.GetNode(context.Background(), connect.NewRequest(&civicardv1.GetNodeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetRaftAddr()
}

// adminOutput runs `civicard admin ARGS` against every gateway in use.
func (c *testCluster) adminOutput(args ...string) (string, error) {
	args = append([]string{"admin"}, args...)
	args = append(args, "--data", c.secrets, "--addr", strings.Join(c.allGateways(), ","))
	out, err := exec.Command(civicardBin, args...).CombinedOutput()
	return string(out), err
}

func (c *testCluster) admin(t *testing.T, args ...string) {
	t.Helper()
	if out, err := c.adminOutput(args...); err != nil {
		t.Fatalf("civicard admin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (c *testCluster) adminText(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.adminOutput(args...)
	if err != nil {
		t.Fatalf("civicard admin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// allGateways are the gateways of every node still running.
func (c *testCluster) allGateways() []string {
	var urls []string
	for _, n := range c.nodes {
		select {
		case <-n.Exited():
		default:
			urls = append(urls, n.BaseURL)
		}
	}
	return urls
}

// waitUnready waits until node i's /healthz answers 503 with reason, and
// returns when it did.
func (c *testCluster) waitUnready(t *testing.T, i int, reason string, timeout time.Duration) time.Time {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("n%d's /healthz to say %q", i+1, reason), func() error {
		res, err := c.http.Get(c.nodes[i].BaseURL + "/healthz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), reason) {
			return fmt.Errorf("it says %d %s", res.StatusCode, body)
		}
		return nil
	})
	return time.Now()
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

// runCLI runs the civicard binary and returns its output; a non-zero exit
// fails the test.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(civicardBin, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("civicard %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// plainHTTP is the --insecure-plain-http flag an address needs: the nodes of
// a network lab listen on their namespace's address, not on loopback, and
// serve the API in plain text to the test.
func plainHTTP(addr string) string {
	return fmt.Sprintf("--insecure-plain-http=%t", !strings.HasPrefix(addr, "127."))
}
