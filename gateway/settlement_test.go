package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/settlement/cycle"
	civicardv1 "civicard/messages/civicard/v1"
)

// fakeSettlement answers with err and counts the calls that reach it.
type fakeSettlement struct {
	err   error
	calls int
}

func (f *fakeSettlement) CloseCycle(context.Context, uint64) (*civicardv1.SettlementBatch, error) {
	f.calls++
	return &civicardv1.SettlementBatch{Cycle: 1}, f.err
}

func (f *fakeSettlement) ListBatches(context.Context, int) ([]*civicardv1.SettlementBatch, uint64, error) {
	f.calls++
	return nil, 1, f.err
}

func (f *fakeSettlement) Statement(context.Context, uint64, string) (*civicardv1.GetStatementResponse, error) {
	f.calls++
	return &civicardv1.GetStatementResponse{}, f.err
}

func (f *fakeSettlement) PayoutFile(context.Context, uint64) ([]byte, string, error) {
	f.calls++
	return []byte("<Document/>"), "CIVICARD-C1", f.err
}

func (f *fakeSettlement) Reconcile(context.Context) (*civicardv1.ReconcileResponse, error) {
	f.calls++
	return &civicardv1.ReconcileResponse{Ok: true}, f.err
}

const testOperatorToken = "operator-token-0123456789"

func withOperator[T any](msg *T, token string) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	return req
}

func TestSettlementServiceRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		err   error // what the settlement answers
		call  func(settlementService, string) error
		want  connect.Code
		what  string
	}{
		{"statement without institution", testOperatorToken, nil, func(s settlementService, tok string) error {
			_, err := s.GetStatement(context.Background(), withOperator(&civicardv1.GetStatementRequest{Cycle: 1}, tok))
			return err
		}, connect.CodeInvalidArgument, "institution_id"},
		{"statement of cycle 0", testOperatorToken, nil, func(s settlementService, tok string) error {
			_, err := s.GetStatement(context.Background(), withOperator(&civicardv1.GetStatementRequest{InstitutionId: "I1"}, tok))
			return err
		}, connect.CodeInvalidArgument, "numbered from 1"},
		{"statement of a long id", testOperatorToken, nil, func(s settlementService, tok string) error {
			_, err := s.GetStatement(context.Background(), withOperator(&civicardv1.GetStatementRequest{InstitutionId: strings.Repeat("I", 65), Cycle: 1}, tok))
			return err
		}, connect.CodeInvalidArgument, "institution_id"},
		{"payout file of cycle 0", testOperatorToken, nil, func(s settlementService, tok string) error {
			_, err := s.GetPayoutFile(context.Background(), withOperator(&civicardv1.GetPayoutFileRequest{}, tok))
			return err
		}, connect.CodeInvalidArgument, "numbered from 1"},
		{"too many batches", testOperatorToken, nil, func(s settlementService, tok string) error {
			_, err := s.ListBatches(context.Background(), withOperator(&civicardv1.ListBatchesRequest{Limit: 1001}, tok))
			return err
		}, connect.CodeInvalidArgument, "limit"},
		{"unknown batch", testOperatorToken, fmt.Errorf("%w: batch 9", cycle.ErrNotFound), func(s settlementService, tok string) error {
			_, err := s.GetPayoutFile(context.Background(), withOperator(&civicardv1.GetPayoutFileRequest{Cycle: 9}, tok))
			return err
		}, connect.CodeNotFound, "batch 9"},
		{"refused step", testOperatorToken, fmt.Errorf("%w: another fee policy", cycle.ErrRefused), func(s settlementService, tok string) error {
			_, err := s.CloseCycle(context.Background(), withOperator(&civicardv1.CloseCycleRequest{}, tok))
			return err
		}, connect.CodeFailedPrecondition, "fee policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeSettlement{err: tc.err}
			s := settlementService{gw: &Gateway{cfg: Config{OperatorToken: testOperatorToken, RequestTimeout: time.Second, Settlement: fake}}}
			err := tc.call(s, tc.token)
			if connect.CodeOf(err) != tc.want || !strings.Contains(err.Error(), tc.what) {
				t.Fatalf("err = %v, want %v about %q", err, tc.want, tc.what)
			}
			if tc.err == nil && fake.calls != 0 {
				t.Fatal("a refused request reached the settlement")
			}
		})
	}
	noLedger := settlementService{gw: &Gateway{cfg: Config{OperatorToken: testOperatorToken, RequestTimeout: time.Second}}}
	_, err := noLedger.Reconcile(context.Background(), withOperator(&civicardv1.ReconcileRequest{}, testOperatorToken))
	if connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Fatalf("a node without a ledger: %v", err)
	}
}
