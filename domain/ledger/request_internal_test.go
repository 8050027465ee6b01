package ledger

import (
	"bytes"
	"strings"
	"testing"

	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// The hot path's hand-written request of a tap or a top-up is byte for byte
// the marshalled projection the command table defines.
func TestRequestWireMatchesTheProjection(t *testing.T) {
	long := strings.Repeat("x", 128)
	for _, cmd := range []*ledgerv1.Command{
		{Id: "tap/T1/1", Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: "320000000018", TerminalId: "T1", TerminalSequence: 1, ServiceCode: "RIDE", Quantity: 1, TimeUnixMs: 5, AmountMinor: 340, ExpectedVersion: 7}}},
		{Id: "tap/T1/2", Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: "C1", TerminalSequence: 1 << 62, Quantity: 1<<32 - 1, Offline: true}}},
		{Id: long, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: long, TerminalId: long, ServiceCode: long}}},
		{Id: "tap/empty", Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{}}},
		{Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: "C1"}}},
		{Id: "topup/r1", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: "C1", AmountMinor: 2000, TimeUnixMs: 9, ExpectedVersion: 3}}},
		{Id: "topup/neg", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: "C1", AmountMinor: -1}}},
		{Id: "topup/zero", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{}}},
	} {
		fast, ok := tapOrTopUpRequestWire(cmd)
		if !ok {
			t.Fatalf("%v: no fast path", cmd)
		}
		kind, err := KindOf(cmd)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := proto.MarshalOptions{Deterministic: true}.Marshal(kind.request(cmd))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fast, slow) {
			t.Errorf("%v:\nfast %x\nslow %x", cmd, fast, slow)
		}
	}
	for _, cmd := range []*ledgerv1.Command{
		{Id: "correct/1", Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: "C1", Correction: true}}},
		{Id: "tap/bad", Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: "C\xff"}}},
		{Id: "block/1", Kind: &ledgerv1.Command_BlockCard{BlockCard: &ledgerv1.BlockCard{CardId: "C1"}}},
		{Id: "tap/nil", Kind: &ledgerv1.Command_Charge{}},
	} {
		if _, ok := tapOrTopUpRequestWire(cmd); ok {
			t.Errorf("%v took the fast path", cmd)
		}
	}
}
