package ledger_test

import (
	"errors"
	"strings"
	"testing"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// commandOf returns a command whose oneof holds field, with an empty
// message, the same card in every card id field.
func commandOf(field protoreflect.FieldDescriptor, cardID string) *ledgerv1.Command {
	cmd := &ledgerv1.Command{Id: "kind/" + string(field.Name())}
	m := cmd.ProtoReflect()
	msg := m.NewField(field)
	for _, name := range []protoreflect.Name{"card_id", "new_card_id"} {
		if f := field.Message().Fields().ByName(name); f != nil && f.Kind() == protoreflect.StringKind {
			msg.Message().Set(f, protoreflect.ValueOfString(cardID))
		}
	}
	m.Set(field, msg)
	return cmd
}

// Every field of Command's oneof, as the generated descriptor has it, has a
// row in the command table: a route to some Raft group, and a handler that
// decides it. A kind left out of the table fails here.
func TestEveryCommandKindHasARow(t *testing.T) {
	if err := ledger.CheckCommandTable(); err != nil {
		t.Fatal(err)
	}
	fields := (&ledgerv1.Command{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	if n := len(ledger.CommandKinds()); n != fields.Len() {
		t.Errorf("the table has %d rows, the oneof %d fields", n, fields.Len())
	}
	for i := range fields.Len() {
		field := fields.Get(i)
		t.Run(string(field.Name()), func(t *testing.T) {
			cmd := commandOf(field, "C-table")
			kind, err := ledger.KindOf(cmd)
			if err != nil {
				t.Fatalf("KindOf: %v", err)
			}
			if kind.Name != field.Name() || kind.Number != field.Number() {
				t.Fatalf("KindOf = row %s (%d)", kind.Name, kind.Number)
			}
			switch kind.Route {
			case ledger.RouteCardShard:
				if kind.CardID == nil {
					t.Fatal("routed to its card's shard, but names no card")
				}
				if got := kind.CardID(cmd); got != "C-table" {
					t.Fatalf("CardID = %q, want the message's card_id", got)
				}
			case ledger.RouteRegistry, ledger.RouteEveryGroup, ledger.RouteSenderShard, ledger.RouteRegistryThenShards:
				if kind.CardID != nil || kind.SecondCardID != nil {
					t.Fatalf("routed to %v, but names a card", kind.Route)
				}
				if (kind.Route == ledger.RouteRegistryThenShards) != (kind.Follow != nil) {
					t.Fatalf("routed to %v, with a follow %v", kind.Route, kind.Follow != nil)
				}
			default:
				t.Fatalf("routed nowhere: %v", kind.Route)
			}
			if kind.SecondCardID != nil && kind.SecondCardID(cmd) != "C-table" {
				t.Fatalf("SecondCardID = %q", kind.SecondCardID(cmd))
			}
			// Empty, the command is refused by its own handler, which
			// records the refusal: a kind the ledger does not apply would
			// be refused without a record.
			s := populated(t)
			seq := s.Sequence()
			res := s.Apply(cmd)
			if s.Sequence() != seq+1 {
				t.Fatalf("Apply = %v: not decided by a handler", res)
			}
		})
	}
}

// A command whose oneof is empty, or holds a typed nil, is of no kind:
// KindOf says so, and Apply refuses it and records nothing.
func TestCommandOfNoKind(t *testing.T) {
	for _, cmd := range []*ledgerv1.Command{nil, {Id: "x"}, {Id: "x", Kind: (*ledgerv1.Command_TopUp)(nil)}} {
		if _, err := ledger.KindOf(cmd); !errors.Is(err, ledger.ErrNoKind) {
			t.Errorf("KindOf(%v) = %v, want ErrNoKind", cmd, err)
		}
	}
	s := populated(t)
	seq := s.Sequence()
	res := s.Apply(&ledgerv1.Command{Id: "x"})
	if res.GetStatus() != ledgerv1.Status_STATUS_REJECTED || !strings.Contains(res.GetError(), "has no kind") || s.Sequence() != seq {
		t.Fatalf("Apply = %v, sequence %d -> %d", res, seq, s.Sequence())
	}
}
