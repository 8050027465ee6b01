//go:build pcsc

package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/terminals/cardapp"
	"civicard/terminals/pcsc"
	"civicard/terminals/station"
	"civicard/terminals/vpcd"
)

// TestTerminalMeasure reports the time from card present to answer shown,
// online and offline (p50/p99 over 200 taps through the transaction path:
// connect, authenticate, sign, send or queue, answer), and the taps per
// second one terminal sustains with every reader at once. The cards are
// funded for every tap: each must be accepted (or queued, offline), and
// every offline tap settled once the gateway is back. The rates have a
// floor, tapsPerSecondMin, and no ceiling. The terminal runs in this
// process (the same code as `civicard terminal`) so the taps go through
// the transaction path rather than 0.8 s physical insert/remove cycles;
// pcscd's presence polling (insert -> PRESENT, p50 ~190 ms) comes on top
// for a physical tap.
func TestTerminalMeasure(t *testing.T) {
	slots := vpcdSlots(t)
	c := startCityOnPort(t)
	names := make([]string, len(slots))
	for i, s := range slots {
		names[i] = s.Name
	}
	setup := newTerminal(t, c, transportTerminal(t, c), names, map[string]any{"tap_budget_ms": 1000, "offline_taps_per_card": 100})
	cfg, err := station.LoadConfig(setup.configFile)
	if err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{Timeout: 30 * time.Second}
	st, err := station.New(cfg, station.Deps{
		HTTPClient: httpClient, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard, Rand: rand.Reader, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	readers, watcher := openReaders(t, names)

	// One funded card per reader, topped up so that it pays every tap.
	cards := make([]string, len(slots))
	for i, s := range slots {
		cards[i] = c.fundedCard(t, i, 500)
		c.topUp(t, cards[i], 15000, "measure-"+cards[i])
		in, err := vpcd.Insert(context.Background(), vpcd.Config{Addr: s.Addr, Card: virtualCard(t, cards[i], true), ATR: cardapp.ATR})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Remove()
	}
	ctx := context.Background()
	for _, r := range readers {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := watcher.Wait(wctx, r.Name(), true); err != nil {
			t.Fatal(err)
		}
		cancel()
	}

	// tap runs one transaction on r and returns the outcome. It is called
	// from the readers' goroutines too: it returns its error.
	tap := func(r *pcsc.Reader) (station.Outcome, error) {
		presented := time.Now()
		conn, err := r.Connect()
		if err != nil {
			return station.Outcome{}, fmt.Errorf("connect to the card in %s: %w", r.Name(), err)
		}
		defer conn.Close()
		return st.Transaction(ctx, r.Name(), conn, presented), nil
	}
	// measure taps n times on the first four readers, one tap at a time;
	// every answer must be want: the cards are funded for every tap (a
	// decline is a failure, not a round trip like any other).
	measure := func(label string, want station.Result, n int) {
		t.Helper()
		var took []time.Duration
		start := time.Now()
		for i := range n {
			o, err := tap(readers[i%min(len(readers), 4)])
			if err != nil {
				t.Fatalf("%s tap %d: %v", label, i, err)
			}
			if o.Result != want {
				t.Fatalf("%s tap %d on a funded card: %s (%s), want %s", label, i, o.Result, o.Reason, want)
			}
			took = append(took, o.Took)
		}
		rate := float64(n) / time.Since(start).Seconds()
		slices.Sort(took)
		t.Logf("%s, %d taps, card present to answer: p50 %v p99 %v max %v; %.0f taps/s one at a time", label, n, took[n/2], took[n*99/100-1], took[n-1], rate)
		if rate < tapsPerSecondMin {
			t.Errorf("%s: %.1f taps/s one at a time, want at least %d", label, rate, tapsPerSecondMin)
		}
	}
	measure("online", station.Accepted, 200)

	// Every reader at once, online.
	const window = 3 * time.Second
	counts := make([]int, len(readers))
	deadline := time.Now().Add(window)
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				o, err := tap(r)
				if err != nil {
					t.Errorf("reader %d: %v", i, err)
					return
				}
				if o.Result != station.Accepted {
					t.Errorf("reader %d, a funded card: %s (%s), want accepted", i, o.Result, o.Reason)
					return
				}
				counts[i]++
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	rate := float64(total) / window.Seconds()
	t.Logf("one terminal, %d readers at once: %d taps in %v = %.0f taps/s (online, settled by civicard up)", len(readers), total, window, rate)
	if rate < tapsPerSecondMin {
		t.Errorf("%d readers at once: %.1f taps/s, want at least %d", len(readers), rate, tapsPerSecondMin)
	}

	// Offline: the gateway is gone; 200 taps queue (50 per card on 4 readers).
	// The client's spare connections (dialed during the burst, never used)
	// go first: the gateway's graceful stop waits up to 5 s for a
	// connection that has not sent a request yet, as long as its drain.
	httpClient.CloseIdleConnections()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.node.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	measure("offline", station.Offline, 200)
	if n := st.QueueLen(); n != 200 {
		t.Fatalf("%d queued", n)
	}
	c.start(t)
	start := time.Now()
	waitFor(t, time.Minute, "the offline queue to be uploaded", func() error {
		st.Sync(ctx)
		if n := st.QueueLen(); n > 0 {
			return fmt.Errorf("%d taps still queued", n)
		}
		return nil
	})
	t.Logf("uploaded 200 offline taps in %v", time.Since(start))
	// Every offline tap is settled, and paid: the cards were funded.
	settled := 0
	for _, card := range cards[:min(len(cards), 4)] {
		for _, txn := range c.transactions(t, card) {
			if txn.GetTerminalId() != setup.terminalID || !txn.GetOffline() {
				continue
			}
			settled++
			if txn.GetKind() != civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE {
				t.Errorf("offline tap %s of a funded card settled as %v", txn.GetTransactionId(), txn.GetKind())
			}
		}
	}
	if settled != 200 {
		t.Errorf("%d offline taps settled, want 200", settled)
	}
}

// tapsPerSecondMin is the least TestTerminalMeasure accepts, one tap at a
// time and on every reader at once: a floor far below what a terminal
// does (tens a second), that only a tap path gone wrong (a retry loop, a
// timeout waited out on every tap) falls under.
const tapsPerSecondMin = 2

// openReaders opens a PC/SC context on each reader, as `civicard terminal`
// does, and one more to watch them; all are released when the test ends.
func openReaders(t *testing.T, names []string) ([]*pcsc.Reader, *pcsc.Watcher) {
	t.Helper()
	var readers []*pcsc.Reader
	for _, name := range names {
		r, err := pcsc.OpenReader(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		readers = append(readers, r)
	}
	watcher, err := pcsc.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watcher.Close() })
	return readers, watcher
}
