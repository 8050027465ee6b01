package station

import (
	"os"
	"path/filepath"
	"testing"

	civicardv1 "civicard/messages/civicard/v1"
)

func tap(seq uint64, card string) *civicardv1.TapRequest {
	return &civicardv1.TapRequest{TerminalId: "T-1", Sequence: seq, CardId: card, TimeUnixMs: 1_700_000_000_000, Signature: make([]byte, 64)}
}

func TestQueueSurvivesReopenAndDropsATornTail(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		if err := q.Append(tap(seq, "320000002990")); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Ack(2); err != nil {
		t.Fatal(err)
	}
	q.Close()
	// A crash in the middle of the sixth append: half a record.
	rec, _ := encodeRecord(tap(6, "320000002990"))
	f, _ := os.OpenFile(filepath.Join(dir, queueFile), os.O_WRONLY|os.O_APPEND, 0)
	f.Write(rec[:len(rec)/2])
	f.Close()

	q, err = openQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got := q.Pending(100)
	if len(got) != 3 || got[0].GetSequence() != 3 || got[2].GetSequence() != 5 {
		t.Fatalf("pending after reopen: %v", got)
	}
	if n := q.exposure("320000002990"); n != 3 {
		t.Fatalf("exposure %d", n)
	}
	// The torn tail is gone: appending goes on from the valid prefix.
	if err := q.Append(tap(6, "320000003006")); err != nil {
		t.Fatal(err)
	}
	if err := q.Append(tap(6, "320000003006")); err == nil {
		t.Fatal("a repeated sequence was queued")
	}
	if err := q.Ack(6); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 {
		t.Fatalf("%d pending after the last ack", q.Len())
	}
	if fi, _ := os.Stat(filepath.Join(dir, queueFile)); fi.Size() != 0 {
		t.Fatalf("log of %d bytes after everything was settled", fi.Size())
	}
}

func TestSequenceNeverRepeatsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s, err := openSequencer(dir)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for range 3 {
		if last, err = s.Next(); err != nil {
			t.Fatal(err)
		}
	}
	// A crash: the in-memory counter is lost.
	s, err = openSequencer(dir)
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.Next()
	if err != nil || next <= last {
		t.Fatalf("after restart %d (last was %d), %v", next, last, err)
	}
}

// FuzzDecodeRecords: the queue's decoder never panics, keeps a valid prefix,
// and what it decodes encodes back to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	a, _ := encodeRecord(tap(1, "320000002990"))
	b, _ := encodeRecord(tap(2, "320000003006"))
	f.Add(append(append([]byte{}, a...), b...))
	f.Add(a[:len(a)-1])
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, log []byte) {
		taps, valid := decodeRecords(log)
		if valid < 0 || valid > len(log) {
			t.Fatalf("valid %d of %d", valid, len(log))
		}
		var again []byte
		for _, tap := range taps {
			rec, err := encodeRecord(tap)
			if err != nil {
				t.Fatal(err)
			}
			again = append(again, rec...)
		}
		if len(again) > valid {
			t.Fatalf("re-encoded %d bytes from a prefix of %d", len(again), valid)
		}
	})
}
