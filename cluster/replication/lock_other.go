//go:build !unix

package replication

import (
	"fmt"
	"os"
)

// lockDir only creates the lock file where flock is not available: two
// opens of one directory are then not caught here.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("replication: open lock file: %w", err)
	}
	return f, nil
}
