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

// groups returns the groups that apply cmd; the first answers for all.
func (r routedLedger) groups(cmd *ledgerv1.Command) ([]string, error) {
	return groupsOf(cmd, r.shards, "")
}

// groupsOf returns the Raft groups that apply cmd, by the route of its
// kind in the ledger's command table; the first one's result answers for
// all. chosen is the shard a sender names for a kind that only its sender
// can place (settlement), "" from a sender that routes by the command. A
// command of no kind, or of one the table lacks, is an error.
func groupsOf(cmd *ledgerv1.Command, shards int, chosen string) ([]string, error) {
	kind, err := ledger.KindOf(cmd)
	if err != nil {
		return nil, fmt.Errorf("cluster: route command %s: %w", cmd.GetId(), err)
	}
	switch kind.Route {
	case ledger.RouteCardShard:
		return []string{replication.ShardGroup(replication.ShardOf(kind.CardID(cmd), shards))}, nil
	case ledger.RouteRegistry, ledger.RouteRegistryThenShards:
		// The shards follow the registry once it answered (following).
		return []string{replication.RegistryGroup}, nil
	case ledger.RouteEveryGroup:
		all := []string{replication.RegistryGroup}
		for i := range shards {
			all = append(all, replication.ShardGroup(i))
		}
		return all, nil
	case ledger.RouteSenderShard:
		for i := range shards {
			if chosen == replication.ShardGroup(i) {
				return []string{chosen}, nil
			}
		}
		return nil, fmt.Errorf("cluster: route command %s: a %s goes to %v, and %q is not one of the %d shards", cmd.GetId(), kind.Name, kind.Route, chosen, shards)
	}
	return nil, fmt.Errorf("cluster: route command %s: a %s goes to %v, which the cluster does not know", cmd.GetId(), kind.Name, kind.Route)
}

// Propose sends cmd to its group (for an institution: to the registry, then
// to every shard, each idempotent, so a retry completes a half-done
// registration).
func (r routedLedger) Propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	groups, err := r.groups(cmd)
	if err != nil {
		return nil, err
	}
	// A command that writes to two cards (a replacement moves the money
	// from one to the other) does it in one step of one shard: both must
	// be there.
	if kind, _ := ledger.KindOf(cmd); kind.SecondCardID != nil {
		if first, second := kind.CardID(cmd), kind.SecondCardID(cmd); !r.SameShard(first, second) {
			return &ledgerv1.Result{
				Status:       ledgerv1.Status_STATUS_REJECTED,
				RejectReason: ledgerv1.RejectReason_REJECT_REASON_INVALID,
				Error:        fmt.Sprintf("card %s is in another shard than %s: both cards of a %s must be in the same shard", second, first, kind.Name),
			}, nil
		}
	}
	var first *ledgerv1.Result
	for _, group := range groups {
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
// the order of cmds (for institutions, the registry's). A command that
// cannot be routed fails the whole call before anything is sent.
func (r routedLedger) ProposeAll(ctx context.Context, cmds []*ledgerv1.Command) ([]*ledgerv1.Result, error) {
	byGroup := map[string][]int{}
	var order []string
	for i, cmd := range cmds {
		groups, err := r.groups(cmd)
		if err != nil {
			return nil, err
		}
		for _, group := range groups {
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

// following returns what every shard is given of a command the registry
// applied with res (a tariff set, stamped with the version the registry
// gave it: see ledger.RouteRegistryThenShards); nil for any other command or
// outcome. A shard keeps the highest version it was given, so a late retry
// of an older set changes nothing there.
func following(cmd *ledgerv1.Command, res *ledgerv1.Result) *ledgerv1.Command {
	if kind, err := ledger.KindOf(cmd); err == nil && kind.Follow != nil {
		return kind.Follow(cmd, res)
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
	card, found, err := ledgerReads{r.host}.Card(ctx, r.cardGroup(cardID), cardID)
	return found1(card, found, err, "card", cardID)
}

func (r routedLedger) Transactions(ctx context.Context, cardID string, beforeSequence uint64, limit int) ([]*civicardv1.Transaction, error) {
	return ledgerReads{r.host}.Transactions(ctx, r.cardGroup(cardID), cardID, beforeSequence, limit)
}

func (r routedLedger) Institution(ctx context.Context, institutionID string) (*civicardv1.Institution, error) {
	inst, found, err := ledgerReads{r.host}.Institution(ctx, replication.RegistryGroup, institutionID)
	return found1(inst, found, err, "institution", institutionID)
}

func (r routedLedger) Terminal(ctx context.Context, terminalID string) (*civicardv1.Terminal, error) {
	terminal, found, err := ledgerReads{r.host}.Terminal(ctx, replication.RegistryGroup, terminalID)
	return found1(terminal, found, err, "terminal", terminalID)
}

// Tariff reads the region and a price list from the shard of cardID, or
// from the registry when cardID is "".
func (r routedLedger) Tariff(ctx context.Context, cardID, institutionID string) (*ledgerv1.TariffRecords, error) {
	group := replication.RegistryGroup
	if cardID != "" {
		group = r.cardGroup(cardID)
	}
	return ledgerReads{r.host}.Tariff(ctx, group, institutionID, false)
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
			remote, err = ledgerReads{r.host}.BlockedCards(ctx, group)
			ids = append(ids, remote...)
		}
		if err != nil {
			return nil, fmt.Errorf("blocked cards of %s: %w", group, err)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
