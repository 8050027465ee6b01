package station

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/protobuf/proto"

	civicardv1 "civicard/messages/civicard/v1"
)

// The offline queue: taps accepted while the gateway could not be reached,
// kept on disk until the gateway has settled them.
//
// queue.log is append-only; each record is
//
//	u32 payload length | u32 CRC-32C of the payload | payload (a signed TapRequest, protobuf)
//
// big-endian, and each append is fsync'd before the tap's answer is shown.
// A record cut short or corrupted by a crash ends the log: it and anything
// after it is dropped on open (the tap it held was never shown as accepted,
// because the answer comes after the fsync). queue.acked holds the highest
// sequence the gateway has settled (replaced atomically); records at or
// below it are done. When every record is done the log is truncated.
const (
	queueFile = "queue.log"
	ackedFile = "queue.acked"
	// recordHeaderSize is the length and the checksum.
	recordHeaderSize = 8
	// recordBytesMax bounds one record: a tap is ~200 bytes.
	recordBytesMax = 4 << 10
	// QueueTapsMax bounds the queue: past it the terminal refuses offline
	// taps rather than grow without end.
	QueueTapsMax = 100_000
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errQueueFull is returned by Append when QueueTapsMax taps wait.
var errQueueFull = errors.New("offline queue full")

type queue struct {
	dir string

	mu      sync.Mutex
	f       *os.File // queue.log, positioned at its end
	acked   uint64
	pending []*civicardv1.TapRequest // in sequence order, all above acked
}

func openQueue(dir string) (*queue, error) {
	q := &queue{dir: dir}
	raw, err := os.ReadFile(filepath.Join(dir, ackedFile))
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return nil, err
	case len(raw) != 8:
		return nil, fmt.Errorf("%s: %d bytes, want 8", ackedFile, len(raw))
	default:
		q.acked = binary.BigEndian.Uint64(raw)
	}
	f, err := os.OpenFile(filepath.Join(dir, queueFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	log, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	taps, valid := decodeRecords(log)
	if valid < len(log) {
		// A torn tail: never acknowledged, drop it.
		if err := f.Truncate(int64(valid)); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(int64(valid), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	q.f = f
	for _, tap := range taps {
		if tap.GetSequence() > q.acked {
			q.pending = append(q.pending, tap)
		}
	}
	return q, nil
}

// decodeRecords decodes the records of a queue log up to the first one that
// is cut short or does not check out, and returns them and the length of
// the valid prefix.
func decodeRecords(b []byte) ([]*civicardv1.TapRequest, int) {
	var taps []*civicardv1.TapRequest
	valid := 0
	for {
		rest := b[valid:]
		if len(rest) < recordHeaderSize {
			return taps, valid
		}
		n := binary.BigEndian.Uint32(rest)
		if n == 0 || n > recordBytesMax || uint64(len(rest)-recordHeaderSize) < uint64(n) {
			return taps, valid
		}
		payload := rest[recordHeaderSize : recordHeaderSize+int(n)]
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(rest[4:]) {
			return taps, valid
		}
		tap := &civicardv1.TapRequest{}
		if err := proto.Unmarshal(payload, tap); err != nil {
			return taps, valid
		}
		taps = append(taps, tap)
		valid += recordHeaderSize + int(n)
	}
}

func encodeRecord(tap *civicardv1.TapRequest) ([]byte, error) {
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(tap)
	if err != nil {
		return nil, err
	}
	if len(payload) == 0 || len(payload) > recordBytesMax {
		return nil, fmt.Errorf("offline tap of %d bytes, want 1..%d", len(payload), recordBytesMax)
	}
	rec := make([]byte, recordHeaderSize, recordHeaderSize+len(payload))
	binary.BigEndian.PutUint32(rec, uint32(len(payload)))
	binary.BigEndian.PutUint32(rec[4:], crc32.Checksum(payload, castagnoli))
	return append(rec, payload...), nil
}

// Append stores tap durably; it returns once the tap is on disk.
func (q *queue) Append(tap *civicardv1.TapRequest) error {
	rec, err := encodeRecord(tap)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) >= QueueTapsMax {
		return errQueueFull
	}
	if n := len(q.pending); n > 0 && tap.GetSequence() <= q.pending[n-1].GetSequence() {
		return fmt.Errorf("offline tap %d after %d: sequences must increase", tap.GetSequence(), q.pending[n-1].GetSequence())
	}
	if _, err := q.f.Write(rec); err != nil {
		return err
	}
	if err := q.f.Sync(); err != nil {
		return err
	}
	q.pending = append(q.pending, tap)
	return nil
}

// Pending returns up to n of the oldest taps not yet settled.
func (q *queue) Pending(n int) []*civicardv1.TapRequest {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]*civicardv1.TapRequest(nil), q.pending[:min(n, len(q.pending))]...)
}

// Len is how many taps wait.
func (q *queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Ack records that every tap up to sequence is settled.
func (q *queue) Ack(sequence uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if sequence <= q.acked {
		return nil
	}
	if err := writeFileSync(filepath.Join(q.dir, ackedFile), binary.BigEndian.AppendUint64(nil, sequence)); err != nil {
		return err
	}
	q.acked = sequence
	i := 0
	for i < len(q.pending) && q.pending[i].GetSequence() <= sequence {
		i++
	}
	q.pending = q.pending[i:]
	if len(q.pending) == 0 {
		// Everything is settled: start the log afresh. A crash before the
		// truncation leaves records at or below acked, which open skips.
		if err := q.f.Truncate(0); err != nil {
			return err
		}
		if _, err := q.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return q.f.Sync()
	}
	return nil
}

// exposure sums what the queue holds against card: taps and, at price
// each, money.
func (q *queue) exposure(cardID string) (taps int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, tap := range q.pending {
		if tap.GetCardId() == cardID {
			taps++
		}
	}
	return taps
}

func (q *queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.f.Close()
}
