//go:build pcsc

package pcsc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"civicard/terminals/cardapp"
	"civicard/terminals/vpcd"
)

// Real-stack tests: pcscd + vpcd + the Go virtual card. They run under
// scripts/pcscd.sh, which says in vpcd.ReadersEnv which readers exist
// and where their virtual cards connect (`make test` does this).

func slots(t *testing.T) []vpcd.Slot {
	t.Helper()
	env := os.Getenv(vpcd.ReadersEnv)
	if env == "" {
		t.Skip("no vpcd readers: run under scripts/pcscd.sh (make pcsc)")
	}
	out, err := vpcd.ParseSlots(env)
	if err != nil {
		t.Fatal(err)
	}
	names, err := Readers()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range out {
		if !slices.Contains(names, s.Name) {
			t.Fatalf("reader %q not among %q", s.Name, names)
		}
	}
	return out
}

var master = []byte("civicard-test-mk") // 16 bytes

func newCard(t testing.TB, id string, genuine bool) *cardapp.Card {
	t.Helper()
	var key [cardapp.KeySize]byte
	if genuine {
		var err error
		if key, err = cardapp.DiversifyKey(master, id); err != nil {
			t.Fatal(err)
		}
	}
	c, err := cardapp.NewCard(cardapp.CardConfig{CardID: id, Key: key, PIN: "1234", Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// insert puts card into s and waits until pcscd sees it; the test's end
// removes it and waits until pcscd sees it gone.
func insert(t *testing.T, s vpcd.Slot, card *cardapp.Card, removeAfter int) *vpcd.Inserted {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := vpcd.Insert(ctx, vpcd.Config{Addr: s.Addr, Card: card, ATR: cardapp.ATR, RemoveAfterAPDUs: removeAfter})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Wait(ctx, s.Name, true); err != nil {
		t.Fatalf("card never seen in %q: %v", s.Name, err)
	}
	t.Cleanup(func() { remove(t, s, in) })
	return in
}

func remove(t *testing.T, s vpcd.Slot, in *vpcd.Inserted) {
	_ = in.Remove()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Wait(ctx, s.Name, false); err != nil {
		t.Errorf("card never left %q: %v", s.Name, err)
	}
}

// tap is the reader's side of one tap: connect, authenticate, disconnect.
func tap(r *Reader, a *cardapp.Authenticator) (string, error) {
	c, err := r.Connect()
	if err != nil {
		return "", err
	}
	defer c.Close()
	return a.Authenticate(c)
}

func authenticator(t testing.TB) *cardapp.Authenticator {
	a, err := cardapp.NewAuthenticator(master, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func openReader(t testing.TB, name string) *Reader {
	r, err := OpenReader(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestGenuineCardAuthenticatesThroughPCSC(t *testing.T) {
	s := slots(t)[0]
	insert(t, s, newCard(t, "320000002990", true), 0)
	id, err := tap(openReader(t, s.Name), authenticator(t))
	if err != nil || id != "320000002990" {
		t.Fatalf("tap: %q %v", id, err)
	}
}

func TestCloneIsRefusedAtTheReader(t *testing.T) {
	s := slots(t)[0]
	insert(t, s, newCard(t, "320000002990", false), 0)
	if _, err := tap(openReader(t, s.Name), authenticator(t)); !errors.Is(err, cardapp.ErrNotGenuine) {
		t.Fatalf("clone: %v, want ErrNotGenuine", err)
	}
}

func TestCardPulledMidTransactionFailsCleanly(t *testing.T) {
	s := slots(t)[0]
	// Gone at the 3rd APDU (GET CHALLENGE): SELECT and READ BINARY answered.
	in := insert(t, s, newCard(t, "320000002990", true), 3)
	_, err := tap(openReader(t, s.Name), authenticator(t))
	var transport *cardapp.TransportError
	if !errors.As(err, &transport) || errors.Is(err, cardapp.ErrNotGenuine) {
		t.Fatalf("pulled card: %v, want a transport error", err)
	}
	<-in.Done()
	t.Logf("pulled mid-transaction: %v (card gone: %v)", err, CardGone(err))
}

func TestTwoReadersAtOnce(t *testing.T) {
	all := slots(t)
	if len(all) < 2 {
		t.Skip("one reader")
	}
	ids := []string{"320000002990", "320000003006"}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	a := authenticator(t)
	for i := range 2 {
		insert(t, all[i], newCard(t, ids[i], true), 0)
	}
	for i := range 2 {
		r := openReader(t, all[i].Name)
		wg.Go(func() {
			for range 50 {
				id, err := tap(r, a)
				if err == nil && id != ids[i] {
					err = errors.New("reader " + r.Name() + " read " + id)
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// insertAll inserts a genuine card into every slot at once and waits until
// pcscd sees them all (one presence poll, not one per reader); the test's
// end removes them all and waits until pcscd sees every reader empty.
func insertAll(t *testing.T, slots []vpcd.Slot) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ins []*vpcd.Inserted
	t.Cleanup(func() {
		for _, in := range ins {
			_ = in.Remove()
		}
		waitAll(t, slots, false)
	})
	for i, s := range slots {
		in, err := vpcd.Insert(ctx, vpcd.Config{Addr: s.Addr, Card: newCard(t, fmt.Sprintf("3200000%05d", i), true), ATR: cardapp.ATR})
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	waitAll(t, slots, true)
}

func waitAll(t *testing.T, slots []vpcd.Slot, present bool) {
	t.Helper()
	w, err := NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range slots {
		if err := w.Wait(ctx, s.Name, present); err != nil {
			t.Fatalf("%q present=%v: %v", s.Name, present, err)
		}
	}
}

// TestMeasureTransactions reports the transaction path's latency on one
// reader (200 taps) and the rate over every reader at once.
func TestMeasureTransactions(t *testing.T) {
	all := slots(t)
	a := authenticator(t)
	insert(t, all[0], newCard(t, "320000002990", true), 0)
	r := openReader(t, all[0].Name)
	var took []time.Duration
	for range 200 {
		start := time.Now()
		if _, err := tap(r, a); err != nil {
			t.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("one reader, 200 transactions (connect, SELECT, READ BINARY, GET CHALLENGE, INTERNAL AUTHENTICATE, disconnect): p50 %v p99 %v max %v",
		took[100], took[198], took[199])

	insertAll(t, all[1:])
	const window = 2 * time.Second
	counts := make([]int, len(all))
	var wg sync.WaitGroup
	deadline := time.Now().Add(window)
	for i, s := range all {
		r := r
		if i > 0 {
			r = openReader(t, s.Name)
		}
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := tap(r, a); err != nil {
					t.Error(err)
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
	t.Logf("%d readers at once: %d transactions in %v = %.0f/s", len(all), total, window, float64(total)/window.Seconds())
}
