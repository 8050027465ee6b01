package actors

import (
	"errors"
	"log/slog"

	protocluster "github.com/asynkron/protoactor-go/cluster"

	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	"civicard/tariff"
)

// cardGrain decides for one card. Its state is a cache of the ledger's; it is
// loaded on activation and refreshed from every ledger answer.
type cardGrain struct {
	deps *Deps
	id   string
	// card is nil until loaded, and again after a ledger call whose outcome
	// is unknown.
	card *ledgerv1.CardState
}

var _ grainsv1.Card = (*cardGrain)(nil)

func (g *cardGrain) Init(ctx protocluster.GrainContext) {
	g.id = ctx.Identity()
	g.deps.Metrics.activations.WithLabelValues("card").Inc()
	// A failed load is retried by the first request.
	_ = g.load()
}

func (g *cardGrain) Terminate(protocluster.GrainContext) {}

func (g *cardGrain) ReceiveDefault(protocluster.GrainContext) {}

func (g *cardGrain) load() error {
	ctx, cancel := g.deps.timeout()
	defer cancel()
	card, err := g.deps.Ledger.Card(ctx, g.id)
	switch {
	case errors.Is(err, ErrNotFound):
		return grainsv1.ErrNotFound("card %s does not exist", g.id)
	case err != nil:
		return grainsv1.ErrUnavailable("load card %s: %v", g.id, err)
	}
	g.card = card
	return nil
}

func (g *cardGrain) loaded() error {
	if g.card != nil {
		return nil
	}
	return g.load()
}

// propose sends cmd to the ledger. On an unknown outcome the cache is dropped,
// because the command may yet have been applied.
func (g *cardGrain) propose(cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	ctx, cancel := g.deps.timeout()
	defer cancel()
	res, err := g.deps.Ledger.Propose(ctx, cmd)
	if err != nil {
		g.card = nil
		return nil, grainsv1.ErrUnavailable("ledger: %v (outcome unknown, retry with the same id)", err)
	}
	if res.GetCard() != nil {
		g.card = res.GetCard()
	}
	return res, nil
}

// Authorize prices a tap and settles it. The charge carries the version the
// price was decided on; when the ledger says the card moved on meanwhile (a
// second activation of this card elsewhere), the grain decides again.
func (g *cardGrain) Authorize(req *grainsv1.AuthorizeTap, _ protocluster.GrainContext) (*civicardv1.TapResponse, error) {
	amount, err := tariff.Price(req.GetService(), req.GetQuantity(), g.deps.Config.Tariff)
	if err != nil {
		return nil, grainsv1.ErrInvalidArgument("%v", err)
	}
	for attempt := 0; attempt < g.deps.Config.VersionRetryMax; attempt++ {
		if err := g.loaded(); err != nil {
			return nil, err
		}
		res, err := g.propose(&ledgerv1.Command{
			Id: req.GetTransactionId(),
			Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
				CardId:           g.id,
				ExpectedVersion:  g.card.GetVersion(),
				AmountMinor:      amount,
				InstitutionId:    req.GetInstitutionId(),
				TerminalId:       req.GetTerminalId(),
				TerminalSequence: req.GetTerminalSequence(),
				ServiceCode:      req.GetService().GetCode(),
				Quantity:         max(req.GetQuantity(), 1),
				TimeUnixMs:       req.GetTimeUnixMs(),
				Offline:          req.GetOffline(),
			}},
		})
		if err != nil {
			return nil, err
		}
		if res.GetStatus() == ledgerv1.Status_STATUS_STALE_VERSION {
			g.deps.Metrics.versionRetries.Inc()
			continue
		}
		if err := rejection(res); err != nil {
			return nil, err
		}
		return g.tapResponse(res), nil
	}
	g.deps.Logger.Warn("card version kept moving", slog.String("card", g.id), slog.String("tap", req.GetTransactionId()))
	return nil, grainsv1.ErrUnavailable("card %s changed %d times while deciding; retry", g.id, g.deps.Config.VersionRetryMax)
}

func (g *cardGrain) tapResponse(res *ledgerv1.Result) *civicardv1.TapResponse {
	txn := res.GetTransaction()
	out := &civicardv1.TapResponse{
		Result:        civicardv1.TapResult_TAP_RESULT_ACCEPTED,
		Charged:       g.deps.money(-txn.GetAmount().GetMinorUnits()),
		Balance:       txn.GetBalanceAfter(),
		TransactionId: txn.GetTransactionId(),
		Replayed:      res.GetReplayed(),
	}
	if res.GetStatus() == ledgerv1.Status_STATUS_DECLINED {
		out.Result = civicardv1.TapResult_TAP_RESULT_DECLINED
		out.DeclineReason = txn.GetDeclineReason()
		out.Charged = g.deps.money(0)
	}
	return out
}

func (g *cardGrain) GetCard(_ *civicardv1.GetCardRequest, _ protocluster.GrainContext) (*civicardv1.GetCardResponse, error) {
	// Always from the ledger: another activation may have changed the card.
	if err := g.load(); err != nil {
		return nil, err
	}
	return &civicardv1.GetCardResponse{Card: g.publicCard()}, nil
}

func (g *cardGrain) publicCard() *civicardv1.Card {
	return &civicardv1.Card{
		CardId:     g.card.GetCardId(),
		Kind:       g.card.GetKind(),
		Status:     g.card.GetStatus(),
		Balance:    g.deps.money(g.card.GetBalanceMinor()),
		Version:    g.card.GetVersion(),
		HolderName: g.card.GetHolderName(),
		Debt:       g.debt(),
	}
}

// debt is the card's debt from offline taps, nil when it owes nothing.
func (g *cardGrain) debt() *civicardv1.Money {
	if g.card.GetDebtMinor() == 0 {
		return nil
	}
	return g.deps.money(g.card.GetDebtMinor())
}

func (g *cardGrain) ListTransactions(req *civicardv1.ListTransactionsRequest, _ protocluster.GrainContext) (*civicardv1.ListTransactionsResponse, error) {
	if err := g.loaded(); err != nil {
		return nil, err
	}
	ctx, cancel := g.deps.timeout()
	defer cancel()
	txns, err := g.deps.Ledger.Transactions(ctx, g.id, req.GetBeforeLedgerSequence(), int(req.GetPageSize()))
	if err != nil {
		return nil, grainsv1.ErrUnavailable("list transactions of %s: %v", g.id, err)
	}
	return &civicardv1.ListTransactionsResponse{Transactions: txns}, nil
}

func (g *cardGrain) TopUp(in *grainsv1.TopUpCard, _ protocluster.GrainContext) (*civicardv1.TopUpResponse, error) {
	req := in.GetRequest()
	if err := g.loaded(); err != nil {
		return nil, err
	}
	res, err := g.propose(&ledgerv1.Command{
		Id: "topup/" + req.GetRequestId(),
		Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{
			CardId:      g.id,
			AmountMinor: req.GetAmount().GetMinorUnits(),
			TimeUnixMs:  in.GetTimeUnixMs(),
		}},
	})
	if err != nil {
		return nil, err
	}
	if err := rejection(res); err != nil {
		return nil, err
	}
	return &civicardv1.TopUpResponse{Transaction: res.GetTransaction(), Replayed: res.GetReplayed()}, nil
}

func (g *cardGrain) Block(in *grainsv1.BlockCard, _ protocluster.GrainContext) (*civicardv1.BlockResponse, error) {
	req := in.GetRequest()
	if err := g.loaded(); err != nil {
		return nil, err
	}
	res, err := g.propose(&ledgerv1.Command{
		Id: "block/" + req.GetRequestId(),
		Kind: &ledgerv1.Command_BlockCard{BlockCard: &ledgerv1.BlockCard{
			CardId:     g.id,
			Reason:     req.GetReason(),
			TimeUnixMs: in.GetTimeUnixMs(),
		}},
	})
	if err != nil {
		return nil, err
	}
	if err := rejection(res); err != nil {
		return nil, err
	}
	return &civicardv1.BlockResponse{Card: g.publicCard()}, nil
}

// rejection turns a ledger rejection into the grain error the gateway maps to
// a status; it is nil for every other outcome.
func rejection(res *ledgerv1.Result) error {
	if res.GetStatus() != ledgerv1.Status_STATUS_REJECTED {
		return nil
	}
	switch res.GetRejectReason() {
	case ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND:
		return grainsv1.ErrNotFound("%s", res.GetError())
	case ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS:
		return grainsv1.ErrAlreadyExists("%s", res.GetError())
	case ledgerv1.RejectReason_REJECT_REASON_BALANCE_MAX, ledgerv1.RejectReason_REJECT_REASON_CARD_BLOCKED:
		return grainsv1.ErrFailedPrecondition("%s", res.GetError())
	default:
		return grainsv1.ErrInvalidArgument("%s", res.GetError())
	}
}
