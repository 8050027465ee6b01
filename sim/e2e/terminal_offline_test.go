//go:build pcsc

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/sim/procnode"
)

// startCityOnPort is startCity on a fixed port, so that a terminal finds the
// gateway again after the node is stopped and started.
func startCityOnPort(t *testing.T) *city {
	t.Helper()
	ports, err := procnode.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	node := &procnode.Node{Bin: civicardBin, DataDir: dir, Log: processLog(),
		Command: []string{"up", "--data", dir, "--http", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--cards", fmt.Sprint(testCards)}}
	c := &city{node: node, http: &http.Client{Timeout: 10 * time.Second}}
	c.start(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		select {
		case <-node.Exited():
		default:
			_ = node.Stop(ctx)
		}
	})
	return c
}

// waitMetric scrapes the terminal until the metric satisfies ok.
func (p *terminalProc) waitMetric(t *testing.T, name string, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	waitFor(t, 20*time.Second, "the terminal's "+name, func() error {
		line := p.metric(t, name)
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return fmt.Errorf("line %q", line)
		}
		var err error
		if v, err = strconv.ParseFloat(fields[1], 64); err != nil || !ok(v) {
			return fmt.Errorf("line %q", line)
		}
		return nil
	})
	return v
}

// transportTerminal is the index of a transport terminal of the demo city:
// a cheap ride.
func transportTerminal(t *testing.T, c *city) int {
	t.Helper()
	for i, ts := range c.data.Terminals {
		if strings.Contains(ts.Terminal.GetTerminalId(), "-TRA-") {
			return i
		}
	}
	t.Fatal("no transport terminal in the demo city")
	return -1
}

var seqField = regexp.MustCompile(`seq=(\d+)`)

func TestTerminalOffline(t *testing.T) {
	slots := vpcdSlots(t)
	c := startCityOnPort(t)
	setup := newTerminal(t, c, transportTerminal(t, c), []string{slots[0].Name}, map[string]any{
		"tap_budget_ms": 1000, "sync_interval_ms": 200, "offline_taps_per_card": 3,
	})
	term := setup.start(t)

	// Three cards: A with money, B with none (its offline tap becomes debt),
	// X blocked while the gateway is up (it must reach the denylist).
	a := c.fundedCard(t, 0, 2000)
	var b, x string
	for _, card := range c.data.Cards {
		switch {
		case card.BalanceMinor == 0 && b == "":
			b = card.CardID
		case card.BalanceMinor == 0 && x == "":
			x = card.CardID
		}
	}
	term.waitMetric(t, "civicard_terminal_denylist_refreshes_total", func(v float64) bool { return v >= 1 })
	// The institution's price list, by which offline taps are priced.
	term.waitMetric(t, "civicard_terminal_tariff_products", func(v float64) bool { return v > 0 })
	denied := term.waitMetric(t, "civicard_terminal_denylist_cards", func(float64) bool { return true })
	if _, err := c.cards.Block(context.Background(), connect.NewRequest(&civicardv1.BlockRequest{CardId: x, Reason: "lost", RequestId: "block-x"})); err != nil {
		t.Fatal(err)
	}
	term.waitMetric(t, "civicard_terminal_denylist_cards", func(v float64) bool { return v == denied+1 })
	balanceA := c.card(t, a).GetBalance().GetMinorUnits()

	// The gateway goes away.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.node.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	var seqs []uint64
	tapOffline := func(card string) {
		line := tapCard(t, term, slots[0], virtualCard(t, card, true), 0, "GREEN", "offline", "card="+card)
		m := seqField.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("no seq in %q", line)
		}
		n, _ := strconv.ParseUint(m[1], 10, 64)
		seqs = append(seqs, n)
		t.Logf("offline: %s", line)
	}
	for range 3 {
		tapOffline(a)
	}
	line := tapCard(t, term, slots[0], virtualCard(t, a, true), 0, "RED", "refused", "offline limit")
	t.Logf("over the limit: %s", line)
	line = tapCard(t, term, slots[0], virtualCard(t, x, true), 0, "RED", "refused", "denylist")
	t.Logf("blocked: %s", line)
	tapOffline(b)

	// kill -9 the terminal, start it again: the queue is on disk.
	_ = term.cmd.Process.Kill()
	<-term.exited
	term = setup.start(t)
	if n := term.waitMetric(t, "civicard_terminal_offline_queue_taps", func(float64) bool { return true }); n != 4 {
		t.Fatalf("%v taps queued after kill -9, want 4", n)
	}

	// The gateway comes back; the queue drains.
	c.start(t)
	term.waitMetric(t, "civicard_terminal_offline_queue_taps", func(v float64) bool { return v == 0 })

	// Every offline tap settled exactly once, under its own sequence.
	settled := map[uint64]int{}
	var paidA int64
	for _, card := range []string{a, b} {
		for _, tx := range c.transactions(t, card) {
			if tx.GetTerminalId() == setup.terminalID && tx.GetOffline() {
				settled[tx.GetTerminalSequence()]++
				if card == a {
					paidA -= tx.GetAmount().GetMinorUnits()
				}
			}
		}
	}
	for _, s := range seqs {
		if settled[s] != 1 {
			t.Errorf("offline tap seq %d settled %d times", s, settled[s])
		}
	}
	if len(settled) != len(seqs) {
		t.Errorf("settled %v, queued %v", settled, seqs)
	}
	if got := c.card(t, a).GetBalance().GetMinorUnits(); got != balanceA-paidA || paidA == 0 {
		t.Errorf("card A: balance %d -> %d, paid %d", balanceA, got, paidA)
	}
	// B could not pay: debt, repaid by its next top-up.
	cardB := c.card(t, b)
	debt := cardB.GetDebt().GetMinorUnits()
	if debt <= 0 {
		t.Fatalf("card B has no debt after an offline tap it could not cover: %v", cardB)
	}
	top := c.topUp(t, b, 2000, "top-b")
	if got := c.card(t, b); got.GetDebt() != nil || got.GetBalance().GetMinorUnits() != 2000-debt {
		t.Errorf("after top-up of 2000 with debt %d: %v (top-up %v)", debt, got, top)
	}
}
