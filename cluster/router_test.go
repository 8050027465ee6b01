package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"civicard/cluster/replication"
	"civicard/domain/cardno"
	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// A replacement moves money between two cards in one command of one shard:
// across shards it is refused before it reaches any group.
func TestReplacementAcrossShardsIsRefused(t *testing.T) {
	r := routedLedger{shards: 4} // no host: a proposal that reached one would panic
	old, _ := cardno.Make(32_000_000_299)
	var other, same string
	for body := uint64(39_000_000_000); other == "" || same == ""; body++ {
		id, _ := cardno.Make(body)
		if replication.ShardOf(id, 4) == replication.ShardOf(old, 4) {
			same = id
		} else {
			other = id
		}
	}
	if !r.SameShard(old, same) || r.SameShard(old, other) {
		t.Fatalf("SameShard disagrees with ShardOf for %s, %s, %s", old, same, other)
	}
	res, err := r.Propose(context.Background(), &ledgerv1.Command{Id: "replace/x", Kind: &ledgerv1.Command_ReplaceCard{ReplaceCard: &ledgerv1.ReplaceCard{
		CardId: old, NewCardId: other, Audit: &civicardv1.Audit{Actor: "operator", TimeUnixMs: 1},
	}}})
	if err != nil || res.GetStatus() != ledgerv1.Status_STATUS_REJECTED || !strings.Contains(res.GetError(), "same shard") {
		t.Fatalf("replacement across shards = %v, %v; want rejected", res, err)
	}
}

// Every field of Command's oneof is routed to Raft groups that exist, by
// its row in the ledger's command table: a kind left out of the table, or
// given a route the cluster does not know, fails here rather than going to
// the registry unnoticed.
func TestEveryCommandKindIsRouted(t *testing.T) {
	const shards = 4
	card, _ := cardno.Make(32_000_000_299)
	cardShard := replication.ShardGroup(replication.ShardOf(card, shards))
	fields := (&ledgerv1.Command{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	for i := range fields.Len() {
		field := fields.Get(i)
		t.Run(string(field.Name()), func(t *testing.T) {
			cmd := &ledgerv1.Command{Id: "route/" + string(field.Name())}
			m := cmd.ProtoReflect()
			msg := m.NewField(field)
			if f := field.Message().Fields().ByName("card_id"); f != nil {
				msg.Message().Set(f, protoreflect.ValueOfString(card))
			}
			m.Set(field, msg)
			kind, err := ledger.KindOf(cmd)
			if err != nil {
				t.Fatalf("not in the command table: %v", err)
			}
			r := routedLedger{shards: shards}
			groups, err := r.groups(cmd)
			switch kind.Route {
			case ledger.RouteCardShard:
				want(t, groups, err, cardShard)
			case ledger.RouteRegistry:
				want(t, groups, err, replication.RegistryGroup)
			case ledger.RouteRegistryThenShards:
				// The shards follow once the registry answered.
				want(t, groups, err, replication.RegistryGroup)
				ok := &ledgerv1.Result{Status: ledgerv1.Status_STATUS_OK, TariffVersion: 7}
				if f := following(cmd, ok); f == nil || f.GetId() != cmd.GetId() {
					t.Fatalf("following = %v, want the command under its id", f)
				}
				if f := following(cmd, &ledgerv1.Result{Status: ledgerv1.Status_STATUS_REJECTED}); f != nil {
					t.Fatalf("a refused set is followed: %v", f)
				}
			case ledger.RouteEveryGroup:
				want(t, groups, err, replication.RegistryGroup, "shard-0", "shard-1", "shard-2", "shard-3")
			case ledger.RouteSenderShard:
				// Only its sender knows the shard: routed by the
				// command alone it is an error, not the registry.
				if err == nil {
					t.Fatalf("routed without a sender's shard to %v", groups)
				}
				groups, err = groupsOf(cmd, shards, "shard-2")
				want(t, groups, err, "shard-2")
				if groups, err := groupsOf(cmd, shards, replication.RegistryGroup); err == nil {
					t.Fatalf("routed to the registry as a shard: %v", groups)
				}
			default:
				t.Fatalf("route %v: the cluster does not know it", kind.Route)
			}
		})
	}
}

func want(t *testing.T, groups []string, err error, wantGroups ...string) {
	t.Helper()
	if err != nil || !slices.Equal(groups, wantGroups) {
		t.Fatalf("groups = %v, %v; want %v", groups, err, wantGroups)
	}
}

// A command of no kind is refused before it reaches any group (it went to
// the registry once).
func TestCommandOfNoKindIsNotRouted(t *testing.T) {
	r := routedLedger{shards: 4} // no host: a proposal that reached one would panic
	for _, cmd := range []*ledgerv1.Command{{Id: "x"}, {Id: "x", Kind: (*ledgerv1.Command_Charge)(nil)}} {
		if _, err := r.Propose(context.Background(), cmd); !errors.Is(err, ledger.ErrNoKind) {
			t.Errorf("Propose(%v) = %v, want ErrNoKind", cmd, err)
		}
		if _, err := r.ProposeAll(context.Background(), []*ledgerv1.Command{cmd}); !errors.Is(err, ledger.ErrNoKind) {
			t.Errorf("ProposeAll(%v) = %v, want ErrNoKind", cmd, err)
		}
	}
}
