package replication

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// raft-wal v0.4.0 (the only version served) has a bug in suffix truncation
// (hashicorp/raft-wal#31, fixed upstream after that release): when Raft
// deletes the newest entries of the log — a follower does it whenever a new
// leader overrides entries the old one never committed — the WAL marks the
// tail segment sealed in its metadata without writing the segment's index
// block. Everything goes on working until the next start, which then fails
// with "sealed segment has no index block": the replica cannot come back.
//
// repairUnindexedSeals runs before the WAL opens and rewrites every such
// segment: it reads the segment's surviving entries (MinIndex to MaxIndex)
// by scanning the file, writes them to a new segment that the writer seals
// properly (with its index block), and commits metadata naming the new
// segment instead. The WAL deletes the old file as unused when it opens.
// It only touches segments in exactly that broken state, so on a healthy
// WAL it reads the metadata and does nothing.
func repairUnindexedSeals(walDir string, meta *metadb.BoltMetaDB) (repaired int, err error) {
	state, err := meta.Load(walDir)
	if err != nil {
		return 0, fmt.Errorf("load wal metadata: %w", err)
	}
	filer := segment.NewFiler(walDir, fs.New())
	for i, info := range state.Segments {
		if info.SealTime.IsZero() || info.IndexStart != 0 {
			continue
		}
		entries, err := readUnindexed(filer, info)
		if err != nil {
			return repaired, fmt.Errorf("repair segment %d: %w", info.ID, err)
		}
		fixed := types.SegmentInfo{
			ID:         state.NextSegmentID,
			BaseIndex:  info.MinIndex,
			MinIndex:   info.MinIndex,
			MaxIndex:   info.MaxIndex,
			Codec:      info.Codec,
			CreateTime: info.CreateTime,
			SealTime:   info.SealTime,
			// Smaller than any entry: the one Append below seals it.
			SizeLimit: 1,
		}
		state.NextSegmentID++
		if fixed.IndexStart, err = writeSealed(filer, fixed, entries); err != nil {
			return repaired, fmt.Errorf("repair segment %d: %w", info.ID, err)
		}
		state.Segments[i] = fixed
		repaired++
	}
	if repaired > 0 {
		if err := meta.CommitState(state); err != nil {
			return 0, fmt.Errorf("commit repaired wal metadata: %w", err)
		}
	}
	return repaired, nil
}

// readUnindexed returns the entries MinIndex..MaxIndex of a segment whose
// index block is missing, found by scanning its frames.
func readUnindexed(filer *segment.Filer, info types.SegmentInfo) ([]types.LogEntry, error) {
	scan := info
	scan.SealTime, scan.IndexStart = time.Time{}, 0
	r, err := filer.RecoverTail(scan)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if info.MaxIndex < info.MinIndex || r.LastIndex() < info.MaxIndex {
		return nil, fmt.Errorf("entries %d-%d not all in the file (it ends at %d)", info.MinIndex, info.MaxIndex, r.LastIndex())
	}
	entries := make([]types.LogEntry, 0, info.MaxIndex-info.MinIndex+1)
	for index := info.MinIndex; index <= info.MaxIndex; index++ {
		buf, err := r.GetLog(index)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", index, err)
		}
		entries = append(entries, types.LogEntry{Index: index, Data: append([]byte(nil), buf.Bs...)})
		buf.Close()
	}
	return entries, nil
}

// writeSealed writes entries to a new segment and returns where its index
// block starts.
func writeSealed(filer *segment.Filer, info types.SegmentInfo, entries []types.LogEntry) (uint64, error) {
	create := info
	create.SealTime = time.Time{}
	w, err := filer.Create(create)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	if err := w.Append(entries); err != nil {
		return 0, err
	}
	sealed, indexStart, err := w.Sealed()
	if err != nil {
		return 0, err
	}
	if !sealed {
		return 0, fmt.Errorf("segment %d did not seal", info.ID)
	}
	return indexStart, nil
}
