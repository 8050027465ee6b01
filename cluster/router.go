package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"civicard/actors"
	"civicard/cluster/replication"
	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// routedLedger serves the grains from the Raft groups of a cluster: a card's
// commands and reads go to the shard that holds it, institutions and
// terminals to the registry. Every shard also holds every institution, so
// that all of a tap's transfers stay inside one shard (each shard keeps the
// institutions' receivables for its cards; settlement adds them up).
type routedLedger struct {
	host   *replication.Host
	shards int
}

var (
	_ actors.Ledger       = routedLedger{}
	_ actors.ShardChecker = routedLedger{}
)

// SameShard reports whether two cards are in the same shard.
func (r routedLedger) SameShard(cardA, cardB string) bool {
	return replication.ShardOf(cardA, r.shards) == replication.ShardOf(cardB, r.shards)
}

func (r routedLedger) cardGroup(cardID string) string {
	return replication.ShardGroup(replication.ShardOf(cardID, r.shards))
}

// groups returns where cmd goes; the first answers for all.
func (r routedLedger) groups(cmd *ledgerv1.Command) []string {
	switch k := cmd.GetKind().(type) {
	case *ledgerv1.Command_OpenCard:
		return []string{r.cardGroup(k.OpenCard.GetCardId())}
	case *ledgerv1.Command_TopUp:
		return []string{r.cardGroup(k.TopUp.GetCardId())}
	case *ledgerv1.Command_Charge:
		return []string{r.cardGroup(k.Charge.GetCardId())}
	case *ledgerv1.Command_BlockCard:
		return []string{r.cardGroup(k.BlockCard.GetCardId())}
	case *ledgerv1.Command_GrantEntitlement:
		return []string{r.cardGroup(k.GrantEntitlement.GetCardId())}
	case *ledgerv1.Command_RevokeEntitlement:
		return []string{r.cardGroup(k.RevokeEntitlement.GetCardId())}
	case *ledgerv1.Command_ReplaceCard:
		return []string{r.cardGroup(k.ReplaceCard.GetCardId())}
	case *ledgerv1.Command_RenewCard:
		return []string{r.cardGroup(k.RenewCard.GetCardId())}
	case *ledgerv1.Command_CloseCard:
		return []string{r.cardGroup(k.CloseCard.GetCardId())}
	case *ledgerv1.Command_RegisterInstitution:
		all := []string{replication.RegistryGroup}
		for i := range r.shards {
			all = append(all, replication.ShardGroup(i))
		}
		return all
	case *ledgerv1.Command_SetRegion, *ledgerv1.Command_SetPriceList:
		// The registry numbers the set; the shards follow (followRegistry).
		return []string{replication.RegistryGroup}
	default:
		return []string{replication.RegistryGroup}
	}
}

// Propose sends cmd to its group (for an institution: to the registry, then
// to every shard, each idempotent, so a retry completes a half-done
// registration).
func (r routedLedger) Propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	// A replacement moves money between two cards in one command of one
	// shard: both must be there.
	if rc := cmd.GetReplaceCard(); rc != nil && !r.SameShard(rc.GetCardId(), rc.GetNewCardId()) {
		return &ledgerv1.Result{
			Status:       ledgerv1.Status_STATUS_REJECTED,
			RejectReason: ledgerv1.RejectReason_REJECT_REASON_INVALID,
			Error:        fmt.Sprintf("card %s is in another shard than %s: a replacement must be in the same shard", rc.GetNewCardId(), rc.GetCardId()),
		}, nil
	}
	var first *ledgerv1.Result
	for _, group := range r.groups(cmd) {
		res, err := r.host.Propose(ctx, group, cmd)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", group, err)
		}
		if first == nil {
			first = res
		}
	}
	if follow := following(cmd, first); follow != nil {
		if err := r.followRegistry(ctx, []*ledgerv1.Command{follow}); err != nil {
			return nil, err
		}
	}
	return first, nil
}

// ProposeAll sends commands to their groups, one ProposeAll per group, in
// the order of the commands within each group, and returns the results in
// the order of cmds (for institutions, the registry's).
func (r routedLedger) ProposeAll(ctx context.Context, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error) {
	byGroup := map[string][]int{}
	var order []string
	for i, cmd := range cmds {
		for _, group := range r.groups(cmd) {
			if _, ok := byGroup[group]; !ok {
				order = append(order, group)
			}
			byGroup[group] = append(byGroup[group], i)
		}
	}
	// The registry last: it holds the marker that the load is complete.
	results := make([]*ledgerv1.Result, len(cmds))
	for _, group := range append(withoutRegistry(order), replication.RegistryGroup) {
		indexes := byGroup[group]
		if len(indexes) == 0 {
			continue
		}
		batch := make([]*ledgerv1.Command, len(indexes))
		for j, i := range indexes {
			batch[j] = cmds[i]
		}
		res, err := r.host.ProposeAll(ctx, group, batch)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", group, err)
		}
		for j, i := range indexes {
			if results[i] == nil || group == replication.RegistryGroup {
				results[i] = res[j]
			}
		}
	}
	// The shards follow the registry's tariff last: a marker in cmds
	// (MarkSeeded) is applied before they do, so send one afterwards.
	var follows []*ledgerv1.Command
	for i, cmd := range cmds {
		if follow := following(cmd, results[i]); follow != nil {
			follows = append(follows, follow)
		}
	}
	if err := r.followRegistry(ctx, follows); err != nil {
		return nil, err
	}
	return results, nil
}

func withoutRegistry(groups []string) []string {
	var out []string
	for _, g := range groups {
		if g != replication.RegistryGroup {
			out = append(out, g)
		}
	}
	return out
}

// following returns what every shard is given of a tariff command the
// registry applied (res): the same command with the version the registry
// gave it, so that each shard prices its cards' taps by it; nil for any
// other command or outcome. A retry of the command gets the same version
// from the registry and completes what an interrupted follow left undone;
// a shard keeps the highest version it was given, so a late retry of an
// older set changes nothing there.
func following(cmd *ledgerv1.Command, res *ledgerv1.Result) *ledgerv1.Command {
	if res.GetStatus() != ledgerv1.Status_STATUS_OK {
		return nil
	}
	switch k := cmd.GetKind().(type) {
	case *ledgerv1.Command_SetRegion:
		c := proto.CloneOf(k.SetRegion)
		c.Version = res.GetTariffVersion()
		return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_SetRegion{SetRegion: c}}
	case *ledgerv1.Command_SetPriceList:
		c := proto.CloneOf(k.SetPriceList)
		c.Version = res.GetTariffVersion()
		return &ledgerv1.Command{Id: cmd.GetId(), Kind: &ledgerv1.Command_SetPriceList{SetPriceList: c}}
	}
	return nil
}

// followRegistry gives every shard the commands that follow the registry,
// one batch per shard, and fails unless each applied them.
func (r routedLedger) followRegistry(ctx context.Context, follows []*ledgerv1.Command) error {
	if len(follows) == 0 {
		return nil
	}
	for i := range r.shards {
		group := replication.ShardGroup(i)
		results, err := r.host.ProposeAll(ctx, group, follows)
		if err != nil {
			return fmt.Errorf("group %s: %w (the registry has the tariff: retry with the same id)", group, err)
		}
		for j, res := range results {
			if res.GetStatus() != ledgerv1.Status_STATUS_OK {
				return fmt.Errorf("group %s refused %s, which the registry applied: %s %s", group, follows[j].GetId(), res.GetRejectReason(), res.GetError())
			}
		}
	}
	return nil
}

func (r routedLedger) Card(ctx context.Context, cardID string) (*ledgerv1.CardState, error) {
	card, found, err := r.host.Card(ctx, r.cardGroup(cardID), cardID)
	return found1(card, found, err, "card", cardID)
}

func (r routedLedger) Transactions(ctx context.Context, cardID string, beforeSequence uint64, limit int) ([]*civicardv1.Transaction, error) {
	return r.host.Transactions(ctx, r.cardGroup(cardID), cardID, beforeSequence, limit)
}

func (r routedLedger) Institution(ctx context.Context, institutionID string) (*civicardv1.Institution, error) {
	inst, found, err := r.host.Institution(ctx, replication.RegistryGroup, institutionID)
	return found1(inst, found, err, "institution", institutionID)
}

func (r routedLedger) Terminal(ctx context.Context, terminalID string) (*civicardv1.Terminal, error) {
	terminal, found, err := r.host.Terminal(ctx, replication.RegistryGroup, terminalID)
	return found1(terminal, found, err, "terminal", terminalID)
}

// Tariff reads the region and a price list from the shard of cardID, or
// from the registry when cardID is "".
func (r routedLedger) Tariff(ctx context.Context, cardID, institutionID string) (*ledgerv1.TariffRecords, error) {
	group := replication.RegistryGroup
	if cardID != "" {
		group = r.cardGroup(cardID)
	}
	return r.host.Tariff(ctx, group, institutionID, false)
}

// found1 turns a (value, found, err) read into (value, err) with
// actors.ErrNotFound.
func found1[T any](v T, found bool, err error, what, id string) (T, error) {
	var zero T
	switch {
	case err != nil:
		return zero, err
	case !found:
		return zero, fmt.Errorf("%s %q: %w", what, id, actors.ErrNotFound)
	}
	return v, nil
}

// Seeded reports whether the registry says the demo data of seed was loaded,
// as this node's replica knows it (false when it has none, or lags).
func (r routedLedger) Seeded(seed uint64) bool {
	var seeded bool
	_ = r.host.ReadLocal(replication.RegistryGroup, func(s *ledger.State) { seeded = s.Seeded(seed) })
	return seeded
}

// HasRegion reports whether the registry holds a region, as this node's
// replica knows it (false when it has none, or lags).
func (r routedLedger) HasRegion() bool {
	var has bool
	_ = r.host.ReadLocal(replication.RegistryGroup, func(s *ledger.State) { has = s.Region() != nil })
	return has
}

// ready reports whether every group this node needs has a leader it knows.
func (r routedLedger) ready() error {
	for _, status := range r.host.Groups() {
		if status.Leader.NodeID == "" {
			return fmt.Errorf("group %s has no leader", status.Name)
		}
	}
	return nil
}

var _ actors.DenylistReader = routedLedger{}

// BlockedCards lists the blocked cards of every shard, sorted: from this
// node's replica of a shard (a follower's copy lags by milliseconds, and
// terminals refresh their denylists periodically anyway), or else read at
// the shard's leader.
func (r routedLedger) BlockedCards(ctx context.Context) ([]string, error) {
	var ids []string
	for i := range r.shards {
		group := replication.ShardGroup(i)
		err := r.host.ReadLocal(group, func(s *ledger.State) { ids = append(ids, s.BlockedCards()...) })
		if errors.Is(err, replication.ErrNoGroup) {
			var remote []string
			remote, err = r.host.BlockedCards(ctx, group)
			ids = append(ids, remote...)
		}
		if err != nil {
			return nil, fmt.Errorf("blocked cards of %s: %w", group, err)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
