package gateway

import (
	"context"
	"net/http"
	"unicode"

	"connectrpc.com/connect"
	protocluster "github.com/asynkron/protoactor-go/cluster"

	"civicard/actors"
	"civicard/cardno"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	grainsv1 "civicard/messages/grains/v1"
)

// Limits on the shape of operator requests.
const (
	requestIDBytesMax   = 64
	blockReasonBytesMax = 200
	pageSizeDefault     = 50
)

type cardService struct{ gw *Gateway }

var _ civicardv1connect.CardServiceHandler = cardService{}

// grain authenticates the operator, checks the card number and returns the
// card's grain with the options of a call bounded by ctx and RequestTimeout.
func (s cardService) grain(ctx context.Context, header http.Header, cardID string) (*grainsv1.CardGrainClient, []protocluster.GrainCallOption, error) {
	if err := s.gw.operator(header); err != nil {
		return nil, nil, err
	}
	if err := cardno.Valid(cardID); err != nil {
		return nil, nil, invalid("card_id: %v", err)
	}
	return grainsv1.GetCardGrainClient(s.gw.cluster, cardID), actors.CallOptions(ctx, s.gw.cfg.RequestTimeout), nil
}

// answer wraps a grain's reply for Connect and maps its error.
func answer[T any](res *T, err error) (*connect.Response[T], error) {
	if err != nil {
		return nil, fromGrain(err)
	}
	return connect.NewResponse(res), nil
}

func (s cardService) GetCard(ctx context.Context, req *connect.Request[civicardv1.GetCardRequest]) (*connect.Response[civicardv1.GetCardResponse], error) {
	grain, opts, err := s.grain(ctx, req.Header(), req.Msg.GetCardId())
	if err != nil {
		return nil, err
	}
	return answer(grain.GetCard(req.Msg, opts...))
}

func (s cardService) ListTransactions(ctx context.Context, req *connect.Request[civicardv1.ListTransactionsRequest]) (*connect.Response[civicardv1.ListTransactionsResponse], error) {
	grain, opts, err := s.grain(ctx, req.Header(), req.Msg.GetCardId())
	if err != nil {
		return nil, err
	}
	if req.Msg.GetPageSize() > s.gw.cfg.PageSizeMax {
		return nil, invalid("page_size %d above the maximum %d", req.Msg.GetPageSize(), s.gw.cfg.PageSizeMax)
	}
	if req.Msg.GetPageSize() == 0 {
		req.Msg.PageSize = pageSizeDefault
	}
	return answer(grain.ListTransactions(req.Msg, opts...))
}

func (s cardService) TopUp(ctx context.Context, req *connect.Request[civicardv1.TopUpRequest]) (*connect.Response[civicardv1.TopUpResponse], error) {
	grain, opts, err := s.grain(ctx, req.Header(), req.Msg.GetCardId())
	if err != nil {
		return nil, err
	}
	if err := validateRequestID(req.Msg.GetRequestId()); err != nil {
		return nil, err
	}
	amount := req.Msg.GetAmount()
	switch {
	case amount == nil:
		return nil, invalid("amount is required")
	case amount.GetCurrency() != s.gw.cfg.Currency:
		return nil, invalid("amount.currency %q: this system keeps %s", amount.GetCurrency(), s.gw.cfg.Currency)
	case amount.GetMinorUnits() <= 0:
		return nil, invalid("amount must be positive, got %d minor units", amount.GetMinorUnits())
	}
	return answer(grain.TopUp(&grainsv1.TopUpCard{Request: req.Msg, TimeUnixMs: s.gw.cfg.Now().UnixMilli()}, opts...))
}

func (s cardService) Block(ctx context.Context, req *connect.Request[civicardv1.BlockRequest]) (*connect.Response[civicardv1.BlockResponse], error) {
	grain, opts, err := s.grain(ctx, req.Header(), req.Msg.GetCardId())
	if err != nil {
		return nil, err
	}
	if err := validateRequestID(req.Msg.GetRequestId()); err != nil {
		return nil, err
	}
	if len(req.Msg.GetReason()) > blockReasonBytesMax {
		return nil, invalid("reason longer than %d bytes", blockReasonBytesMax)
	}
	return answer(grain.Block(&grainsv1.BlockCard{Request: req.Msg, TimeUnixMs: s.gw.cfg.Now().UnixMilli()}, opts...))
}

// validateRequestID accepts printable ASCII ids up to requestIDBytesMax: they
// become part of ledger keys and log lines.
func validateRequestID(id string) error {
	if id == "" {
		return invalid("request_id is required: choose one per operation and reuse it on retry")
	}
	if len(id) > requestIDBytesMax {
		return invalid("request_id longer than %d bytes", requestIDBytesMax)
	}
	for _, r := range id {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return invalid("request_id may hold printable ASCII without spaces only")
		}
	}
	return nil
}
