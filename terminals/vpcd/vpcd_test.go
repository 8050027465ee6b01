package vpcd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"civicard/terminals/cardapp"
)

// reader plays vpcd's side of the protocol over a real loopback socket.
type reader struct {
	t    *testing.T
	conn net.Conn
}

func listen(t *testing.T) (net.Listener, func() *reader) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, func() *reader {
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		return &reader{t: t, conn: conn}
	}
}

// send writes length and payload in two writes, as vpcd does.
func (r *reader) send(payload []byte) {
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(payload)))
	if _, err := r.conn.Write(n[:]); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.conn.Write(payload); err != nil {
		r.t.Fatal(err)
	}
}

func (r *reader) receive() ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r.conn, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	_, err := io.ReadFull(r.conn, b)
	return b, err
}

func card(t *testing.T) *cardapp.Card {
	t.Helper()
	c, err := cardapp.NewCard(cardapp.CardConfig{CardID: "320000002990", Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var selectAID = append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(cardapp.AID))}, cardapp.AID...)

func TestCardSpeaksTheVpcdProtocol(t *testing.T) {
	ln, accept := listen(t)
	in, err := Insert(context.Background(), Config{Addr: ln.Addr().String(), Card: card(t), ATR: cardapp.ATR})
	if err != nil {
		t.Fatal(err)
	}
	r := accept()
	r.send([]byte{ctrlPowerOn})
	r.send([]byte{ctrlATR})
	if atr, err := r.receive(); err != nil || !bytes.Equal(atr, cardapp.ATR) {
		t.Fatalf("ATR %X, %v", atr, err)
	}
	r.send(selectAID)
	if res, err := r.receive(); err != nil || !bytes.Equal(res, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT answered %X, %v", res, err)
	}
	// A reset deselects: READ BINARY needs SELECT again.
	r.send([]byte{ctrlReset})
	r.send([]byte{0x00, 0xB0, 0x00, 0x00, 0x00})
	if res, err := r.receive(); err != nil || !bytes.Equal(res, []byte{0x69, 0x85}) {
		t.Fatalf("READ BINARY after reset answered %X, %v", res, err)
	}
	if err := in.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.receive(); !errors.Is(err, io.EOF) {
		t.Fatalf("after Remove the reader reads %v, want EOF", err)
	}
}

func TestCardPulledMidTransaction(t *testing.T) {
	ln, accept := listen(t)
	in, err := Insert(context.Background(), Config{Addr: ln.Addr().String(), Card: card(t), ATR: cardapp.ATR, RemoveAfterAPDUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := accept()
	r.send(selectAID)
	if _, err := r.receive(); err != nil {
		t.Fatal(err)
	}
	r.send(selectAID)
	if res, err := r.receive(); err == nil {
		t.Fatalf("second APDU answered %X, want the card gone", res)
	}
	<-in.Done()
}

func TestReaderClosingEndsTheInsertion(t *testing.T) {
	ln, accept := listen(t)
	in, err := Insert(context.Background(), Config{Addr: ln.Addr().String(), Card: card(t), ATR: cardapp.ATR})
	if err != nil {
		t.Fatal(err)
	}
	accept().conn.Close()
	<-in.Done()
	if err := in.Remove(); err == nil {
		t.Fatal("Remove after the reader left says nothing")
	}
}

func TestParseSlots(t *testing.T) {
	slots, err := ParseSlots("Civicard VPCD 0 00 00=35963;Civicard VPCD 0 00 01=35964")
	if err != nil || len(slots) != 2 || slots[1] != (Slot{Name: "Civicard VPCD 0 00 01", Addr: "127.0.0.1:35964"}) {
		t.Fatalf("ParseSlots = %v, %v", slots, err)
	}
	for _, bad := range []string{"no-port", "=35963", "name="} {
		if _, err := ParseSlots(bad); err == nil {
			t.Errorf("ParseSlots(%q) accepted", bad)
		}
	}
}
