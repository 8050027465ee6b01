package replication

import (
	"context"
	"errors"
	"fmt"

	"civicard/domain/ledger"
	replicationv1 "civicard/messages/replication/v1"
)

// Query reads a group's ledger at its leader, linearizably: the answer
// reflects every proposal acknowledged anywhere before Query was called.
// It is forwarded and retried like Propose (a read is always safe to
// retry). What a query asks and how it is answered is the ledger's
// (ledger.State.Answer): this layer only carries it to the leader and the
// answer back. A query the ledger cannot answer is ErrInvalid. Returned
// messages may be shared with the ledger: never mutate them.
func (h *Host) Query(ctx context.Context, group string, q *replicationv1.Query) (*replicationv1.QueryResult, error) {
	if q.GetKind() == nil {
		return nil, fmt.Errorf("%w: empty query", ErrInvalid)
	}
	resp, err := h.call(ctx, &replicationv1.ForwardRequest{
		Group: group,
		Kind:  &replicationv1.ForwardRequest_Query{Query: q},
	}, true)
	if err != nil {
		if errors.Is(err, ErrOutcomeUnknown) {
			// Nothing to be unknown about for a read: it simply failed.
			return nil, fmt.Errorf("%w: %w", ErrNoLeader, errors.Unwrap(err))
		}
		return nil, err
	}
	if resp.GetQuery() == nil {
		return nil, fmt.Errorf("%w: the leader answered no query result", ErrNoLeader)
	}
	return resp.GetQuery(), nil
}

// queryLocal answers a query at this replica, which must lead, after the
// leader read's checks (Group.leaderRead).
func (h *Host) queryLocal(ctx context.Context, g *Group, q *replicationv1.Query) *replicationv1.ForwardResponse {
	var (
		qr        *replicationv1.QueryResult
		answerErr error
	)
	err := g.leaderRead(ctx, func(s *ledger.State) { qr, answerErr = s.Answer(q) })
	switch {
	case err != nil:
		return h.errorResponse(g, err)
	case answerErr != nil:
		// No kind, or one this ledger does not know (a newer sender).
		return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_INVALID, Error: answerErr.Error()}
	}
	return &replicationv1.ForwardResponse{Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK, Query: qr}
}
