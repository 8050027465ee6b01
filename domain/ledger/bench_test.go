package ledger_test

import (
	"runtime"
	"strconv"
	"testing"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
)

// BenchmarkApplyCharge measures Apply for successful charges spread over
// 10,000 cards, the hot path of a tap. The commands are built outside the
// timer, in chunks; B/result is the heap each stored charge result keeps
// (result, card state, transaction, money, id, map and log entries).
func BenchmarkApplyCharge(b *testing.B) { benchmarkApply(b, plainCharge) }

// BenchmarkApplyPricedCharge is the same for a tap priced by the fare
// engine: a posting and the card's new tariff state (a time ticket, cap
// and e-purse counters), which the stored result keeps too.
func BenchmarkApplyPricedCharge(b *testing.B) { benchmarkApply(b, pricedCharge) }

func plainCharge(id, card string, version uint64) *ledgerv1.Command {
	return cmdCharge(id, card, version, 1, "I1")
}

func pricedCharge(id, card string, version uint64) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
		CardId: card, ExpectedVersion: version, AmountMinor: 1, InstitutionId: "I1", TerminalId: "T1", ServiceCode: "RIDE-20MIN",
		TimeUnixMs: 1_700_000_000_000, TariffVersion: "0123456789abcdef",
		Postings: []*ledgerv1.Posting{{InstitutionId: "I1", Product: "RIDE-20MIN", AmountMinor: 1, What: "ticket"}},
		Tariff: &ledgerv1.TariffState{
			Ticket: &ledgerv1.TariffTicket{Product: "RIDE-20MIN", InstitutionId: "I1", UntilUnixMs: 1_700_000_000_000 + int64(version)},
			Caps:   &ledgerv1.TariffCaps{Day: 19676, DaySpentMinor: int64(version), Week: 2811, WeekSpentMinor: int64(version)},
			Purse:  &ledgerv1.TariffPurse{Month: 24274, MonthSpentMinor: int64(version)},
		},
	}}}
}

func benchmarkApply(b *testing.B, charge func(id, card string, version uint64) *ledgerv1.Command) {
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
				cmds = append(cmds, charge("tap/T1/"+strconv.Itoa(j), cardIDs[c], versions[c]))
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
