package replication

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// Layout of a group's data directory.
const (
	walDirName  = "wal"  // raft-wal segments and wal-meta.db (term, vote, segment list)
	lockName    = "LOCK" // held (flock) while the group is open
	dirFileMode = 0o750
)

// storage is a group's durable state: the Raft log and stable store
// (raft-wal serves as both) and the snapshot store.
type storage struct {
	lock *os.File
	// meta is raft-wal's bolt file. It is created here, not by raft-wal,
	// because WAL.Close leaves it open, and a bolt file still open in this
	// process would make the next Open of the same directory wait forever on
	// its file lock.
	meta  *metadb.BoltMetaDB
	wal   *wal.WAL
	snaps *raft.FileSnapshotStore
}

func openStorage(dir string, logger hclog.Logger) (_ *storage, err error) {
	walDir := filepath.Join(dir, walDirName)
	if err := os.MkdirAll(walDir, dirFileMode); err != nil {
		return nil, fmt.Errorf("replication: create data directory: %w", err)
	}
	s := &storage{meta: &metadb.BoltMetaDB{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.close())
		}
	}()
	if s.lock, err = lockDir(filepath.Join(dir, lockName)); err != nil {
		return nil, err
	}
	repaired, err := repairUnindexedSeals(walDir, s.meta)
	if err != nil {
		return nil, fmt.Errorf("replication: repair raft log %s: %w", walDir, err)
	}
	if repaired > 0 {
		logger.Warn("rewrote log segments left without an index by a tail truncation", "segments", repaired)
	}
	if s.wal, err = wal.Open(walDir, wal.WithMetaStore(s.meta), wal.WithLogger(logger.Named("wal"))); err != nil {
		return nil, fmt.Errorf("replication: open raft log %s: %w", walDir, err)
	}
	// The snapshot store adds its own "snapshots" directory under dir.
	if s.snaps, err = raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetained, logger.Named("snapshots")); err != nil {
		return nil, fmt.Errorf("replication: open snapshot store: %w", err)
	}
	return s, nil
}

// close releases everything open. Raft must have shut down first.
func (s *storage) close() error {
	var errs []error
	if s.wal != nil {
		errs = append(errs, s.wal.Close())
	}
	errs = append(errs, s.meta.Close())
	if s.lock != nil {
		// Closing the file releases the lock.
		errs = append(errs, s.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replication: close storage: %w", err)
	}
	return nil
}
