package replication

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

// Many goroutines top up and charge a few shared cards at once. Charges race
// on card versions (STALE_VERSION, then a retry under the same id), and in
// the end the money the callers saw move is exactly what the ledger holds,
// and the ledger's own invariants hold.
func TestConcurrentProposalsConserveMoney(t *testing.T) {
	const (
		workers   = 24
		opsEach   = 120
		cardCount = 6
	)
	cfg, reg := testConfig(t, t.TempDir())
	g := openGroup(t, cfg)

	cards := make([]string, cardCount)
	for i := range cards {
		cards[i] = fmt.Sprintf("C-%03d", i)
	}
	mustAllOK(t, g, setupCommands(cards...))

	type tally struct{ toppedUp, charged, stale int64 }
	tallies := make([]tally, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			versions := make(map[string]uint64) // this worker's view; stale is fine
			tl := &tallies[w]
			for op := range opsEach {
				card := cards[rng.IntN(len(cards))]
				if rng.IntN(10) < 3 {
					amount := 1 + rng.Int64N(2000)
					res, err := g.Propose(t.Context(), topUp(fmt.Sprintf("topup/%d/%d", w, op), card, amount))
					if err != nil {
						t.Errorf("top-up: %v", err)
						return
					}
					switch res.GetStatus() {
					case ledgerv1.Status_STATUS_OK:
						tl.toppedUp += amount
					case ledgerv1.Status_STATUS_REJECTED: // over the balance maximum
					default:
						t.Errorf("top-up: %v %s", res.GetStatus(), res.GetError())
						return
					}
					continue
				}
				amount := 1 + rng.Int64N(1500)
				seq := uint64(w*opsEach + op)
				for attempt := 0; ; attempt++ {
					if attempt == 1000 {
						t.Errorf("charge %d: still stale after %d attempts", seq, attempt)
						return
					}
					res, err := g.Propose(t.Context(), charge(seq, card, versions[card], amount))
					if err != nil {
						t.Errorf("charge: %v", err)
						return
					}
					versions[card] = res.GetCard().GetVersion()
					switch res.GetStatus() {
					case ledgerv1.Status_STATUS_OK:
						tl.charged += amount
					case ledgerv1.Status_STATUS_DECLINED:
					case ledgerv1.Status_STATUS_STALE_VERSION:
						// Nothing recorded: decide again on the new version,
						// under the same id.
						tl.stale++
						continue
					default:
						t.Errorf("charge: %v %s", res.GetStatus(), res.GetError())
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	var want tally
	for _, tl := range tallies {
		want.toppedUp += tl.toppedUp
		want.charged += tl.charged
		want.stale += tl.stale
	}
	t.Logf("topped up %d, charged %d, %d stale versions retried", want.toppedUp, want.charged, want.stale)
	g.Read(func(s *ledger.State) {
		if err := s.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
		tot := s.Totals()
		if tot.FundingMinor != -want.toppedUp || tot.CardsMinor != want.toppedUp-want.charged || tot.ReceivablesMinor != want.charged {
			t.Errorf("totals %+v; callers saw %d topped up and %d charged", tot, want.toppedUp, want.charged)
		}
		var sum int64
		for _, id := range cards {
			c, ok := s.Card(id)
			if !ok {
				t.Fatalf("card %s missing", id)
			}
			sum += c.GetBalanceMinor()
		}
		if sum != tot.CardsMinor {
			t.Errorf("card balances sum to %d, totals say %d", sum, tot.CardsMinor)
		}
	})

	// Metrics, as a scrape would see them.
	if v := gathered(t, reg, "civicard_replication_is_leader"); v != 1 {
		t.Errorf("is_leader = %v", v)
	}
	if v := gathered(t, reg, "civicard_replication_proposals_total", "status", "ok"); v < float64(cardCount) {
		t.Errorf("proposals ok = %v", v)
	}
	if v := gathered(t, reg, "civicard_replication_proposals_total", "status", "stale_version"); v != float64(want.stale) {
		t.Errorf("proposals stale_version = %v, callers saw %d", v, want.stale)
	}
	if v := gathered(t, reg, "civicard_replication_proposals_total", "status", "error"); v != 0 {
		t.Errorf("proposals error = %v", v)
	}
	entries := gathered(t, reg, "civicard_replication_batch_commands")
	if commits := gathered(t, reg, "civicard_replication_commit_latency_seconds"); commits != entries {
		t.Errorf("%v commit latencies for %v entries", commits, entries)
	}
	if v := gathered(t, reg, "civicard_replication_last_applied_index"); v < entries {
		t.Errorf("last applied index %v < %v entries", v, entries)
	}
	t.Logf("%v log entries", entries)
}

// Close and reopen on the same directory: the ledger comes back from the log
// alone, equal to the one before, and a command applied before the restart
// answers with its first result, replayed.
func TestReopenReplaysLog(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	g := openGroup(t, cfg)

	mustAllOK(t, g, setupCommands("C-1", "C-2"))
	mustOK(t, g, topUp("topup/1", "C-1", 5000))
	tap := charge(1, "C-1", 2, 320)
	first := mustOK(t, g, tap)

	// The directory is taken while the group is open.
	cfgTwice, _ := testConfig(t, dir)
	if _, err := OpenSingle(t.Context(), cfgTwice); err == nil {
		t.Fatal("a second OpenSingle of an open directory succeeded")
	}

	before := g.Digest()
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	cfg2, reg2 := testConfig(t, dir)
	g2 := openGroup(t, cfg2)
	if after := g2.Digest(); after != before {
		t.Fatalf("digest after reopen %x, before %x", after, before)
	}
	again, err := g2.Propose(t.Context(), tap)
	if err != nil {
		t.Fatalf("Propose again: %v", err)
	}
	if !again.GetReplayed() {
		t.Errorf("the repeated tap was not marked replayed: %v", again)
	}
	if !proto.Equal(again.GetTransaction(), first.GetTransaction()) || again.GetStatus() != first.GetStatus() {
		t.Errorf("replayed %v, first %v", again, first)
	}
	g2.Read(func(s *ledger.State) {
		if c, _ := s.Card("C-1"); c.GetBalanceMinor() != 5000-320 {
			t.Errorf("balance %d after a replayed tap", c.GetBalanceMinor())
		}
	})
	// The fresh registry got the fresh group's metrics.
	if v := gathered(t, reg2, "civicard_replication_is_leader"); v != 1 {
		t.Errorf("is_leader = %v after reopen", v)
	}
}

// A snapshot, then more commands, then a restart: the ledger is restored
// from the snapshot and the log tail after it, and comes back equal.
func TestReopenRestoresSnapshotAndLogTail(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	// Keep almost no log behind the snapshot, so the restart cannot rebuild
	// the ledger from the log alone.
	cfg.TrailingLogs = 1
	g := openGroup(t, cfg)

	cards := []string{"C-1", "C-2", "C-3"}
	mustAllOK(t, g, setupCommands(cards...))
	for i, c := range cards {
		mustOK(t, g, topUp(fmt.Sprintf("topup/%d", i), c, 1000))
	}
	beforeSnapshot := mustOK(t, g, charge(1, "C-1", 2, 100))

	if err := g.raft.Snapshot().Error(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	// The tail.
	mustOK(t, g, charge(2, "C-2", 2, 200))
	mustOK(t, g, topUp("topup/after", "C-3", 50))
	mustOK(t, g, charge(3, "C-3", 3, 1050))

	before := g.Digest()
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	cfg2, _ := testConfig(t, dir)
	g2 := openGroup(t, cfg2)
	firstIndex, err := g2.storage.wal.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if firstIndex <= 2 {
		t.Fatalf("log starts at index %d: it was not compacted, the test proves nothing", firstIndex)
	}
	if after := g2.Digest(); after != before {
		t.Fatalf("digest after restore %x, before %x", after, before)
	}
	res, err := g2.Propose(t.Context(), charge(1, "C-1", 2, 100))
	if err != nil {
		t.Fatal(err)
	}
	if !res.GetReplayed() || !proto.Equal(res.GetTransaction(), beforeSnapshot.GetTransaction()) {
		t.Errorf("a tap from before the snapshot answered %v", res)
	}
	g2.Read(func(s *ledger.State) {
		if err := s.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
		if c, _ := s.Card("C-3"); c.GetBalanceMinor() != 0 {
			t.Errorf("C-3 balance %d, want 0", c.GetBalanceMinor())
		}
	})
}

// With the ledger held (a long Read) the one in-flight entry cannot apply,
// the queue fills, and the next proposal fails at once with ErrOverloaded.
// When the ledger is released, everything queued is applied.
func TestProposeOverloaded(t *testing.T) {
	cfg, reg := testConfig(t, t.TempDir())
	cfg.InFlightMax = 1
	cfg.QueueMax = 2
	g := openGroup(t, cfg)
	cards := []string{"C-1", "C-2", "C-3", "C-4"}
	mustAllOK(t, g, setupCommands(cards...))
	entriesBefore := gathered(t, reg, "civicard_replication_batch_commands")

	entered, release := make(chan struct{}), make(chan struct{})
	go g.Read(func(*ledger.State) {
		close(entered)
		<-release
	})
	<-entered

	type answer struct {
		res *ledgerv1.Result
		err error
	}
	answers := make(chan answer, 3)
	propose := func(card string) {
		res, err := g.Propose(t.Context(), topUp("topup/"+card, card, 100))
		answers <- answer{res, err}
	}
	go propose("C-1")
	waitFor(t, "the first top-up is in flight", func() bool {
		return gathered(t, reg, "civicard_replication_batch_commands") == entriesBefore+1
	})
	go propose("C-2")
	go propose("C-3")
	waitFor(t, "two top-ups are queued", func() bool { return len(g.queue) == 2 })
	if v := gathered(t, reg, "civicard_replication_queue_depth"); v != 2 {
		t.Errorf("queue_depth = %v, want 2", v)
	}

	if _, err := g.Propose(t.Context(), topUp("topup/C-4", "C-4", 100)); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Propose on a full queue: %v, want ErrOverloaded", err)
	}

	close(release)
	for range 3 {
		a := <-answers
		if a.err != nil || a.res.GetStatus() != ledgerv1.Status_STATUS_OK {
			t.Errorf("queued top-up: %v %v", a.res, a.err)
		}
	}
	// The refused one was never proposed.
	g.Read(func(s *ledger.State) {
		if c, _ := s.Card("C-4"); c.GetBalanceMinor() != 0 {
			t.Errorf("the refused top-up moved money: balance %d", c.GetBalanceMinor())
		}
	})
	if v := gathered(t, reg, "civicard_replication_proposals_total", "status", "error"); v != 1 {
		t.Errorf("proposals error = %v, want 1", v)
	}
}

// Close while proposals wait: the queued ones get ErrClosed; afterwards
// Propose and ProposeAll get ErrClosed; Read still works.
func TestClose(t *testing.T) {
	cfg, reg := testConfig(t, t.TempDir())
	cfg.InFlightMax = 1
	g := openGroup(t, cfg)
	mustAllOK(t, g, setupCommands("C-1", "C-2"))
	entriesBefore := gathered(t, reg, "civicard_replication_batch_commands")
	if err := g.Ready(); err != nil {
		t.Fatalf("Ready on an open group: %v", err)
	}

	// Hold the ledger so the first top-up stays in flight and the second
	// stays queued.
	entered, release := make(chan struct{}), make(chan struct{})
	go g.Read(func(*ledger.State) {
		close(entered)
		<-release
	})
	<-entered
	errs := make(chan error, 2)
	go func() {
		_, err := g.Propose(t.Context(), topUp("topup/1", "C-1", 100))
		errs <- err
	}()
	waitFor(t, "the first top-up is in flight", func() bool {
		return gathered(t, reg, "civicard_replication_batch_commands") == entriesBefore+1
	})
	queued := make(chan error, 1)
	go func() {
		_, err := g.Propose(t.Context(), topUp("topup/2", "C-2", 100))
		queued <- err
	}()
	waitFor(t, "the second top-up is queued", func() bool { return len(g.queue) == 1 })

	closed := make(chan error, 1)
	go func() { closed <- g.Close() }()
	// The batcher stops before raft does (raft's shutdown waits for the held
	// ledger), so the queued proposal hears first.
	if err := <-queued; !errors.Is(err, ErrClosed) {
		t.Errorf("queued proposal at Close: %v, want ErrClosed", err)
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The one in flight either committed before the shutdown or hears
	// ErrClosed; either way it does not hang.
	if err := <-errs; err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("in-flight proposal at Close: %v", err)
	}

	if err := g.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close: %v, want ErrClosed", err)
	}
	if _, err := g.Propose(t.Context(), topUp("topup/3", "C-1", 100)); !errors.Is(err, ErrClosed) {
		t.Errorf("Propose after Close: %v, want ErrClosed", err)
	}
	if _, err := g.ProposeAll(t.Context(), []*ledgerv1.Command{topUp("topup/4", "C-1", 100)}); !errors.Is(err, ErrClosed) {
		t.Errorf("ProposeAll after Close: %v, want ErrClosed", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	g.Read(func(s *ledger.State) {
		if _, ok := s.Card("C-1"); !ok {
			t.Error("Read after Close lost the card")
		}
	})
}

// A log entry that is not a ledger batch is answered with an error, changes
// nothing, and does not stop the group, now or when the log is replayed.
func TestGarbageEntryDoesNotCrash(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	g := openGroup(t, cfg)
	mustAllOK(t, g, setupCommands("C-1"))
	before := g.Digest()

	f := g.raft.Apply([]byte{0xff, 0xff, 0xff, 0x07, 'g', 'a', 'r', 'b'}, time.Second)
	if err := f.Error(); err != nil {
		t.Fatalf("raft.Apply: %v", err)
	}
	if err, ok := f.Response().(error); !ok || !errors.Is(err, errCorruptEntry) {
		t.Fatalf("response to garbage: %v, want errCorruptEntry", f.Response())
	}
	if g.Digest() != before {
		t.Fatal("a garbage entry changed the ledger")
	}
	mustOK(t, g, topUp("topup/1", "C-1", 700))
	after := g.Digest()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}

	cfg2, _ := testConfig(t, dir)
	g2 := openGroup(t, cfg2)
	if g2.Digest() != after {
		t.Fatal("replaying a log with a garbage entry gave another ledger")
	}
}

// The FSM on its own: garbage, an empty entry, and an entry that decodes
// but holds nonsense commands.
func TestFSMApplyOddEntries(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	m, err := newMetrics(nil, func() int { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFSM(cfg.Ledger, cfg.Logger, m)
	if err != nil {
		t.Fatal(err)
	}
	if resp, ok := f.Apply(&raft.Log{Index: 1, Data: []byte{0x0a, 0xff}}).(error); !ok || !errors.Is(resp, errCorruptEntry) {
		t.Errorf("truncated entry: %v", resp)
	}
	if resp, ok := f.Apply(&raft.Log{Index: 2}).([]*ledgerv1.Result); !ok || len(resp) != 0 {
		t.Errorf("empty entry: %v", resp)
	}
	data, err := proto.Marshal(&ledgerv1.Batch{Commands: []*ledgerv1.Command{{}, {Id: "no-kind"}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := f.Apply(&raft.Log{Index: 3, Data: data}).([]*ledgerv1.Result)
	if !ok || len(resp) != 2 {
		t.Fatalf("entry of empty commands: %v", resp)
	}
	for _, r := range resp {
		if r.GetStatus() != ledgerv1.Status_STATUS_REJECTED {
			t.Errorf("empty command: %v", r)
		}
	}
	f.read(func(s *ledger.State) {
		if s.Sequence() != 0 {
			t.Errorf("odd entries recorded something: sequence %d", s.Sequence())
		}
	})
}

// Invalid commands are refused before they reach the log; a command that
// does not encode fails alone, not with its batch.
func TestProposeInvalid(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	g := openGroup(t, cfg)
	mustAllOK(t, g, setupCommands("C-1"))

	if _, err := g.Propose(t.Context(), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil command: %v", err)
	}
	huge := openCard(string(make([]byte, commandBytesMax)))
	if _, err := g.Propose(t.Context(), huge); !errors.Is(err, ErrInvalid) {
		t.Errorf("huge command: %v", err)
	}
	if _, err := g.ProposeAll(t.Context(), []*ledgerv1.Command{topUp("ok", "C-1", 1), nil}); !errors.Is(err, ErrInvalid) {
		t.Errorf("ProposeAll with a nil command: %v", err)
	}

	// Proposed together, so they likely share an entry: the bad one fails
	// alone. (proto3 strings must be UTF-8, so it does not encode.)
	var wg sync.WaitGroup
	var badErr, goodErr error
	var good *ledgerv1.Result
	wg.Go(func() { _, badErr = g.Propose(t.Context(), topUp("bad\xff", "C-1", 1)) })
	wg.Go(func() { good, goodErr = g.Propose(t.Context(), topUp("good", "C-1", 1)) })
	wg.Wait()
	if !errors.Is(badErr, ErrInvalid) {
		t.Errorf("non-UTF-8 id: %v", badErr)
	}
	if goodErr != nil || good.GetStatus() != ledgerv1.Status_STATUS_OK {
		t.Errorf("its neighbour: %v %v", good, goodErr)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := g.Propose(ctx, topUp("late", "C-1", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// ProposeAll splits a bulk load into entries of at most BatchMax commands
// and answers in order.
func TestProposeAllSplitsIntoEntries(t *testing.T) {
	cfg, reg := testConfig(t, t.TempDir())
	cfg.BatchMax = 100
	g := openGroup(t, cfg)
	mustAllOK(t, g, setupCommands())
	entriesBefore := gathered(t, reg, "civicard_replication_batch_commands")

	const n = 1050
	cmds := make([]*ledgerv1.Command, n)
	for i := range cmds {
		cmds[i] = openCard(fmt.Sprintf("C-%05d", i))
	}
	results := mustAllOK(t, g, cmds)
	for i, r := range results {
		if want := fmt.Sprintf("C-%05d", i); r.GetCard().GetCardId() != want {
			t.Fatalf("result %d is for card %s, want %s", i, r.GetCard().GetCardId(), want)
		}
	}
	if entries := gathered(t, reg, "civicard_replication_batch_commands") - entriesBefore; entries != 11 {
		t.Errorf("%v entries for %d commands of at most 100", entries, n)
	}
	g.Read(func(s *ledger.State) {
		if got := s.Totals().Cards; got != n {
			t.Errorf("%d cards, want %d", got, n)
		}
	})
}

// An OpenSingle that gives up (its context ends before the election) leaves
// nothing behind: the directory, the lock and the registry can be used again.
func TestOpenGivesUpCleanly(t *testing.T) {
	dir := t.TempDir()
	cfg, reg := testConfig(t, dir)
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	if g, err := OpenSingle(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) {
		if g != nil {
			g.Close()
		}
		t.Fatalf("OpenSingle with no time to elect: %v, want DeadlineExceeded", err)
	}

	g := openGroup(t, cfg) // same directory, same registry
	mustAllOK(t, g, setupCommands("C-1"))
	if v := gathered(t, reg, "civicard_replication_is_leader"); v != 1 {
		t.Errorf("is_leader = %v", v)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := DefaultConfig()
	valid.Dir, valid.NodeID = "/tmp/x", "n1"
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no dir":          func(c *Config) { c.Dir = "" },
		"no node id":      func(c *Config) { c.NodeID = "" },
		"bad ledger":      func(c *Config) { c.Ledger.Currency = "zł" },
		"batch 0":         func(c *Config) { c.BatchMax = 0 },
		"batch huge":      func(c *Config) { c.BatchMax = batchMaxLimit + 1 },
		"in flight 0":     func(c *Config) { c.InFlightMax = 0 },
		"queue 0":         func(c *Config) { c.QueueMax = 0 },
		"apply timeout 0": func(c *Config) { c.ApplyTimeout = 0 },
		"threshold 0":     func(c *Config) { c.SnapshotThreshold = 0 },
		"interval 1ns":    func(c *Config) { c.SnapshotInterval = 1 },
		"global registry": func(c *Config) { c.Registerer = prometheus.DefaultRegisterer },
	} {
		c := valid
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
		if _, err := OpenSingle(t.Context(), c); err == nil {
			t.Errorf("%s: OpenSingle accepted it", name)
		}
	}
	// The raft settings we derive pass raft's own validation.
	if err := raft.ValidateConfig(raftConfig(valid, newHCLogger(valid.Logger, 0), nil)); err != nil {
		t.Errorf("raft config: %v", err)
	}
}
