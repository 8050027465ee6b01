package ledger_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
)

func TestSnapshotRoundTrip(t *testing.T) {
	s := populated(t)
	data := snapshotBytes(t, s)
	r, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if digest(r) != digest(s) {
		t.Fatal("digests differ")
	}
	if !bytes.Equal(snapshotBytes(t, r), data) {
		t.Fatal("the restored ledger writes other bytes")
	}
	if r.Totals() != s.Totals() || r.Sequence() != s.Sequence() || r.Receivable("I1") != s.Receivable("I1") || !r.Seeded(1) {
		t.Fatalf("restored %+v at %d, want %+v at %d", r.Totals(), r.Sequence(), s.Totals(), s.Sequence())
	}
	for _, id := range []string{"C1", "C2", "C3"} {
		a, _ := s.Card(id)
		b, _ := r.Card(id)
		if !proto.Equal(a, b) {
			t.Fatalf("card %s: %v, want %v", id, b, a)
		}
		ta, tb := s.Transactions(id, 0, 100), r.Transactions(id, 0, 100)
		if len(ta) != len(tb) {
			t.Fatalf("card %s: %d transactions, want %d", id, len(tb), len(ta))
		}
		for i := range ta {
			if !proto.Equal(ta[i], tb[i]) {
				t.Fatalf("card %s transaction %d: %v, want %v", id, i, tb[i], ta[i])
			}
		}
	}
	// An empty ledger round-trips too.
	empty := newState(t, ledger.DefaultConfig())
	if e, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(snapshotBytes(t, empty))); err != nil || digest(e) != digest(empty) {
		t.Fatalf("empty ledger: %v", err)
	}
}

func TestSnapshotWriteToCounts(t *testing.T) {
	var buf bytes.Buffer
	n, err := populated(t).Freeze().WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	if _, err := populated(t).Freeze().WriteTo(failingWriter{}); err == nil {
		t.Fatal("no error from a failing writer")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestFreezeIsolation takes a Frozen, lets Apply go on (in the race
// detector's view, concurrently with the write, as the FSM does), and
// checks the Frozen still writes the state of the moment it was taken.
func TestFreezeIsolation(t *testing.T) {
	s := populated(t)
	var mu sync.Mutex // the FSM's lock
	mu.Lock()
	f := s.Freeze()
	want := digest(s)
	mu.Unlock()

	var wg sync.WaitGroup
	digests := make([][32]byte, 4)
	for i := range digests {
		wg.Go(func() { digests[i] = f.Digest() })
	}
	for i := range 200 {
		mu.Lock()
		id := "more/" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		s.Apply(cmdTopUp(id+"/top", "C1", 1))
		if c, ok := s.Card("C1"); ok {
			s.Apply(cmdCharge(id+"/tap", "C1", c.GetVersion(), 1, "I1"))
		}
		s.Apply(cmdOpen(id+"/open", "N"+id[5:min(len(id), 30)]))
		mu.Unlock()
	}
	wg.Wait()
	for _, d := range digests {
		if d != want {
			t.Fatal("a Frozen changed while Apply went on")
		}
	}
	if f.Digest() != want || digest(s) == want {
		t.Fatal("digest after the fact")
	}
}

// records splits a snapshot into its records, for tests that corrupt one.
func records(t *testing.T, data []byte) []*ledgerv1.SnapshotRecord {
	t.Helper()
	var out []*ledgerv1.SnapshotRecord
	r := bytes.NewReader(data)
	for {
		rec := &ledgerv1.SnapshotRecord{}
		err := protodelim.UnmarshalFrom(r, rec)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

func encode(t *testing.T, recs []*ledgerv1.SnapshotRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, rec := range recs {
		if _, err := (protodelim.MarshalOptions{MarshalOptions: proto.MarshalOptions{Deterministic: true}}).MarshalTo(&buf, rec); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestRestoreRejects corrupts a valid snapshot one way at a time; Restore
// must refuse each with an error that says what is wrong.
func TestRestoreRejects(t *testing.T) {
	valid := snapshotBytes(t, populated(t))
	// populated writes: header, I1, I2, T1, C1, C2, C3, then 12 results.
	const (
		hdr   = 0
		inst1 = 1
		term1 = 3
		card1 = 4
		card2 = 5
		res1  = 7
	)
	header := func(recs []*ledgerv1.SnapshotRecord) *ledgerv1.SnapshotHeader { return recs[hdr].GetHeader() }
	resultAt := func(recs []*ledgerv1.SnapshotRecord, id string) *ledgerv1.Result {
		for _, rec := range recs {
			if rec.GetResult().GetId() == id {
				return rec.GetResult().GetResult()
			}
		}
		t.Fatalf("no result %s", id)
		return nil
	}
	for _, tc := range []struct {
		name    string
		corrupt func(recs []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord
		cfg     ledger.Config
		want    string
	}{
		{"format version", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).FormatVersion = 2
			return r
		}, ledger.Config{}, "format version 2"},
		{"no header", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord { return r[1:] }, ledger.Config{}, "not a header"},
		{"count too high", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).RecordCount++
			return r
		}, ledger.Config{}, "unexpected EOF"},
		{"count too low", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).RecordCount--
			return r
		}, ledger.Config{}, "trailing bytes"},
		{"huge count", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).RecordCount = 1 << 62
			return r
		}, ledger.Config{}, "unexpected EOF"},
		{"second header", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).RecordCount++
			return append(r, r[hdr])
		}, ledger.Config{}, "after the header"},
		{"sequence ahead of results", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).LedgerSequence++
			return r
		}, ledger.Config{}, "12 results for ledger sequence 13"},
		{"sequence behind results", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).LedgerSequence--
			return r
		}, ledger.Config{}, "beyond ledger sequence 11"},
		{"unsorted cards", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[card1], r[card2] = r[card2], r[card1]
			return r
		}, ledger.Config{}, `"C1" is not after "C2"`},
		{"duplicate card", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[card2] = r[card1]
			return r
		}, ledger.Config{}, `"C1" is not after "C1"`},
		// Once a terminal is in, the institutions are complete: the
		// header's receivables no longer match them.
		{"terminal before institution", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[inst1], r[term1] = r[term1], r[inst1]
			return r
		}, ledger.Config{}, "2 receivables for 0 institutions"},
		{"institution after terminal", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).Receivables = header(r).Receivables[:1]
			r[inst1+1], r[term1] = r[term1], r[inst1+1]
			return r
		}, ledger.Config{}, "out of order"},
		{"result before card", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[card1], r[res1] = r[res1], r[card1]
			return r
		}, ledger.Config{}, "out of order"},
		{"card balance changed", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[card1].GetCard().BalanceMinor++
			return r
		}, ledger.Config{}, `card "C1": balance 4661 but the newest transaction "tap/1" left 4660`},
		{"money from nowhere", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).FundingBalanceMinor--
			return r
		}, ledger.Config{}, "money is not conserved"},
		{"receivable off its postings", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).Receivables[0].BalanceMinor = -1
			return r
		}, ledger.Config{}, `receivable of institution "I1": balance -1, but its postings 340`},
		{"receivable of unknown institution", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).Receivables[1].InstitutionId = "I9"
			return r
		}, ledger.Config{}, `unknown institution "I9"`},
		{"receivable missing", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			header(r).Receivables = header(r).Receivables[:1]
			return r
		}, ledger.Config{}, "1 receivables for 2 institutions"},
		{"balance over a smaller maximum", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord { return r },
			ledger.Config{BalanceMaxMinor: 1000, AmountMaxMinor: 1000}, `card "C1": balance 4660 is above the maximum 2000`},
		{"another currency", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord { return r },
			ledger.Config{Currency: "EUR"}, "the ledger keeps EUR"},
		{"transaction out of sequence", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			resultAt(r, "top/C1").GetTransaction().LedgerSequence = 3
			return r
		}, ledger.Config{}, "ledger sequence 3, want 7"},
		{"transaction under another id", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			resultAt(r, "top/C1").GetTransaction().TransactionId = "other"
			return r
		}, ledger.Config{}, `transaction id "other"`},
		{"transaction of unknown card", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			resultAt(r, "top/C1").GetTransaction().CardId = "C9"
			return r
		}, ledger.Config{}, `unknown card "C9"`},
		{"stale result stored", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			resultAt(r, "top/C1").Status = ledgerv1.Status_STATUS_STALE_VERSION
			return r
		}, ledger.Config{}, "is never stored"},
		{"replayed result stored", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			resultAt(r, "top/C1").Replayed = true
			return r
		}, ledger.Config{}, "never replayed"},
		{"duplicate result id", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			last := lastResult(r)
			r[last].GetResult().Id = r[last-1].GetResult().GetId()
			return r
		}, ledger.Config{}, "appears twice"},
		{"invalid institution", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[inst1].GetInstitution().Kind = civicardv1.ServiceKind_SERVICE_KIND_UNSPECIFIED
			return r
		}, ledger.Config{}, "service kind 0 is not specified"},
		{"terminal of unknown institution", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[term1].GetTerminal().InstitutionId = "I9"
			return r
		}, ledger.Config{}, `institution "I9" not found`},
		{"card without kind", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[card1].GetCard().Kind = civicardv1.CardKind_CARD_KIND_UNSPECIFIED
			return r
		}, ledger.Config{}, "card kind 0 is not specified"},
		{"card version from the future", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[card1].GetCard().Version = 1 << 63
			return r
		}, ledger.Config{}, "version 9223372036854775808 is outside"},
		{"card without status", func(r []*ledgerv1.SnapshotRecord) []*ledgerv1.SnapshotRecord {
			r[card1].GetCard().Status = civicardv1.CardStatus_CARD_STATUS_UNSPECIFIED
			return r
		}, ledger.Config{}, "status CARD_STATUS_UNSPECIFIED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := encode(t, tc.corrupt(records(t, valid)))
			_, err := ledger.Restore(tc.cfg, bytes.NewReader(data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestRestoreTruncated: every strict prefix of a snapshot is refused, and
// so is a byte too many.
func TestRestoreTruncated(t *testing.T) {
	valid := snapshotBytes(t, populated(t))
	for n := range len(valid) {
		if _, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(valid[:n])); err == nil {
			t.Fatalf("a prefix of %d of %d bytes was accepted", n, len(valid))
		}
	}
	if _, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(append(valid, 0))); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("a trailing byte: %v", err)
	}
}

// TestRestoreBoundedRecord: a record announced as huge is refused before
// any allocation of its size.
func TestRestoreBoundedRecord(t *testing.T) {
	for _, data := range [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // 2^63-1 bytes
		{0x81, 0x80, 0x80, 0x02},                               // 4 MiB + 1
	} {
		_, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(data))
		var tooLarge *protodelim.SizeTooLargeError
		if !errors.As(err, &tooLarge) {
			t.Fatalf("Restore = %v, want a size error", err)
		}
	}
	if _, err := ledger.Restore(ledger.Config{Currency: "x"}, bytes.NewReader(nil)); err == nil {
		t.Fatal("an invalid config was accepted")
	}
	if _, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), "empty snapshot") {
		t.Fatalf("empty input: %v", err)
	}
}

// lastResult is the index of the last result record (the settlement records
// follow the results).
func lastResult(r []*ledgerv1.SnapshotRecord) int {
	last := -1
	for i, rec := range r {
		if rec.GetResult() != nil {
			last = i
		}
	}
	return last
}
