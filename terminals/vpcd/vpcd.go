package vpcd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Control bytes from the reader.
const (
	ctrlPowerOff = 0
	ctrlPowerOn  = 1
	ctrlReset    = 2
	ctrlATR      = 4
)

// messageSizeMax bounds one message either way: the longest extended APDU
// and its answer fit.
const messageSizeMax = 0xFFFF

// Card is what sits in the reader: the card application's side.
type Card interface {
	// Process answers one command APDU with a response APDU.
	Process(command []byte) []byte
	// Reset is a power cycle.
	Reset()
}

// Config describes one insertion.
type Config struct {
	// Addr of the vpcd slot, e.g. "127.0.0.1:35963" (the reader's port).
	Addr string
	Card Card
	// ATR the card answers with.
	ATR []byte
	// RemoveAfterAPDUs, when positive, pulls the card out (closes the
	// connection) as the reader sends that many-th command APDU, without
	// answering it: a card taken away mid-transaction.
	RemoveAfterAPDUs int
}

// Inserted is a card in a reader until Remove.
type Inserted struct {
	conn net.Conn
	done chan struct{}

	mu  sync.Mutex
	err error // why the card left, nil after Remove
}

// Insert connects the card to the reader (ctx bounds the connecting) and
// serves it in a goroutine until Remove or until the reader closes the
// connection.
func Insert(ctx context.Context, cfg Config) (*Inserted, error) {
	if cfg.Card == nil || len(cfg.ATR) == 0 {
		return nil, errors.New("vpcd: Card and ATR are required")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("vpcd: insert into %s: %w", cfg.Addr, err)
	}
	in := &Inserted{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(in.done)
		err := serve(conn, cfg)
		conn.Close()
		in.mu.Lock()
		if in.err == nil {
			in.err = err
		}
		in.mu.Unlock()
	}()
	return in, nil
}

// Remove pulls the card out and waits until it is out. It returns why the
// card had already left, if it had.
func (in *Inserted) Remove() error {
	in.mu.Lock()
	if in.err == nil {
		in.err = errRemoved
	}
	in.mu.Unlock()
	in.conn.Close()
	<-in.done
	in.mu.Lock()
	defer in.mu.Unlock()
	if errors.Is(in.err, errRemoved) {
		return nil
	}
	return in.err
}

// Done is closed once the card is out of the reader.
func (in *Inserted) Done() <-chan struct{} { return in.done }

var errRemoved = errors.New("removed")

func serve(conn net.Conn, cfg Config) error {
	r := bufio.NewReader(conn)
	buf := make([]byte, 2+messageSizeMax)
	apdus := 0
	for {
		// vpcd writes the length and the payload in two segments without
		// TCP_NODELAY; acknowledging at once spares ~40 ms per APDU.
		quickAck(conn)
		if _, err := io.ReadFull(r, buf[:2]); err != nil {
			return readErr(err)
		}
		n := int(binary.BigEndian.Uint16(buf[:2]))
		quickAck(conn)
		msg := buf[2 : 2+n]
		if _, err := io.ReadFull(r, msg); err != nil {
			return readErr(err)
		}
		var answer []byte
		switch {
		case n == 1:
			switch msg[0] {
			case ctrlPowerOff, ctrlPowerOn, ctrlReset:
				cfg.Card.Reset()
			case ctrlATR:
				answer = cfg.ATR
			}
			if answer == nil {
				continue
			}
		case n == 0:
			continue
		default:
			apdus++
			if cfg.RemoveAfterAPDUs > 0 && apdus >= cfg.RemoveAfterAPDUs {
				return errRemoved
			}
			answer = cfg.Card.Process(msg)
		}
		if err := send(conn, answer); err != nil {
			return err
		}
	}
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("vpcd: reader closed the connection: %w", err)
	}
	return fmt.Errorf("vpcd: %w", err)
}

// send writes length and payload in one write, so they travel in one
// segment.
func send(conn net.Conn, payload []byte) error {
	if len(payload) > messageSizeMax {
		return fmt.Errorf("vpcd: answer of %d bytes, at most %d", len(payload), messageSizeMax)
	}
	out := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(out, uint16(len(payload)))
	copy(out[2:], payload)
	_, err := conn.Write(out)
	return err
}
