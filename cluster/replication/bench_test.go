//go:build unix

package replication

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ledgerv1 "civicard/messages/ledger/v1"
)

// BenchmarkCharges is the Raft-only ceiling that the gateway's benchmark is
// compared with: concurrent proposers, each charging 1 grosz at a time to a
// card of its own through Propose (no HTTP, no actors), on one group with
// its log on disk. Each proposer keeps its card's version from the previous
// Result, as a card grain does.
//
// Reported: taps/s, p50-ms and p99-ms (Propose latency), and cpu-us/tap
// (user+system CPU of the whole process, which includes the proposers, per
// tap).
func BenchmarkCharges(b *testing.B) {
	for _, proposers := range []int{64, 256} {
		// The group outlives the sub-benchmark's calls (b.N grows from 1):
		// it is opened and funded once, here.
		cb := newChargeBench(b, proposers)
		b.Run(fmt.Sprintf("proposers=%d", proposers), cb.run)
		if err := cb.g.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// chargeBench is one group with one well-funded card per proposer.
type chargeBench struct {
	g        *Group
	cards    []string
	versions []uint64 // versions[i]: cards[i]'s version after its last tap
	seq      uint64   // the last terminal sequence used
}

func newChargeBench(b *testing.B, proposers int) *chargeBench {
	cfg, _ := testConfig(b, b.TempDir())
	// Well funded: a billion grosz each, far more than any run spends.
	cfg.Ledger.BalanceMaxMinor = 1_000_000_000
	cfg.Ledger.AmountMaxMinor = 1_000_000_000
	g := openGroup(b, cfg)

	cb := &chargeBench{g: g, cards: make([]string, proposers), versions: make([]uint64, proposers)}
	for i := range cb.cards {
		cb.cards[i] = fmt.Sprintf("B-%04d", i)
	}
	mustAllOK(b, g, setupCommands(cb.cards...))
	fund := make([]*ledgerv1.Command, proposers)
	for i, c := range cb.cards {
		fund[i] = topUp("fund/"+c, c, cfg.Ledger.AmountMaxMinor)
	}
	for i, r := range mustAllOK(b, g, fund) {
		cb.versions[i] = r.GetCard().GetVersion()
	}
	return cb
}

func (cb *chargeBench) run(b *testing.B) {
	cb.seq = runCharges(b, cb.cards, cb.versions, cb.seq, func(_ int, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
		return cb.g.Propose(b.Context(), cmd)
	})
}

// runCharges runs b.N charges of 1 grosz from len(cards) concurrent
// proposers, proposer p charging cards[p] through propose(p, ...) and
// keeping versions[p] up to date, with terminal sequences after seq; it
// reports taps/s, p50-ms, p99-ms and cpu-us/tap, and returns the last
// sequence used.
func runCharges(b *testing.B, cards []string, versions []uint64, seq0 uint64,
	propose func(p int, cmd *ledgerv1.Command) (*ledgerv1.Result, error)) uint64 {
	proposers := len(cards)
	latencies := make([][]time.Duration, proposers)
	var next atomic.Int64
	var seq atomic.Uint64
	seq.Store(seq0)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range proposers {
		wg.Go(func() {
			card, lat := cards[p], make([]time.Duration, 0, b.N/proposers+1)
			defer func() { latencies[p] = lat }()
			for next.Add(1) <= int64(b.N) {
				cmd := charge(seq.Add(1), card, versions[p], 1)
				t0 := time.Now()
				res, err := propose(p, cmd)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Errorf("Propose: %v", err)
					return
				}
				if res.GetStatus() != ledgerv1.Status_STATUS_OK {
					b.Errorf("charge: %v %s", res.GetStatus(), res.GetError())
					return
				}
				versions[p] = res.GetCard().GetVersion()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime(b) - cpu0

	all := slices.Concat(latencies...)
	if len(all) == 0 {
		return seq.Load()
	}
	slices.Sort(all)
	pct := func(q float64) float64 {
		return float64(all[int(q*float64(len(all)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "taps/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(b.N), "cpu-us/tap")
	return seq.Load()
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHostCharges is BenchmarkCharges on a 3-node cluster in this
// process: three Hosts on 127.0.0.1, one ledger shard with three voters,
// each with its log on disk (all three on this machine's one disk and two
// cores, so it measures the cost of replication, not its benefit).
//
// via=spread: the proposers are spread evenly over the three hosts, as card
// grains are over the nodes, so two thirds of the proposals are forwarded
// to the leader. via=leader: every proposer calls the leader's host.
// cpu-us/tap is the CPU of the whole process: all three replicas, the
// forwarding on both ends and the proposers.
func BenchmarkHostCharges(b *testing.B) {
	const group = "shard-0"
	for _, proposers := range []int{64, 256} {
		for _, via := range []string{"spread", "leader"} {
			hosts := startCluster(b, 3, group)
			cards := make([]string, proposers)
			for i := range cards {
				cards[i] = fmt.Sprintf("B-%04d", i)
			}
			leader := leaderOf(b, hosts, group)
			hostAllOK(b, leader, group, setupCommands(cards...))
			fund := make([]*ledgerv1.Command, proposers)
			for i, c := range cards {
				fund[i] = topUp("fund/"+c, c, 1_000_000_000)
			}
			versions := make([]uint64, proposers)
			for i, r := range hostAllOK(b, leader, group, fund) {
				versions[i] = r.GetCard().GetVersion()
			}
			var seq uint64
			b.Run(fmt.Sprintf("proposers=%d/via=%s", proposers, via), func(b *testing.B) {
				seq = runCharges(b, cards, versions, seq, func(p int, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
					h := leader
					if via == "spread" {
						h = hosts[p%len(hosts)]
					}
					return h.Propose(b.Context(), group, cmd)
				})
			})
			for _, h := range hosts {
				if err := h.Close(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
