package cycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"civicard/domain/ledger"
	"civicard/domain/settlement/clearing"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// Ledgers is what the coordinator needs of the ledger's groups. Reads must
// see every proposal acknowledged before them (in the cluster: at the
// leader).
type Ledgers interface {
	// Shards names the shard groups, in shard order.
	Shards() []string
	// Registry names the registry group.
	Registry() string
	// Propose applies cmd in group and returns the ledger's result; it
	// may be retried, and is, with the same command.
	Propose(ctx context.Context, group string, cmd *ledgerv1.Command) (*ledgerv1.Result, error)
	// CycleTotals returns the group's closed cycle k (nil if not closed)
	// and the group's open cycle.
	CycleTotals(ctx context.Context, group string, k uint64) (totals *ledgerv1.CycleTotals, open uint64, err error)
	// Batches returns the registry's batches, newest first, at most limit.
	Batches(ctx context.Context, limit int) ([]*civicardv1.SettlementBatch, error)
	// Batch returns the registry's batch of cycle k, nil if not recorded.
	Batch(ctx context.Context, k uint64) (*civicardv1.SettlementBatch, error)
	// Institution returns an institution as the registry holds it.
	Institution(ctx context.Context, id string) (*civicardv1.Institution, bool, error)
	// Statement returns institutionID's lines of the group's closed cycle
	// k, group filled in.
	Statement(ctx context.Context, group string, k uint64, institutionID string) ([]*civicardv1.SettlementStatementLine, error)
	// StatementSums returns the sums of every institution's statement
	// lines of the group's closed cycle k.
	StatementSums(ctx context.Context, group string, k uint64) (*ledgerv1.CycleTotals, error)
	// Totals returns the group's account totals.
	Totals(ctx context.Context, group string) (*civicardv1.LedgerTotals, error)
}

// Config is what a batch is decided with.
type Config struct {
	Currency string
	Fee      *civicardv1.CycleFeePolicy
	// Now stamps the close and the batch.
	Now func() time.Time
}

// Validate rejects a config that cannot settle.
func (c Config) Validate() error {
	if c.Currency == "" || c.Now == nil {
		return errors.New("cycle: Currency and Now are required")
	}
	return clearing.CheckFee(c.Fee)
}

// ErrRefused is a step the ledger refused: a bug or a misconfiguration
// (another fee policy, another currency), never healed by retrying. It is
// an alarm.
var ErrRefused = errors.New("cycle: ledger refused a settlement step")

// Pending returns the cycle in flight: the last recorded batch if it is not
// paid, else the next cycle if some shard has closed it; 0 if none.
func Pending(ctx context.Context, l Ledgers) (uint64, error) {
	last, err := l.Batches(ctx, 1)
	if err != nil {
		return 0, fmt.Errorf("cycle: batches: %w", err)
	}
	var next uint64 = 1
	if len(last) > 0 {
		if !last[0].GetPaid() {
			return last[0].GetCycle(), nil
		}
		next = last[0].GetCycle() + 1
	}
	for _, group := range l.Shards() {
		_, open, err := l.CycleTotals(ctx, group, 0)
		if err != nil {
			return 0, fmt.Errorf("cycle: %s: %w", group, err)
		}
		if open > next {
			return next, nil
		}
	}
	return 0, nil
}

// Next returns the cycle Settle(0) would settle: the pending one, else the
// open one.
func Next(ctx context.Context, l Ledgers) (uint64, error) {
	k, err := Pending(ctx, l)
	if err != nil || k != 0 {
		return k, err
	}
	last, err := l.Batches(ctx, 1)
	if err != nil {
		return 0, fmt.Errorf("cycle: batches: %w", err)
	}
	if len(last) == 0 {
		return 1, nil
	}
	return last[0].GetCycle() + 1, nil
}

// Settle runs cycle k (0: Next) to its paid batch and returns the batch.
// A cycle whose batch is paid is returned as it is; a cycle beyond the next
// one is refused (cycles settle in order).
func Settle(ctx context.Context, l Ledgers, cfg Config, k uint64) (*civicardv1.SettlementBatch, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	next, err := Next(ctx, l)
	if err != nil {
		return nil, err
	}
	if k == 0 {
		k = next
	}
	if k > next {
		return nil, fmt.Errorf("%w: cycle %d cannot settle before cycle %d", ErrRefused, k, next)
	}
	batch, err := l.Batch(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("cycle: batch %d: %w", k, err)
	}
	if batch == nil {
		if batch, err = record(ctx, l, cfg, k); err != nil {
			return nil, err
		}
	}
	if batch.GetPaid() {
		return batch, nil
	}
	if err := pay(ctx, l, batch); err != nil {
		return nil, err
	}
	if err := step(ctx, l, l.Registry(), &ledgerv1.Command{Id: ledger.SettlementMarkPaidID(k), Kind: &ledgerv1.Command_SettlementMarkPaid{
		SettlementMarkPaid: &ledgerv1.SettlementMarkPaid{Cycle: k, TimeUnixMs: cfg.Now().UnixMilli()},
	}}); err != nil {
		return nil, err
	}
	paid, err := l.Batch(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("cycle: batch %d: %w", k, err)
	}
	if paid == nil || !paid.GetPaid() {
		return nil, fmt.Errorf("%w: batch %d is not paid after marking it paid", ErrRefused, k)
	}
	return paid, nil
}

// record closes cycle k in every shard and records its batch.
func record(ctx context.Context, l Ledgers, cfg Config, k uint64) (*civicardv1.SettlementBatch, error) {
	shards := make([]clearing.ShardCycle, 0, len(l.Shards()))
	for _, group := range l.Shards() {
		if err := step(ctx, l, group, &ledgerv1.Command{Id: ledger.CycleCloseID(k), Kind: &ledgerv1.Command_CycleClose{
			CycleClose: &ledgerv1.CycleClose{Cycle: k, Fee: cfg.Fee, TimeUnixMs: cfg.Now().UnixMilli()},
		}}); err != nil {
			return nil, err
		}
		totals, _, err := l.CycleTotals(ctx, group, k)
		if err != nil {
			return nil, fmt.Errorf("cycle: %s cycle %d: %w", group, k, err)
		}
		if totals == nil {
			return nil, fmt.Errorf("%w: %s has not closed cycle %d after closing it", ErrRefused, group, k)
		}
		shards = append(shards, clearing.ShardCycle{Group: group, Totals: totals})
	}
	var previous *civicardv1.SettlementBatch
	if k > 1 {
		var err error
		if previous, err = l.Batch(ctx, k-1); err != nil {
			return nil, fmt.Errorf("cycle: batch %d: %w", k-1, err)
		}
		if previous == nil {
			return nil, fmt.Errorf("%w: batch %d is not recorded", ErrRefused, k-1)
		}
	}
	var lookupErr error
	batch, err := clearing.Settle(clearing.Input{
		Cycle: k, Currency: cfg.Currency, CreatedUnixMs: cfg.Now().UnixMilli(), Shards: shards, Previous: previous,
		Institution: func(id string) (clearing.Institution, bool) {
			inst, ok, err := l.Institution(ctx, id)
			if err != nil {
				lookupErr = err
				return clearing.Institution{}, false
			}
			return clearing.Institution{ID: id, Name: inst.GetName(), IBAN: inst.GetIban()}, ok
		},
	})
	if lookupErr != nil {
		return nil, fmt.Errorf("cycle: institutions: %w", lookupErr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if err := step(ctx, l, l.Registry(), &ledgerv1.Command{Id: ledger.SettlementRecordID(k), Kind: &ledgerv1.Command_SettlementRecord{
		SettlementRecord: &ledgerv1.SettlementRecord{Batch: batch},
	}}); err != nil {
		return nil, err
	}
	// The batch a predecessor recorded wins: read back what is recorded.
	recorded, err := l.Batch(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("cycle: batch %d: %w", k, err)
	}
	if recorded == nil {
		return nil, fmt.Errorf("%w: batch %d is not recorded after recording it", ErrRefused, k)
	}
	return recorded, nil
}

// pay posts every institution's part of the batch in every shard.
func pay(ctx context.Context, l Ledgers, b *civicardv1.SettlementBatch) error {
	for _, inst := range b.GetInstitutions() {
		for _, part := range inst.GetShards() {
			if part.GetAmountMinor() == 0 && part.GetFeeMinor() == 0 {
				continue
			}
			if err := step(ctx, l, part.GetGroup(), &ledgerv1.Command{
				Id: ledger.PayoutID(b.GetCycle(), inst.GetInstitutionId()),
				Kind: &ledgerv1.Command_PayoutPost{PayoutPost: &ledgerv1.PayoutPost{
					Cycle: b.GetCycle(), InstitutionId: inst.GetInstitutionId(),
					AmountMinor: part.GetAmountMinor(), FeeMinor: part.GetFeeMinor(),
				}},
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// step proposes one settlement command and requires it applied (now or
// before).
func step(ctx context.Context, l Ledgers, group string, cmd *ledgerv1.Command) error {
	res, err := l.Propose(ctx, group, cmd)
	if err != nil {
		return fmt.Errorf("cycle: %s %s: %w", group, cmd.GetId(), err)
	}
	if res.GetStatus() != ledgerv1.Status_STATUS_OK {
		return fmt.Errorf("%w: %s %s: %v %s", ErrRefused, group, cmd.GetId(), res.GetStatus(), res.GetError())
	}
	return nil
}
