package station

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// sequenceBlock is how many sequence numbers one fsync reserves. A crash
// skips the rest of a block, never reuses a number.
const sequenceBlock = 1000

// sequencer hands out the terminal's sequence numbers: strictly increasing,
// never reused across restarts and crashes. The file holds the first
// number not yet reserved; it is rewritten (write to a temporary file,
// fsync, rename, fsync the directory) before any number of a new block is
// handed out.
type sequencer struct {
	file string

	mu       sync.Mutex
	next     uint64 // the next number to hand out
	reserved uint64 // numbers below this are reserved on disk
}

const sequenceFile = "sequence"

func openSequencer(dir string) (*sequencer, error) {
	s := &sequencer{file: filepath.Join(dir, sequenceFile), next: 1, reserved: 1}
	raw, err := os.ReadFile(s.file)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return nil, err
	case len(raw) != 8:
		return nil, fmt.Errorf("%s: %d bytes, want 8", s.file, len(raw))
	default:
		s.next = binary.BigEndian.Uint64(raw)
		s.reserved = s.next
	}
	return s, nil
}

// Next returns the next sequence number.
func (s *sequencer) Next() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next >= s.reserved {
		if err := writeFileSync(s.file, binary.BigEndian.AppendUint64(nil, s.next+sequenceBlock)); err != nil {
			return 0, fmt.Errorf("reserve sequence numbers: %w", err)
		}
		s.reserved = s.next + sequenceBlock
	}
	n := s.next
	s.next++
	return n, nil
}

// writeFileSync replaces file with data durably.
func writeFileSync(file string, data []byte) error {
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	return syncDir(filepath.Dir(file))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
