package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"civicard/cluster/replication"
	"civicard/domain/settlement/cycle"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
)

// Settlement is what the SettlementService serves from (cluster.Settler).
type Settlement interface {
	CloseCycle(ctx context.Context, cycle uint64) (*civicardv1.SettlementBatch, error)
	ListBatches(ctx context.Context, limit int) ([]*civicardv1.SettlementBatch, uint64, error)
	Statement(ctx context.Context, cycle uint64, institutionID string) (*civicardv1.GetStatementResponse, error)
	PayoutFile(ctx context.Context, cycle uint64) ([]byte, string, error)
	Reconcile(ctx context.Context) (*civicardv1.ReconcileResponse, error)
}

// Limits of settlement requests.
const (
	batchesListedMax     = 1000
	batchesListedDefault = 100
	institutionIDBytes   = 64
	// settleTimeout bounds a CloseCycle: a close walks every posting of
	// the cycle in each shard, and a batch posts a payout per institution.
	settleTimeout = 2 * time.Minute
)

type settlementService struct{ gw *Gateway }

var _ civicardv1connect.SettlementServiceHandler = settlementService{}

// settlement authenticates the operator and returns the node's settlement.
func (s settlementService) settlement(req connect.AnyRequest) (Settlement, error) {
	if s.gw.cfg.Settlement == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this node holds no ledger: ask a node that does"))
	}
	return s.gw.cfg.Settlement, nil
}

// fromSettlement maps a settlement error to what the caller sees.
func fromSettlement(err error) error {
	switch {
	case errors.Is(err, cycle.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, cycle.ErrRefused):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, replication.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("no answer in time; every step is idempotent, call again: %w", err))
	}
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("call again, every step is idempotent: %w", err))
}

func (s settlementService) CloseCycle(ctx context.Context, req *connect.Request[civicardv1.CloseCycleRequest]) (*connect.Response[civicardv1.CloseCycleResponse], error) {
	st, err := s.settlement(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	b, err := st.CloseCycle(ctx, req.Msg.GetCycle())
	if err != nil {
		return nil, fromSettlement(err)
	}
	return connect.NewResponse(&civicardv1.CloseCycleResponse{Batch: b}), nil
}

func (s settlementService) ListBatches(ctx context.Context, req *connect.Request[civicardv1.ListBatchesRequest]) (*connect.Response[civicardv1.ListBatchesResponse], error) {
	st, err := s.settlement(req)
	if err != nil {
		return nil, err
	}
	limit := int(req.Msg.GetLimit())
	switch {
	case limit == 0:
		limit = batchesListedDefault
	case limit > batchesListedMax:
		return nil, invalid("limit %d: at most %d", limit, batchesListedMax)
	}
	ctx, cancel := context.WithTimeout(ctx, s.gw.cfg.RequestTimeout)
	defer cancel()
	batches, open, err := st.ListBatches(ctx, limit)
	if err != nil {
		return nil, fromSettlement(err)
	}
	return connect.NewResponse(&civicardv1.ListBatchesResponse{Batches: batches, OpenCycle: open}), nil
}

func (s settlementService) GetStatement(ctx context.Context, req *connect.Request[civicardv1.GetStatementRequest]) (*connect.Response[civicardv1.GetStatementResponse], error) {
	st, err := s.settlement(req)
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetInstitutionId()
	if id == "" || len(id) > institutionIDBytes {
		return nil, invalid("institution_id: 1 to %d bytes", institutionIDBytes)
	}
	if req.Msg.GetCycle() == 0 {
		return nil, invalid("cycle: cycles are numbered from 1")
	}
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	res, err := st.Statement(ctx, req.Msg.GetCycle(), id)
	if err != nil {
		return nil, fromSettlement(err)
	}
	return connect.NewResponse(res), nil
}

func (s settlementService) GetPayoutFile(ctx context.Context, req *connect.Request[civicardv1.GetPayoutFileRequest]) (*connect.Response[civicardv1.GetPayoutFileResponse], error) {
	st, err := s.settlement(req)
	if err != nil {
		return nil, err
	}
	if req.Msg.GetCycle() == 0 {
		return nil, invalid("cycle: cycles are numbered from 1")
	}
	ctx, cancel := context.WithTimeout(ctx, s.gw.cfg.RequestTimeout)
	defer cancel()
	doc, id, err := st.PayoutFile(ctx, req.Msg.GetCycle())
	if err != nil {
		return nil, fromSettlement(err)
	}
	return connect.NewResponse(&civicardv1.GetPayoutFileResponse{Xml: doc, MessageId: id}), nil
}

func (s settlementService) Reconcile(ctx context.Context, req *connect.Request[civicardv1.ReconcileRequest]) (*connect.Response[civicardv1.ReconcileResponse], error) {
	st, err := s.settlement(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	res, err := st.Reconcile(ctx)
	if err != nil {
		return nil, fromSettlement(err)
	}
	return connect.NewResponse(res), nil
}
