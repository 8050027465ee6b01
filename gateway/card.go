package gateway

import (
	"context"
	"net/http"
	"unicode"
	"unicode/utf8"

	"connectrpc.com/connect"
	protocluster "github.com/asynkron/protoactor-go/cluster"

	"civicard/actors"
	"civicard/domain/cardno"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	grainsv1 "civicard/messages/grains/v1"
)

// Limits on the shape of operator requests.
const (
	requestIDBytesMax   = 64
	blockReasonBytesMax = 200
	pageSizeDefault     = 50
	operatorBytesMax    = 64
	textFieldBytesMax   = 64
	// journeyIDBytesMax: a journey is named by its check-in's transaction
	// id, a ledger command id.
	journeyIDBytesMax = 128
)

type cardService struct{ gw *Gateway }

var _ civicardv1connect.CardServiceHandler = cardService{}

// grain authenticates the operator, checks the card number and returns the
// card's grain with the options of a call bounded by ctx and RequestTimeout.
func (s cardService) grain(ctx context.Context, header http.Header, cardID string) (*grainsv1.CardGrainClient, []protocluster.GrainCallOption, error) {
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
	if err := validateText("operator", req.Msg.GetOperator(), operatorBytesMax); err != nil {
		return nil, err
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

// change checks what every operator's change of a card carries (request
// id, reason, operator) and sends it to the card's grain, stamped with the
// gateway's clock.
func (s cardService) change(ctx context.Context, header http.Header, cardID, requestID, reason, operator string, change *grainsv1.CardChange) (*grainsv1.CardChanged, error) {
	grain, opts, err := s.grain(ctx, header, cardID)
	if err != nil {
		return nil, err
	}
	if err := validateRequestID(requestID); err != nil {
		return nil, err
	}
	if len(reason) > blockReasonBytesMax {
		return nil, invalid("reason longer than %d bytes", blockReasonBytesMax)
	}
	if err := validateText("operator", operator, operatorBytesMax); err != nil {
		return nil, err
	}
	change.TimeUnixMs = s.gw.cfg.Now().UnixMilli()
	res, err := grain.Change(change, opts...)
	if err != nil {
		return nil, fromGrain(err)
	}
	return res, nil
}

// validateText accepts printable UTF-8 text up to bytesMax bytes: no NUL,
// newline, tab, escape or other control or format character. Every text
// field of every request is held to it (strictInput), most fields to a
// tighter bound by their handler.
func validateText(field, value string, bytesMax int) error {
	if len(value) > bytesMax {
		return invalid("%s longer than %d bytes", field, bytesMax)
	}
	if !utf8.ValidString(value) {
		return invalid("%s is not UTF-8", field)
	}
	for _, r := range value {
		if !unicode.IsPrint(r) {
			return invalid("%s may hold printable characters only, not %U", field, r)
		}
	}
	return nil
}

func (s cardService) IssueCard(ctx context.Context, req *connect.Request[civicardv1.IssueCardRequest]) (*connect.Response[civicardv1.IssueCardResponse], error) {
	m := req.Msg
	switch m.GetKind() {
	case civicardv1.CardKind_CARD_KIND_PERSONAL:
		if m.GetHolderName() == "" {
			return nil, invalid("holder_name is required for a personalised card")
		}
	case civicardv1.CardKind_CARD_KIND_BEARER:
		if m.GetHolderName() != "" {
			return nil, invalid("a bearer card has no holder_name")
		}
	default:
		return nil, invalid("kind must be CARD_KIND_PERSONAL or CARD_KIND_BEARER")
	}
	if err := validateText("holder_name", m.GetHolderName(), blockReasonBytesMax); err != nil {
		return nil, err
	}
	res, err := s.change(ctx, req.Header(), m.GetCardId(), m.GetRequestId(), m.GetReason(), m.GetOperator(),
		&grainsv1.CardChange{Change: &grainsv1.CardChange_Issue{Issue: m}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.IssueCardResponse{Card: res.GetCard()}), nil
}

func (s cardService) GrantEntitlement(ctx context.Context, req *connect.Request[civicardv1.GrantEntitlementRequest]) (*connect.Response[civicardv1.EntitlementResponse], error) {
	m := req.Msg
	e := m.GetEntitlement()
	if e.GetConcession() == "" {
		return nil, invalid("entitlement.concession is required")
	}
	for _, f := range []struct{ name, value string }{{"entitlement.concession", e.GetConcession()}, {"entitlement.issuer", e.GetIssuer()}, {"entitlement.from_date", e.GetFromDate()}, {"entitlement.until_date", e.GetUntilDate()}} {
		if err := validateText(f.name, f.value, textFieldBytesMax); err != nil {
			return nil, err
		}
	}
	res, err := s.change(ctx, req.Header(), m.GetCardId(), m.GetRequestId(), m.GetReason(), m.GetOperator(),
		&grainsv1.CardChange{Change: &grainsv1.CardChange_Grant{Grant: m}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.EntitlementResponse{Card: res.GetCard()}), nil
}

func (s cardService) RevokeEntitlement(ctx context.Context, req *connect.Request[civicardv1.RevokeEntitlementRequest]) (*connect.Response[civicardv1.EntitlementResponse], error) {
	m := req.Msg
	if m.GetConcession() == "" {
		return nil, invalid("concession is required")
	}
	if err := validateText("concession", m.GetConcession(), textFieldBytesMax); err != nil {
		return nil, err
	}
	res, err := s.change(ctx, req.Header(), m.GetCardId(), m.GetRequestId(), m.GetReason(), m.GetOperator(),
		&grainsv1.CardChange{Change: &grainsv1.CardChange_Revoke{Revoke: m}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.EntitlementResponse{Card: res.GetCard()}), nil
}

func (s cardService) ReplaceCard(ctx context.Context, req *connect.Request[civicardv1.ReplaceCardRequest]) (*connect.Response[civicardv1.ReplaceCardResponse], error) {
	m := req.Msg
	if err := cardno.Valid(m.GetNewCardId()); err != nil {
		return nil, invalid("new_card_id: %v", err)
	}
	res, err := s.change(ctx, req.Header(), m.GetCardId(), m.GetRequestId(), m.GetReason(), m.GetOperator(),
		&grainsv1.CardChange{Change: &grainsv1.CardChange_Replace{Replace: m}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.ReplaceCardResponse{OldCard: res.GetCard(), NewCard: res.GetNewCard()}), nil
}

func (s cardService) RenewCard(ctx context.Context, req *connect.Request[civicardv1.RenewCardRequest]) (*connect.Response[civicardv1.RenewCardResponse], error) {
	m := req.Msg
	res, err := s.change(ctx, req.Header(), m.GetCardId(), m.GetRequestId(), m.GetReason(), m.GetOperator(),
		&grainsv1.CardChange{Change: &grainsv1.CardChange_Renew{Renew: m}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.RenewCardResponse{Card: res.GetCard()}), nil
}

func (s cardService) CloseCard(ctx context.Context, req *connect.Request[civicardv1.CloseCardRequest]) (*connect.Response[civicardv1.CloseCardResponse], error) {
	m := req.Msg
	res, err := s.change(ctx, req.Header(), m.GetCardId(), m.GetRequestId(), m.GetReason(), m.GetOperator(),
		&grainsv1.CardChange{Change: &grainsv1.CardChange_Close{Close: m}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.CloseCardResponse{Card: res.GetCard(), Transaction: res.GetTransaction()}), nil
}

func (s cardService) RequestCorrection(ctx context.Context, req *connect.Request[civicardv1.RequestCorrectionRequest]) (*connect.Response[civicardv1.RequestCorrectionResponse], error) {
	m := req.Msg
	grain, opts, err := s.grain(ctx, req.Header(), m.GetCardId())
	if err != nil {
		return nil, err
	}
	if err := validateRequestID(m.GetRequestId()); err != nil {
		return nil, err
	}
	switch {
	case m.GetJourneyId() == "":
		return nil, invalid("journey_id is required: the check-in's transaction id")
	case len(m.GetJourneyId()) > journeyIDBytesMax:
		return nil, invalid("journey_id longer than %d bytes", journeyIDBytesMax)
	case len(m.GetReason()) > blockReasonBytesMax:
		return nil, invalid("reason longer than %d bytes", blockReasonBytesMax)
	}
	if err := validateText("operator", m.GetOperator(), operatorBytesMax); err != nil {
		return nil, err
	}
	return answer(grain.Correct(&grainsv1.Correction{Request: m, TimeUnixMs: s.gw.cfg.Now().UnixMilli()}, opts...))
}
