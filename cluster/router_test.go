package cluster

import (
	"context"
	"strings"
	"testing"

	"civicard/cluster/replication"
	"civicard/domain/cardno"
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
