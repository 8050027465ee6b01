package ledger_test

import (
	"runtime"
	"strconv"
	"testing"

	"civicard/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
)

// BenchmarkApplyCharge measures Apply for successful charges spread over
// 10,000 cards, the hot path of a tap. The commands are built outside the
// timer, in chunks; B/result is the heap each stored charge result keeps
// (result, card state, transaction, money, id, map and log entries).
func BenchmarkApplyCharge(b *testing.B) {
	const cards = 10_000
	s := newState(b, ledger.DefaultConfig())
	mustApply(b, s, cmdInstitution("reg", "I1"))
	versions := make([]uint64, cards)
	cardIDs := make([]string, cards)
	for i := range cards {
		cardIDs[i] = "C" + strconv.Itoa(i)
		mustApply(b, s, cmdOpen("open/"+cardIDs[i], cardIDs[i]), cmdTopUp("top/"+cardIDs[i], cardIDs[i], 20000))
		versions[i] = 2
	}

	const chunk = 100_000
	cmds := make([]*ledgerv1.Command, 0, chunk)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%chunk == 0 {
			b.StopTimer()
			cmds = cmds[:0]
			for j := i; j < min(i+chunk, b.N); j++ {
				c := j % cards
				if versions[c] >= 20001 {
					b.Fatal("card exhausted; raise cards")
				}
				cmds = append(cmds, cmdCharge("tap/T1/"+strconv.Itoa(j), cardIDs[c], versions[c], 1, "I1"))
				versions[c]++
			}
			b.StartTimer()
		}
		if res := s.Apply(cmds[i%chunk]); res.GetStatus() != ledgerv1.Status_STATUS_OK {
			b.Fatalf("charge %d: %v", i, res)
		}
	}
	b.StopTimer()
	cmds = nil
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(int64(ms.HeapAlloc)-int64(heapBefore))/float64(b.N), "B/result")
	runtime.KeepAlive(s)
}

// BenchmarkSnapshot measures writing a snapshot of 10,000 cards and 50,000
// results, and the cost of Freeze under the lock.
func BenchmarkSnapshot(b *testing.B) {
	s := newState(b, ledger.DefaultConfig())
	mustApply(b, s, cmdInstitution("reg", "I1"))
	for i := range 10_000 {
		id := "C" + strconv.Itoa(i)
		mustApply(b, s, cmdOpen("open/"+id, id), cmdTopUp("top/"+id, id, 20000))
		for v := uint64(2); v < 5; v++ {
			mustApply(b, s, cmdCharge("tap/"+id+"/"+strconv.FormatUint(v, 10), id, v, 100, "I1"))
		}
	}
	b.Run("Freeze", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Freeze()
		}
	})
	b.Run("Digest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Freeze().Digest()
		}
	})
}
