package sim

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/cluster"
	"civicard/demo"
	"civicard/internal/procnode"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/terminals"
)

// benchCity is `civicard up` in its own process, shared by the benchmarks
// of one `go test` run: this process is the load generator.
type benchCity struct {
	node      *procnode.Node
	terminals []Terminal
	cards     []string
	nextSeq   uint64
}

var (
	benchOnce sync.Once
	bench     *benchCity
	benchErr  error
	benchDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bench != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := bench.node.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		cancel()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchCards are the cards the benchmark taps, each topped up to the
// maximum first so that taps are accepted, not declined.
const benchCards = 4000

func startBenchCity(b *testing.B) *benchCity {
	benchOnce.Do(func() { bench, benchErr = newBenchCity() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

func newBenchCity() (*benchCity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := procnode.ModuleRoot()
	if err != nil {
		return nil, err
	}
	if benchDir, err = os.MkdirTemp("", "civicard-bench-"); err != nil {
		return nil, err
	}
	bin, err := procnode.Build(ctx, root, benchDir)
	if err != nil {
		return nil, err
	}
	node := &procnode.Node{Bin: bin, DataDir: filepath.Join(benchDir, "data"), Args: []string{"--log-level", "warn"}, Log: os.Stderr}
	if err := node.Start(ctx); err != nil {
		return nil, err
	}
	key, err := cluster.ReadSecret(node.DataDir, cluster.CredentialKeyFile)
	if err != nil {
		return nil, err
	}
	operator, err := cluster.ReadSecret(node.DataDir, cluster.OperatorTokenFile)
	if err != nil {
		return nil, err
	}
	cfg := demo.DefaultConfig()
	cfg.CredentialKey = []byte(key)
	city, err := demo.Generate(cfg)
	if err != nil {
		return nil, err
	}
	c := &benchCity{node: node, nextSeq: 1}
	for _, seed := range city.Terminals {
		c.terminals = append(c.terminals, Terminal{ID: seed.Terminal.GetTerminalId(), Credential: seed.Credential})
	}
	api := civicardv1connect.NewCardServiceClient(http.DefaultClient, node.BaseURL, terminals.WithCredential(operator))
	for _, card := range city.Cards[:benchCards] {
		if _, err := api.TopUp(ctx, connect.NewRequest(&civicardv1.TopUpRequest{
			CardId:    card.CardID,
			Amount:    &civicardv1.Money{Currency: "PLN", MinorUnits: 20000 - card.BalanceMinor},
			RequestId: "bench-fill-" + card.CardID,
		})); err != nil && connect.CodeOf(err) != connect.CodeFailedPrecondition {
			return nil, fmt.Errorf("fill card %s: %w", card.CardID, err)
		}
		c.cards = append(c.cards, card.CardID)
	}
	return c, nil
}

// BenchmarkTapHTTP sends b.N taps through the gateway's HTTP API (Connect,
// binary protobuf) into `civicard up`, from 64 and 256 concurrent terminals.
func BenchmarkTapHTTP(b *testing.B) {
	for _, terminalsConcurrent := range []int{64, 256} {
		b.Run(fmt.Sprintf("terminals=%d", terminalsConcurrent), func(b *testing.B) {
			city := startBenchCity(b)
			cfg := LoadConfig{
				BaseURL:       city.node.BaseURL,
				Terminals:     city.terminals,
				Cards:         city.cards,
				Concurrency:   terminalsConcurrent,
				Taps:          b.N,
				FirstSequence: city.nextSeq,
				Seed:          uint64(b.N),
				Now:           time.Now,
			}
			city.nextSeq += uint64(b.N) + 1
			serverBefore, err := processCPU(city.node.Pid())
			if err != nil {
				b.Fatal(err)
			}
			clientBefore := selfCPU()
			b.ResetTimer()
			report, err := Load(context.Background(), cfg)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			serverAfter, err := processCPU(city.node.Pid())
			if err != nil {
				b.Fatal(err)
			}
			summary := report.Summarize()
			if summary.Errors > 0 {
				b.Fatalf("%d of %d taps failed, first: %v", summary.Errors, summary.Taps, firstError(report))
			}
			b.ReportMetric(summary.TapsPerSecond, "taps/s")
			b.ReportMetric(float64(summary.LatencyP50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(summary.LatencyP99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64((serverAfter-serverBefore).Microseconds())/float64(summary.Taps), "server-cpu-us/tap")
			b.ReportMetric(float64((selfCPU()-clientBefore).Microseconds())/float64(summary.Taps), "loadgen-cpu-us/tap")
			b.ReportMetric(float64(summary.Declined), "declined")
		})
	}
}

func firstError(r *Report) error {
	for _, tap := range r.Taps {
		if tap.Err != nil {
			return tap.Err
		}
	}
	return nil
}

// processCPU is the user+system CPU time pid has used, from /proc.
func processCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	const clockTicksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

func selfCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
