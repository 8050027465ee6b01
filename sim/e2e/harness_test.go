package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
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

// processLog is where the node's output goes: the test's stderr with -v.
func processLog() io.Writer {
	if testing.Verbose() {
		return os.Stderr
	}
	return io.Discard
}
