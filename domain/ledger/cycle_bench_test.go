package ledger_test

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// BenchmarkCycleClose5M closes a clearing cycle of 5 million charges (100,000
// cards, 120 institutions): the close walks every posting once to decide
// each transaction's fee. Building the history is not timed; run it once:
//
//	go test -run '^$' -bench CycleClose5M -benchtime 1x -benchmem ./ledger
//
// ns/op and B/op are the close's; ledger-MiB is the heap the ledger holds
// with the 5 million transfers in it, statement-ms the time to list one
// institution's 1/120 of the cycle.
func BenchmarkCycleClose5M(b *testing.B) {
	const (
		transfers    = 5_000_000
		cards        = 100_000
		institutions = 120
	)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := cycleHistory(b, transfers, cards, institutions)
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "ledger-MiB")
		close := &ledgerv1.Command{Id: ledger.CycleCloseID(1), Kind: &ledgerv1.Command_CycleClose{CycleClose: &ledgerv1.CycleClose{
			Cycle: 1, Fee: &civicardv1.CycleFeePolicy{BasisPoints: 150, PerTransactionMinor: 1},
		}}}
		b.StartTimer()
		res := s.Apply(close)
		b.StopTimer()
		if res.GetStatus() != ledgerv1.Status_STATUS_OK {
			b.Fatal(res.GetError())
		}
		totals, _ := s.CycleTotals(1)
		var n uint64
		for _, it := range totals.GetInstitutions() {
			n += it.GetTransactions()
		}
		if n != transfers {
			b.Fatalf("the cycle holds %d transactions, want %d", n, transfers)
		}
		start := time.Now()
		lines, err := s.Statement(1, "I7")
		if err != nil || len(lines) == 0 {
			b.Fatalf("statement: %d lines, %v", len(lines), err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "statement-ms")
		runtime.KeepAlive(s)
	}
}

// cycleHistory is a ledger with n charges of 1 grosz over the cards and
// institutions, round robin.
func cycleHistory(b *testing.B, n, cards, institutions int) *ledger.State {
	s := newState(b, ledger.DefaultConfig())
	for i := range institutions {
		mustApply(b, s, cmdInstitution(fmt.Sprintf("reg/I%d", i), fmt.Sprintf("I%d", i)))
	}
	cardIDs := make([]string, cards)
	versions := make([]uint64, cards)
	for i := range cards {
		cardIDs[i] = "C" + strconv.Itoa(i)
		mustApply(b, s, cmdOpen("open/"+cardIDs[i], cardIDs[i]), cmdTopUp("top/"+cardIDs[i], cardIDs[i], 20000))
		versions[i] = 2
	}
	instIDs := make([]string, institutions)
	for i := range instIDs {
		instIDs[i] = fmt.Sprintf("I%d", i)
	}
	for j := range n {
		c := j % cards
		cmd := cmdCharge("tap/T1/"+strconv.Itoa(j), cardIDs[c], versions[c], 1, instIDs[j%institutions])
		if res := s.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
			b.Fatalf("charge %d: %v", j, res)
		}
		versions[c]++
	}
	return s
}
