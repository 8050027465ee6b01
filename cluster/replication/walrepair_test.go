package replication

import (
	"testing"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// A follower truncates the tail of its log when a new leader overrides
// entries it never committed. With raft-wal v0.4.0 that leaves a segment
// sealed without an index, and the log cannot be read after a restart
// unless repairUnindexedSeals rewrites it.
func TestRepairAfterTailTruncation(t *testing.T) {
	dir := t.TempDir()
	open := func() (*wal.WAL, *metadb.BoltMetaDB) {
		meta := &metadb.BoltMetaDB{}
		w, err := wal.Open(dir, wal.WithMetaStore(meta))
		if err != nil {
			t.Fatal(err)
		}
		return w, meta
	}
	w, meta := open()
	var logs []*raft.Log
	for i := uint64(1); i <= 20; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}})
	}
	if err := w.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteRange(16, 20); err != nil { // the new leader overrides 16-20
		t.Fatal(err)
	}
	if err := w.StoreLogs([]*raft.Log{{Index: 16, Term: 2, Type: raft.LogCommand, Data: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	meta.Close()

	// Without the repair, reading the old segment fails after a restart.
	w, meta = open()
	var entry raft.Log
	broken := w.GetLog(1, &entry) != nil
	w.Close()
	meta.Close()
	if !broken {
		t.Log("raft-wal read the truncated segment without repair: the upstream bug may be fixed")
	}

	meta = &metadb.BoltMetaDB{}
	repaired, err := repairUnindexedSeals(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	if broken && repaired != 1 {
		t.Fatalf("repaired %d segments, want 1", repaired)
	}
	w, err = wal.Open(dir, wal.WithMetaStore(meta))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	defer w.Close()
	for i := uint64(1); i <= 16; i++ {
		if err := w.GetLog(i, &entry); err != nil {
			t.Fatalf("entry %d after repair: %v", i, err)
		}
		want := []byte{byte(i)}
		if i == 16 {
			want = []byte("new")
		}
		if string(entry.Data) != string(want) || (i < 16 && entry.Term != 1) {
			t.Fatalf("entry %d = %v, want data %v", i, entry, want)
		}
	}
	if last, _ := w.LastIndex(); last != 16 {
		t.Fatalf("last index %d, want 16", last)
	}
	if err := w.GetLog(17, &entry); err == nil {
		t.Fatal("a truncated entry came back")
	}
	// A repaired WAL needs no second repair.
	if n, err := repairUnindexedSeals(dir, meta); err != nil || n != 0 {
		t.Fatalf("second repair: %d, %v", n, err)
	}
}
