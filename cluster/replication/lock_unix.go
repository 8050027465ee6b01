//go:build unix

package replication

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive flock on path, or fails at once if another
// process or another open group in this process holds it. Without it, the
// second opener would hang inside bolt's own lock on the WAL's meta file.
// The lock goes with the file descriptor: closing the file releases it, and
// so does the process dying.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("replication: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("replication: data directory is in use (%s is locked): %w", path, err)
		}
		return nil, fmt.Errorf("replication: lock %s: %w", path, err)
	}
	return f, nil
}
