package replication

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

// Everything in this file decodes bytes another node sent: the frames of
// the forwarding protocol, the preamble line of a connection, and the log
// entries a leader replicates. A peer holds a certificate of the cluster's
// CA, but a bug or a bad disk on it must not crash or exhaust this one.

const fuzzCard = "320000000018"

// fuzzFrame is data as one frame: its length, then data.
func fuzzFrame(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeFrame(w, data); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func fuzzMarshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// fuzzForwardSeeds are valid frames of each kind of forwarded request and
// response, the same bytes forwarder.call and serveForward write.
func fuzzForwardSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	msgs := []proto.Message{
		&replicationv1.ForwardRequest{Id: 1, Group: "shard-0", TimeoutMs: 5000, Kind: &replicationv1.ForwardRequest_Propose{Propose: &replicationv1.ProposeRequest{Commands: []*ledgerv1.Command{openCard(fuzzCard)}}}},
		&replicationv1.ForwardRequest{Id: 2, Group: "registry", TimeoutMs: 5000, Kind: &replicationv1.ForwardRequest_Propose{Propose: &replicationv1.ProposeRequest{Commands: setupCommands(fuzzCard), All: true}}},
		&replicationv1.ForwardRequest{Id: 3, Group: "shard-0", Kind: &replicationv1.ForwardRequest_Query{Query: &replicationv1.Query{Kind: &replicationv1.Query_Transactions{Transactions: &replicationv1.TransactionsQuery{CardId: fuzzCard, Limit: 50}}}}},
		&replicationv1.ForwardRequest{Id: 4, Group: "registry", Kind: &replicationv1.ForwardRequest_Query{Query: &replicationv1.Query{Kind: &replicationv1.Query_TerminalId{TerminalId: testTerminal}}}},
		&replicationv1.ForwardRequest{Id: 5, Group: "registry", Kind: &replicationv1.ForwardRequest_Membership{Membership: &replicationv1.MembershipChange{Op: replicationv1.MembershipOp_MEMBERSHIP_OP_ADD_VOTER, NodeId: "node-2", RaftAddr: "127.0.0.1:7001"}}},
		&replicationv1.ForwardRequest{Id: 6, Group: "shard-1", Kind: &replicationv1.ForwardRequest_ReplicaStatus{ReplicaStatus: &replicationv1.ReplicaStatusRequest{}}},
		&replicationv1.ForwardResponse{Id: 1, Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK, Results: []*ledgerv1.Result{{Status: ledgerv1.Status_STATUS_OK}}},
		&replicationv1.ForwardResponse{Id: 2, Status: replicationv1.ForwardStatus_FORWARD_STATUS_NOT_LEADER, Error: "not the leader", LeaderId: "node-2", LeaderAddr: "127.0.0.1:7001"},
	}
	var seeds [][]byte
	for _, m := range msgs {
		seeds = append(seeds, fuzzFrame(tb, fuzzMarshal(tb, m)))
	}
	return seeds
}

// FuzzReadFrame: whatever a peer sends, readFrame returns a message or an
// error, never panics, consumes exactly one frame, and refuses a length
// over forwardFrameBytesMax before allocating for it. What it decodes
// encodes and decodes again to the same message.
func FuzzReadFrame(f *testing.F) {
	seeds := fuzzForwardSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add(append(seeds[0], seeds[1]...)) // two frames back to back
	f.Add(seeds[2][:len(seeds[2])-3])    // cut short
	f.Add([]byte{0, 0, 0, 0})            // an empty message
	f.Add([]byte{0, 0})                  // a cut length
	over := binary.BigEndian.AppendUint32(nil, forwardFrameBytesMax+1)
	f.Add(append(over, 0x08, 0x01))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []proto.Message{new(replicationv1.ForwardRequest), new(replicationv1.ForwardResponse)} {
			src := bytes.NewReader(data)
			r := bufio.NewReader(src)
			err := readFrame(r, m)
			if len(data) >= 4 && binary.BigEndian.Uint32(data) > forwardFrameBytesMax && err == nil {
				t.Fatalf("a length of %d bytes was read, over the %d allowed", binary.BigEndian.Uint32(data), forwardFrameBytesMax)
			}
			if err != nil {
				continue
			}
			consumed := len(data) - src.Len() - r.Buffered()
			if want := 4 + int(binary.BigEndian.Uint32(data)); consumed != want {
				t.Fatalf("consumed %d bytes, want the frame's %d", consumed, want)
			}
			again := m.ProtoReflect().New().Interface()
			if err := readFrame(bufio.NewReader(bytes.NewReader(fuzzFrame(t, fuzzMarshal(t, m)))), again); err != nil {
				t.Fatalf("re-encoded frame: %v", err)
			}
			if !proto.Equal(m, again) {
				t.Fatalf("re-encoded frame decodes to %v, want %v", again, m)
			}
		}
	})
}

// FuzzReadPreamble: readPreamble returns the first line of what a peer
// sends if it ends within preambleBytesMax, an error otherwise, and never
// reads past the newline: what follows belongs to Raft or the forwarding
// protocol.
func FuzzReadPreamble(f *testing.F) {
	for _, s := range []string{
		"forward\n", "raft registry\n", "raft shard-0\n" + "\x00\x01raft-rpc",
		"forward\n\x00\x00\x00\x02\x18\x01", "\n", "", "raft ", "forward",
		"raft " + string(bytes.Repeat([]byte("g"), groupNameBytesMax)) + "\n",
		"raft " + string(bytes.Repeat([]byte("g"), groupNameBytesMax+1)) + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		defer server.Close()
		written := make(chan struct{})
		go func() {
			defer close(written)
			_, _ = client.Write(data) // returns early once server is closed
			client.Close()
		}()
		line, err := readPreamble(server)
		newline := bytes.IndexByte(data, '\n')
		fits := newline >= 0 && newline < preambleBytesMax
		switch {
		case fits && err != nil:
			t.Fatalf("preamble %q refused: %v", data[:newline], err)
		case !fits && err == nil:
			t.Fatalf("preamble %q accepted from %q, want refused", line, data)
		case err != nil:
			server.Close()
			<-written
			return
		}
		if line != string(data[:newline]) {
			t.Fatalf("line %q, want %q", line, data[:newline])
		}
		rest, err := io.ReadAll(server)
		if err != nil {
			t.Fatal(err)
		}
		<-written
		if !bytes.Equal(rest, data[newline+1:]) {
			t.Fatalf("after the preamble %q is left, want %q", rest, data[newline+1:])
		}
	})
}

func fuzzFSM(tb testing.TB) *fsm {
	tb.Helper()
	m, err := newMetrics(nil, func() int { return 0 })
	if err != nil {
		tb.Fatal(err)
	}
	f, err := newFSM(ledger.DefaultConfig(), slog.New(slog.DiscardHandler), m)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// FuzzFSMApply: a log entry of any bytes (a leader replicated it) is
// either refused whole as corrupt or answered with one result per command
// it holds; it never panics.
func FuzzFSMApply(f *testing.F) {
	f.Add(fuzzMarshal(f, &ledgerv1.Batch{Commands: setupCommands(fuzzCard)}))
	f.Add(fuzzMarshal(f, &ledgerv1.Batch{Commands: append(setupCommands(fuzzCard), topUp("top-up/1", fuzzCard, 1000), charge(1, fuzzCard, 2, 300))}))
	f.Add(fuzzMarshal(f, &ledgerv1.Batch{Commands: []*ledgerv1.Command{{}, {Id: "no-kind"}}}))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var batch ledgerv1.Batch
		decodes := proto.Unmarshal(data, &batch) == nil
		switch res := fuzzFSM(t).Apply(&raft.Log{Index: 1, Term: 1, Data: data}).(type) {
		case error:
			if decodes || !errors.Is(res, errCorruptEntry) {
				t.Fatalf("entry refused with %v (it decodes: %v)", res, decodes)
			}
		case []*ledgerv1.Result:
			if !decodes || len(res) != len(batch.GetCommands()) {
				t.Fatalf("%d results for %d commands (it decodes: %v)", len(res), len(batch.GetCommands()), decodes)
			}
			for i, r := range res {
				if r == nil {
					t.Fatalf("no result for command %d", i)
				}
			}
		default:
			t.Fatalf("Apply returned %T", res)
		}
	})
}

// FuzzForwardedQuery: a forwarded request frame, decoded, and its query
// answered by a ledger as the leader answers it (queryLocal): any query
// is answered or refused as invalid, never panics, and never lists more
// transactions than a query may ask for.
func FuzzForwardedQuery(f *testing.F) {
	for _, s := range fuzzForwardSeeds(f) {
		f.Add(s)
	}
	fsm := fuzzFSM(f)
	setup := append(setupCommands(fuzzCard), topUp("top-up/1", fuzzCard, 1000), charge(1, fuzzCard, 2, 300), charge(2, fuzzCard, 3, 300))
	if res, ok := fsm.Apply(&raft.Log{Index: 1, Data: fuzzMarshal(f, &ledgerv1.Batch{Commands: setup})}).([]*ledgerv1.Result); !ok || len(res) != len(setup) {
		f.Fatalf("setup: %v", res)
	} else {
		for i, r := range res {
			if r.GetStatus() != ledgerv1.Status_STATUS_OK {
				f.Fatalf("setup %s: %v", setup[i].GetId(), r)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(replicationv1.ForwardRequest)
		if readFrame(bufio.NewReader(bytes.NewReader(data)), req) != nil || req.GetQuery() == nil {
			return
		}
		var (
			qr  *replicationv1.QueryResult
			err error
		)
		fsm.read(func(s *ledger.State) { qr, err = s.Answer(req.GetQuery()) })
		if err != nil {
			if qr != nil {
				t.Fatalf("refused with %v, and answered %v", err, qr)
			}
			return
		}
		if n := len(qr.GetTransactions().GetTransactions()); n > ledger.QueryTransactionsMax {
			t.Fatalf("%d transactions listed, at most %d may be", n, ledger.QueryTransactionsMax)
		}
		if _, err := proto.Marshal(qr); err != nil {
			t.Fatalf("answer does not encode: %v", err)
		}
	})
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// A length over forwardFrameBytesMax is refused from the header alone: the
// frame's bytes are neither read nor allocated for, even when the peer
// does send them all.
func TestReadFrameRefusesALengthOverTheMax(t *testing.T) {
	header := binary.BigEndian.AppendUint32(nil, forwardFrameBytesMax+1)
	src := &countingReader{r: io.MultiReader(bytes.NewReader(header), io.LimitReader(zeros{}, forwardFrameBytesMax+1))}
	r := bufio.NewReaderSize(src, forwardBufferBytes)
	if err := readFrame(r, new(replicationv1.ForwardRequest)); err == nil {
		t.Fatal("a frame over the max was read")
	}
	if src.n > forwardBufferBytes {
		t.Fatalf("%d bytes read from the peer, want no more than one buffer (%d)", src.n, forwardBufferBytes)
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
