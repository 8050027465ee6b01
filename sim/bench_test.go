package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/cluster"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/sim/baseline"
	"civicard/sim/demo"
	"civicard/sim/procnode"
	"civicard/terminals"
)

// The benchmarks drive every system with the same load generator (Load),
// the same cards and the same concurrency, in one run, and TestMain prints
// them side by side:
//
//	raft-only ceiling   replication.Group.Propose in this process
//	http-only ceiling   a process that answers every tap at once over the same API
//	civicard embedded   `civicard up` in its own process, taps over HTTP
//	civicard 3 nodes    three `civicard node` processes, taps over HTTP to all of them
//	postgresql 15       one UPDATE + INSERT transaction per tap, synchronous commit

// benchCards are the cards every benchmark taps, each holding the maximum
// balance first so that taps are accepted, not declined.
const (
	benchCards     = 4000
	benchFareMinor = 340
)

var concurrencies = []int{64, 256}

// result is one row of the table.
type result struct {
	system     string
	terminals  int
	summary    Summary
	serverCPU  time.Duration // of the system under test, per tap
	loadgenCPU time.Duration // of this process, per tap
}

var (
	resultsMu sync.Mutex
	results   []result
	cleanups  []func()
)

func TestMain(m *testing.M) {
	if os.Getenv(httpCeilingEnv) != "" {
		if err := serveHTTPCeiling(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	code := m.Run()
	for _, cleanup := range slices.Backward(cleanups) {
		cleanup()
	}
	printTable()
	os.Exit(code)
}

func record(r result) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, r)
}

func printTable() {
	if len(results) == 0 {
		return
	}
	fmt.Printf("\n%-20s %9s %9s %8s %8s %16s %16s\n", "system", "terminals", "taps/s", "p50 ms", "p99 ms", "server µs CPU/tap", "loadgen µs CPU/tap")
	byKey := map[string]result{}
	for _, r := range results {
		fmt.Printf("%-20s %9d %9.0f %8.2f %8.2f %16.0f %16.0f\n", r.system, r.terminals, r.summary.TapsPerSecond,
			ms(r.summary.LatencyP50), ms(r.summary.LatencyP99), us(r.serverCPU), us(r.loadgenCPU))
		byKey[fmt.Sprintf("%s/%d", r.system, r.terminals)] = r
	}
	for _, system := range []string{systemEmbedded, systemCluster3} {
		for _, n := range concurrencies {
			c, okC := byKey[fmt.Sprintf("%s/%d", system, n)]
			p, okP := byKey[fmt.Sprintf("%s/%d", systemPostgres, n)]
			if okC && okP && p.summary.TapsPerSecond > 0 {
				fmt.Printf("%s / postgresql at %d terminals: %.2fx taps/s, p99 %.1f ms vs %.1f ms\n", system, n,
					c.summary.TapsPerSecond/p.summary.TapsPerSecond, ms(c.summary.LatencyP99), ms(p.summary.LatencyP99))
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

const (
	systemCeiling  = "raft-only ceiling"
	systemHTTP     = "http-only ceiling"
	systemEmbedded = "civicard embedded"
	systemCluster3 = "civicard 3 nodes"
	systemPostgres = "postgresql 15"
)

// runLoad runs b.N taps through tapper at the given concurrency, reports
// them and adds a row to the table. serverCPU reads the CPU time of the
// system under test (nil when it runs in this process).
func runLoad(b *testing.B, system string, tapper Tapper, cards []string, terminalsConcurrent int, firstSequence uint64, serverCPU func() (time.Duration, error)) {
	cfg := LoadConfig{Tapper: tapper, Cards: cards, Concurrency: terminalsConcurrent, Taps: b.N, FirstSequence: firstSequence, Seed: uint64(b.N), Now: time.Now}
	var serverBefore time.Duration
	if serverCPU != nil {
		var err error
		if serverBefore, err = serverCPU(); err != nil {
			b.Fatal(err)
		}
	}
	clientBefore := selfCPU()
	b.ResetTimer()
	report, err := Load(context.Background(), cfg)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	clientUsed := selfCPU() - clientBefore
	s := report.Summarize()
	if s.Errors > 0 {
		b.Fatalf("%d of %d taps failed, first: %v", s.Errors, s.Taps, firstError(report))
	}
	if s.Declined > 0 {
		b.Fatalf("%d of %d taps declined: every system must do the same work, a charge", s.Declined, s.Taps)
	}
	r := result{system: system, terminals: terminalsConcurrent, summary: s, loadgenCPU: clientUsed / time.Duration(s.Taps)}
	if serverCPU != nil {
		serverAfter, err := serverCPU()
		if err != nil {
			b.Fatal(err)
		}
		r.serverCPU = (serverAfter - serverBefore) / time.Duration(s.Taps)
	} else {
		// In process: the system and the load generator share the CPU.
		r.serverCPU, r.loadgenCPU = r.loadgenCPU, 0
	}
	b.ReportMetric(s.TapsPerSecond, "taps/s")
	b.ReportMetric(ms(s.LatencyP50), "p50-ms")
	b.ReportMetric(ms(s.LatencyP99), "p99-ms")
	b.ReportMetric(us(r.serverCPU), "server-cpu-us/tap")
	b.ReportMetric(float64(s.Declined), "declined")
	if b.N >= 1000 { // the calibration run with b.N == 1 is no row
		record(r)
	}
}

var (
	cardsOnce sync.Once
	cardIDs   []string
)

// benchCardIDs are the demo city's first benchCards card numbers (the same
// for every credential key).
func benchCardIDs(b *testing.B) []string {
	cardsOnce.Do(func() {
		cfg := demo.DefaultConfig()
		cfg.CredentialKey = []byte("cards-do-not-depend-on-this-key")
		data, err := demo.Generate(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, card := range data.Cards[:benchCards] {
			cardIDs = append(cardIDs, card.CardID)
		}
	})
	return cardIDs
}

func BenchmarkCeiling(b *testing.B) {
	var tapper *LedgerTapper
	for _, n := range concurrencies {
		b.Run(fmt.Sprintf("terminals=%d", n), func(b *testing.B) {
			if tapper == nil {
				dir, err := os.MkdirTemp("", "civicard-ceiling-")
				if err != nil {
					b.Fatal(err)
				}
				if tapper, err = NewLedgerTapper(context.Background(), dir, benchCardIDs(b), benchFareMinor); err != nil {
					b.Fatal(err)
				}
				cleanups = append(cleanups, func() { tapper.Close(); os.RemoveAll(dir) })
			}
			runLoad(b, systemCeiling, tapper, benchCardIDs(b), n, nextSequence(b.N), nil)
		})
	}
}

// BenchmarkHTTPCeiling taps a server that does nothing but answer: the same
// load generator, API and HTTP stack as the gateway's, with no grain, no
// ledger and no disk behind it. What it reaches is the most any system
// served over this API can reach on this machine with this load generator
// beside it.
func BenchmarkHTTPCeiling(b *testing.B) {
	for _, n := range concurrencies {
		b.Run(fmt.Sprintf("terminals=%d", n), func(b *testing.B) {
			httpCeiling.once.Do(func() { httpCeiling.url, httpCeiling.pid, httpCeiling.err = startHTTPCeiling() })
			if httpCeiling.err != nil {
				b.Fatal(httpCeiling.err)
			}
			var terms []Terminal
			for i := range n {
				terms = append(terms, Terminal{ID: fmt.Sprintf("T-HTTP-%03d", i), Credential: "http-only"})
			}
			tapper := NewGatewayTapper([]string{httpCeiling.url}, terms)
			defer tapper.Close()
			runLoad(b, systemHTTP, tapper, benchCardIDs(b), n, nextSequence(b.N), func() (time.Duration, error) { return processCPU(httpCeiling.pid) })
		})
	}
}

// httpCeiling is the HTTP-only server, shared by the runs.
var httpCeiling struct {
	once sync.Once
	url  string
	pid  int
	err  error
}

// httpCeilingEnv makes this test binary serve the HTTP-only ceiling (in a
// process of its own, so that its CPU is counted apart from the load
// generator's) instead of running the benchmarks.
const httpCeilingEnv = "CIVICARD_BENCH_SERVE_HTTP_CEILING"

// startHTTPCeiling starts this test binary as the HTTP-only server and returns
// the address it printed.
func startHTTPCeiling() (url string, pid int, err error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), httpCeilingEnv+"=1")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, fmt.Errorf("start the http-only ceiling: %w", err)
	}
	cleanups = append(cleanups, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return "", 0, fmt.Errorf("the http-only ceiling printed no address: %w", err)
	}
	return "http://" + strings.TrimSpace(addr), cmd.Process.Pid, nil
}

// serveHTTPCeiling answers every tap as accepted, with an answer of the
// gateway's shape, until killed.
func serveHTTPCeiling() error {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(listener.Addr())
	mux := http.NewServeMux()
	mux.Handle(civicardv1connect.NewTerminalServiceHandler(httpCeilingHandler{}))
	return http.Serve(listener, mux)
}

type httpCeilingHandler struct {
	civicardv1connect.UnimplementedTerminalServiceHandler
}

func (httpCeilingHandler) Tap(_ context.Context, req *connect.Request[civicardv1.TapRequest]) (*connect.Response[civicardv1.TapResponse], error) {
	return connect.NewResponse(&civicardv1.TapResponse{
		Result:        civicardv1.TapResult_TAP_RESULT_ACCEPTED,
		Charged:       &civicardv1.Money{Currency: "PLN", MinorUnits: benchFareMinor},
		Balance:       &civicardv1.Money{Currency: "PLN", MinorUnits: 20000 - benchFareMinor},
		TransactionId: fmt.Sprintf("%s/%d", req.Msg.GetTerminalId(), req.Msg.GetSequence()),
	}), nil
}

// benchSystem is civicard in its own processes (one embedded node, or the
// nodes of a cluster), shared by the runs of one `go test`.
type benchSystem struct {
	once      sync.Once
	nodes     []*procnode.Node
	cards     []string
	terminals []Terminal
	err       error
}

var (
	embedded benchSystem
	cluster3 benchSystem
)

// start starts the system once: nodes == 0 is `civicard up`, else a
// cluster of that many `civicard node` processes.
func (sys *benchSystem) start(b *testing.B, nodes int) {
	sys.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		sys.err = sys.launch(ctx, nodes)
	})
	if sys.err != nil {
		b.Fatal(sys.err)
	}
}

func (sys *benchSystem) launch(ctx context.Context, nodes int) error {
	dir, err := os.MkdirTemp("", "civicard-bench-")
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	root, err := procnode.ModuleRoot()
	if err != nil {
		return err
	}
	bin, err := procnode.Build(ctx, root, dir)
	if err != nil {
		return err
	}
	secrets := filepath.Join(dir, "data")
	if nodes == 0 {
		sys.nodes = []*procnode.Node{{Bin: bin, DataDir: secrets, Args: []string{"--log-level", "warn"}, Log: os.Stderr}}
	} else {
		ports, err := procnode.FreeNodePorts(nodes)
		if err != nil {
			return err
		}
		var peers []string
		for i, p := range ports {
			peers = append(peers, fmt.Sprintf("n%d=%s=%s", i+1, p.ActorAddr(), p.RaftAddr()))
		}
		secrets = filepath.Join(dir, "secrets")
		for i := range nodes {
			data := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
			sys.nodes = append(sys.nodes, &procnode.Node{Bin: bin, DataDir: data, Log: os.Stderr,
				Command: []string{"node", "--name", fmt.Sprintf("n%d", i+1), "--peers", strings.Join(peers, ","),
					"--data", data, "--secrets", secrets, "--http", "127.0.0.1:0", "--demo", "--log-level", "warn"}})
		}
	}
	errs := make([]error, len(sys.nodes))
	var wg sync.WaitGroup
	for i, node := range sys.nodes {
		wg.Go(func() { errs[i] = node.Start(ctx) })
	}
	wg.Wait()
	for _, node := range sys.nodes {
		cleanups = append(cleanups, func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := node.Stop(stopCtx); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		})
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return sys.fillCards(ctx, secrets)
}

// fillCards tops the bench cards up to the maximum balance.
func (sys *benchSystem) fillCards(ctx context.Context, secrets string) error {
	key, err := cluster.ReadSecret(secrets, cluster.CredentialKeyFile)
	if err != nil {
		return err
	}
	operator, err := cluster.ReadSecret(secrets, cluster.OperatorTokenFile)
	if err != nil {
		return err
	}
	cfg := demo.DefaultConfig()
	cfg.CredentialKey = []byte(key)
	data, err := demo.Generate(cfg)
	if err != nil {
		return err
	}
	api := civicardv1connect.NewCardServiceClient(http.DefaultClient, sys.nodes[0].BaseURL, terminals.WithCredential(operator))
	for _, card := range data.Cards[:benchCards] {
		sys.cards = append(sys.cards, card.CardID)
		if _, err := api.TopUp(ctx, connect.NewRequest(&civicardv1.TopUpRequest{
			CardId:    card.CardID,
			Amount:    &civicardv1.Money{Currency: "PLN", MinorUnits: 20000 - card.BalanceMinor},
			RequestId: "bench-fill-" + card.CardID,
		})); err != nil && connect.CodeOf(err) != connect.CodeFailedPrecondition {
			return fmt.Errorf("fill card %s: %w", card.CardID, err)
		}
	}
	// Validators only, as in the other systems every tap is a fare: an
	// office's fee is over the no-PIN limit and would be declined.
	transport := map[string]bool{}
	for _, inst := range data.Institutions {
		transport[inst.GetInstitutionId()] = inst.GetKind() == civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT
	}
	for _, t := range data.Terminals {
		if transport[t.Terminal.GetInstitutionId()] {
			sys.terminals = append(sys.terminals, Terminal{ID: t.Terminal.GetTerminalId(), Credential: t.Credential})
		}
	}
	if len(sys.terminals) < slices.Max(concurrencies) {
		return fmt.Errorf("the demo city has %d validators, the bench needs %d", len(sys.terminals), slices.Max(concurrencies))
	}
	return nil
}

// run taps through every node's gateway (terminal w through node w mod n)
// and counts the CPU of every node process.
func (sys *benchSystem) run(b *testing.B, system string, terminalsConcurrent int) {
	var urls []string
	for _, node := range sys.nodes {
		urls = append(urls, node.BaseURL)
	}
	tapper := NewGatewayTapper(urls, sys.terminals[:terminalsConcurrent])
	defer tapper.Close()
	runLoad(b, system, tapper, sys.cards, terminalsConcurrent, nextSequence(b.N), func() (time.Duration, error) {
		var total time.Duration
		for _, node := range sys.nodes {
			used, err := processCPU(node.Pid())
			if err != nil {
				return 0, err
			}
			total += used
		}
		return total, nil
	})
}

func BenchmarkEmbedded(b *testing.B) {
	for _, n := range concurrencies {
		b.Run(fmt.Sprintf("terminals=%d", n), func(b *testing.B) {
			embedded.start(b, 0)
			embedded.run(b, systemEmbedded, n)
		})
	}
}

func BenchmarkCluster3(b *testing.B) {
	for _, n := range concurrencies {
		b.Run(fmt.Sprintf("terminals=%d", n), func(b *testing.B) {
			cluster3.start(b, 3)
			cluster3.run(b, systemCluster3, n)
		})
	}
}

// postgres is the baseline server, shared by the runs.
var postgres struct {
	once   sync.Once
	server *baseline.Server
	tapper *baseline.Tapper
	err    error
}

func BenchmarkPostgres(b *testing.B) {
	if !baseline.Available() {
		b.Skip("PostgreSQL 15 is not installed: run scripts/postgres-install.sh (make bench does)")
	}
	for _, n := range concurrencies {
		b.Run(fmt.Sprintf("terminals=%d", n), func(b *testing.B) {
			postgres.once.Do(func() {
				ctx := context.Background()
				dir, err := os.MkdirTemp("", "civicard-postgres-")
				if err != nil {
					postgres.err = err
					return
				}
				cleanups = append(cleanups, func() { os.RemoveAll(dir) })
				if postgres.server, postgres.err = baseline.Start(ctx, filepath.Join(dir, "pg"), slices.Max(concurrencies)); postgres.err != nil {
					return
				}
				cleanups = append(cleanups, func() {
					if err := postgres.server.Stop(context.Background()); err != nil {
						fmt.Fprintln(os.Stderr, err)
					}
				})
				var cards []baseline.Card
				for _, id := range benchCardIDs(b) {
					cards = append(cards, baseline.Card{ID: id, BalanceMinor: 20000})
				}
				postgres.tapper, postgres.err = baseline.NewTapper(ctx, postgres.server.DSN(), cards, slices.Max(concurrencies), benchFareMinor)
				if postgres.err == nil {
					cleanups = append(cleanups, postgres.tapper.Close)
				}
			})
			if postgres.err != nil {
				b.Fatal(postgres.err)
			}
			pid, err := postgres.server.PostmasterPid()
			if err != nil {
				b.Fatal(err)
			}
			runLoad(b, systemPostgres, postgres.tapper, benchCardIDs(b), n, nextSequence(b.N), func() (time.Duration, error) { return processTreeCPU(pid) })
		})
	}
}

var sequenceNext uint64 = 1

// nextSequence reserves n terminal sequence numbers for one run: runs
// against the same ledger must never reuse one.
func nextSequence(n int) uint64 {
	first := sequenceNext
	sequenceNext += uint64(n) + 1
	return first
}

func firstError(r *Report) error {
	for _, tap := range r.Taps {
		if tap.Err != nil {
			return tap.Err
		}
	}
	return nil
}

// processCPU is the CPU time pid has used, summed over its threads from
// /proc/PID/task/*/schedstat, which counts nanoseconds (/proc/PID/stat
// counts 10 ms ticks per process: a server of many busy-for-a-moment
// workers would round to nothing).
func processCPU(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, task := range tasks {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		fields := strings.Fields(string(raw))
		if len(fields) < 1 {
			continue
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/task/%s/schedstat: %w", pid, task.Name(), err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// processTreeCPU is the CPU time of pid and its children (a PostgreSQL
// server: the postmaster and its backends).
func processTreeCPU(pid int) (time.Duration, error) {
	total, err := processCPU(pid)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid || parentOf(child) != pid {
			continue
		}
		if used, err := processCPU(child); err == nil { // else it ended
			total += used
		}
	}
	return total, nil
}

// parentOf returns the parent of pid, or 0.
func parentOf(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	stat := string(raw)
	// After the command name, which is in parentheses and may hold spaces:
	// state, then the parent's pid.
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	parent, _ := strconv.Atoi(fields[1])
	return parent
}

func selfCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
