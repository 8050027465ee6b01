package baseline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"civicard/domain/money"
	civicardv1 "civicard/messages/civicard/v1"
)

// Card is a card the baseline holds.
type Card struct {
	ID           string
	BalanceMinor int64
}

// Tapper taps against the baseline database: the same question civicard
// answers, with one fixed fare (the baseline has no tariffs).
type Tapper struct {
	pool      *pgxpool.Pool
	fareMinor int64
}

const schema = `
CREATE TABLE cards (
	id      text PRIMARY KEY,
	balance bigint NOT NULL CHECK (balance >= 0)
);
CREATE TABLE transfers (
	id        bigserial PRIMARY KEY,
	card_id   text NOT NULL REFERENCES cards (id),
	amount    bigint NOT NULL,
	terminal  integer NOT NULL,
	sequence  bigint NOT NULL,
	at        timestamptz NOT NULL,
	UNIQUE (terminal, sequence)
);`

// NewTapper creates the schema, loads cards and opens connectionsMax
// connections.
func NewTapper(ctx context.Context, dsn string, cards []Card, connectionsMax int, fareMinor int64) (*Tapper, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns, cfg.MinConns = int32(connectionsMax), int32(connectionsMax)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("baseline: connect: %w", err)
	}
	if _, err := pool.Exec(ctx, schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("baseline: schema: %w", err)
	}
	rows := make([][]any, len(cards))
	for i, c := range cards {
		rows[i] = []any{c.ID, c.BalanceMinor}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"cards"}, []string{"id", "balance"}, pgx.CopyFromRows(rows)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("baseline: load cards: %w", err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE cards"); err != nil {
		pool.Close()
		return nil, err
	}
	return &Tapper{pool: pool, fareMinor: fareMinor}, nil
}

// Tap charges the fare if the balance allows it and records the transfer,
// in one transaction committed synchronously.
func (t *Tapper) Tap(ctx context.Context, worker int, sequence uint64, cardID string, at time.Time) (*civicardv1.TapResponse, error) {
	answer := &civicardv1.TapResponse{Result: civicardv1.TapResult_TAP_RESULT_DECLINED, DeclineReason: civicardv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS}
	err := pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		var balance int64
		err := tx.QueryRow(ctx, "UPDATE cards SET balance = balance - $1 WHERE id = $2 AND balance >= $1 RETURNING balance",
			t.fareMinor, cardID).Scan(&balance)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO transfers (card_id, amount, terminal, sequence, at) VALUES ($1, $2, $3, $4, $5)",
			cardID, -t.fareMinor, worker, int64(sequence), at); err != nil {
			return err
		}
		answer = &civicardv1.TapResponse{
			Result:  civicardv1.TapResult_TAP_RESULT_ACCEPTED,
			Charged: &civicardv1.Money{Currency: money.DefaultCurrency, MinorUnits: t.fareMinor},
			Balance: &civicardv1.Money{Currency: money.DefaultCurrency, MinorUnits: balance},
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("baseline: tap: %w", err)
	}
	return answer, nil
}

// Close closes the connections.
func (t *Tapper) Close() { t.pool.Close() }
