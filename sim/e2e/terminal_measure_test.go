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

	"civicard/terminals/cardapp"
	"civicard/terminals/pcsc"
	"civicard/terminals/station"
	"civicard/terminals/vpcd"
)

// TestTerminalMeasure reports what issue 5 asks: the time from card present
// to answer shown, online and offline (p50/p99 over 200 taps through the
// transaction path: connect, authenticate, sign, send or queue, answer),
// and the taps per second one terminal sustains with every reader at once.
// The terminal runs in this process (the same code as `civicard terminal`)
// so the taps go through the transaction path rather than 0.8 s physical
// insert/remove cycles; pcscd's presence polling (insert -> PRESENT, p50
// ~190 ms) comes on top for a physical tap.
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

	// tap runs one transaction on r and returns the outcome.
	tap := func(r *pcsc.Reader) station.Outcome {
		presented := time.Now()
		conn, err := r.Connect()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return st.Transaction(ctx, r.Name(), conn, presented)
	}
	measure := func(label string, want station.Result, n int) {
		var took []time.Duration
		for i := range n {
			r := readers[i%min(len(readers), 4)]
			o := tap(r)
			// A decline is as much a round trip through the ledger.
			if o.Result != want && !(want == station.Accepted && o.Result == station.Declined) {
				t.Fatalf("%s tap %d: %v", label, i, o)
			}
			took = append(took, o.Took)
		}
		slices.Sort(took)
		t.Logf("%s, %d taps, card present to answer: p50 %v p99 %v max %v", label, n, took[n/2], took[n*99/100-1], took[n-1])
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
				if o := tap(r); o.Result != station.Accepted && o.Result != station.Declined {
					t.Errorf("reader %d: %v", i, o)
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
	t.Logf("one terminal, %d readers at once: %d taps in %v = %.0f taps/s (online, settled by civicard up)", len(readers), total, window, float64(total)/window.Seconds())

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
}

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
