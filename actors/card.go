package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	protocluster "github.com/asynkron/protoactor-go/cluster"

	"civicard/domain/money"
	"civicard/domain/tariff"
	"civicard/domain/tariff/tariffpb"
	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	ledgerv1 "civicard/messages/ledger/v1"
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
	// A replay carries the card as it was after the first answer: older
	// than what the grain may hold, and another card's when the id was
	// used for another request.
	if res.GetCard() != nil && !res.GetReplayed() {
		g.card = res.GetCard()
	}
	return res, nil
}

// proposeAtVersion sends a command decided at the card's version. stale
// says the card moved on meanwhile (another activation changed it): decide
// again. A rejection comes back as the grain error the gateway maps.
func (g *cardGrain) proposeAtVersion(cmd *ledgerv1.Command) (res *ledgerv1.Result, stale bool, err error) {
	if res, err = g.propose(cmd); err != nil {
		return nil, false, err
	}
	if res.GetStatus() == ledgerv1.Status_STATUS_STALE_VERSION {
		g.deps.Metrics.versionRetries.Inc()
		return nil, true, nil
	}
	if err := rejection(res); err != nil {
		return nil, false, err
	}
	return res, false, nil
}

// Authorize prices a tap with the fare engine and settles it: the postings
// and the card's next tariff state go to the ledger in one charge, which
// carries the version the price was decided on. When the ledger says the
// card moved on meanwhile (a second activation of this card elsewhere), the
// grain reloads and prices again.
func (g *cardGrain) Authorize(req *grainsv1.AuthorizeTap, _ protocluster.GrainContext) (*civicardv1.TapResponse, error) {
	institutionID := req.GetInstitutionId()
	p, err := g.inForce(institutionID)
	if err != nil {
		return nil, err
	}
	tap := tariff.Tap{
		ID:          req.GetTransactionId(),
		TimeUnixMs:  req.GetTimeUnixMs(),
		Product:     req.GetProduct(),
		Quantity:    req.GetQuantity(),
		Line:        req.GetLine(),
		Stop:        req.GetStop(),
		Direction:   int8(max(-1, min(1, req.GetDirection()))),
		PINVerified: req.GetPinVerified(),
		Offline:     req.GetOffline(),
	}
	product, ok := p.List.Product(tap.Product)
	if !ok {
		// The list may have changed since this node read it: ask once
		// more before refusing.
		if p, err = g.refreshInForce(institutionID, p); err != nil {
			return nil, err
		}
		if product, ok = p.List.Product(tap.Product); !ok {
			return nil, grainsv1.ErrInvalidArgument("%s does not sell %q", institutionID, tap.Product)
		}
	}
	for attempt := 0; attempt < g.deps.Config.VersionRetryMax; attempt++ {
		if err := g.loaded(); err != nil {
			return nil, err
		}
		d := p.Engine.Price(g.tariffState(), p.List, tap)
		if !d.Accepted && inputDecline(d.Decline) {
			return nil, grainsv1.ErrInvalidArgument("%s", d.Reason)
		}
		charge := &ledgerv1.Charge{
			CardId:           g.id,
			ExpectedVersion:  g.card.GetVersion(),
			AmountMinor:      d.AmountMinor,
			InstitutionId:    institutionID,
			TerminalId:       req.GetTerminalId(),
			TerminalSequence: req.GetTerminalSequence(),
			ServiceCode:      product.Code,
			Quantity:         max(req.GetQuantity(), 1),
			TimeUnixMs:       req.GetTimeUnixMs(),
			Offline:          req.GetOffline(),
			TariffVersion:    p.Version(),
			RegionVersion:    p.RegionVersion,
			PriceListVersion: p.ListVersion,
		}
		if d.Accepted {
			charge.Postings, charge.Tariff = tariffpb.Postings(d.Entries), tariffpb.ToProto(d.Card)
		} else {
			charge.DeclineReason, charge.DeclineDetail = publicDecline(d), textMax(d.Reason)
		}
		res, stale, err := g.proposeAtVersion(&ledgerv1.Command{Id: req.GetTransactionId(), Kind: &ledgerv1.Command_Charge{Charge: charge}})
		if err != nil {
			return nil, err
		}
		if stale {
			if g.tariffMoved(charge.GetExpectedVersion()) {
				if p, err = g.refreshInForce(institutionID, p); err != nil {
					return nil, err
				}
				if product, ok = p.List.Product(tap.Product); !ok {
					return nil, grainsv1.ErrInvalidArgument("%s does not sell %q any more", institutionID, tap.Product)
				}
			}
			continue
		}
		return g.tapResponse(res, d), nil
	}
	g.deps.Logger.Warn("card version kept moving", slog.String("card", g.id), slog.String("tap", req.GetTransactionId()))
	return nil, grainsv1.ErrUnavailable("card %s changed %d times while deciding; retry", g.id, g.deps.Config.VersionRetryMax)
}

// pricing returns what to decide under for this card at institutionID
// ("": the region alone).
func (g *cardGrain) inForce(institutionID string) (InForce, error) {
	// The cache first: a tap costs no timer when nothing is to be read.
	if p, ok := g.deps.Tariffs.cached(institutionID); ok {
		return p, nil
	}
	ctx, cancel := g.deps.timeout()
	defer cancel()
	p, err := g.deps.Tariffs.InForce(ctx, g.id, institutionID)
	if err != nil {
		return InForce{}, tariffError(err)
	}
	return p, nil
}

// refreshInForce is pricing after stale turned out to be out of date.
func (g *cardGrain) refreshInForce(institutionID string, stale InForce) (InForce, error) {
	ctx, cancel := g.deps.timeout()
	defer cancel()
	p, err := g.deps.Tariffs.Refresh(ctx, g.id, institutionID, stale)
	if err != nil {
		return InForce{}, tariffError(err)
	}
	return p, nil
}

// tariffMoved tells, after the ledger answered a command decided at the
// card's expectedVersion with STALE_VERSION, whether it was the tariff
// that moved: the card itself is still at that version.
func (g *cardGrain) tariffMoved(expectedVersion uint64) bool {
	return g.card != nil && g.card.GetVersion() == expectedVersion
}

// pricingState is the engine's view of the loaded card.
func (g *cardGrain) tariffState() tariff.CardState {
	return tariffpb.FromProto(g.card.GetTariff(), g.card.GetKind() == civicardv1.CardKind_CARD_KIND_BEARER)
}

// tapResponse answers a tap from the ledger's record of it. The breakdown is
// the engine's for this decision; a replayed answer (the tap was settled
// before, on the state of then) carries the recorded entries only.
func (g *cardGrain) tapResponse(res *ledgerv1.Result, d tariff.Decision) *civicardv1.TapResponse {
	txn := res.GetTransaction()
	out := &civicardv1.TapResponse{
		Result:        civicardv1.TapResult_TAP_RESULT_ACCEPTED,
		Charged:       g.deps.money(-txn.GetAmount().GetMinorUnits()),
		Balance:       txn.GetBalanceAfter(),
		TransactionId: txn.GetTransactionId(),
		Replayed:      res.GetReplayed(),
		Entries:       txn.GetEntries(),
	}
	if !res.GetReplayed() {
		out.Breakdown = d.Breakdown
	}
	if res.GetStatus() == ledgerv1.Status_STATUS_DECLINED {
		out.Result = civicardv1.TapResult_TAP_RESULT_DECLINED
		out.DeclineReason = txn.GetDeclineReason()
		out.Charged = g.deps.money(0)
		out.DeclineDetail = txn.GetDeclineDetail()
		if out.DeclineDetail == "" {
			out.DeclineDetail = g.declineDetail(txn)
		}
	}
	return out
}

// declineDetail explains a decline the ledger decided.
func (g *cardGrain) declineDetail(txn *civicardv1.Transaction) string {
	currency := g.deps.Config.Currency
	switch txn.GetDeclineReason() {
	case civicardv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS:
		return fmt.Sprintf("the tap costs %s, the balance is %s", money.Format(txn.GetRefused().GetMinorUnits(), currency), money.Format(txn.GetBalanceAfter().GetMinorUnits(), currency))
	case civicardv1.DeclineReason_DECLINE_REASON_CARD_BLOCKED:
		return "the card is blocked"
	case civicardv1.DeclineReason_DECLINE_REASON_CARD_CLOSED:
		return "the card is closed"
	case civicardv1.DeclineReason_DECLINE_REASON_CARD_EXPIRED:
		return "the card expired on " + time.UnixMilli(g.card.GetExpiresUnixMs()).UTC().Format(time.DateOnly) + ": renew it"
	}
	return ""
}

// textMax cuts an explanation to what the ledger stores, at a rune
// boundary.
func textMax(s string) string {
	const bytesMax = 256
	if len(s) <= bytesMax {
		return s
	}
	cut := bytesMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func (g *cardGrain) GetCard(_ *civicardv1.GetCardRequest, _ protocluster.GrainContext) (*civicardv1.GetCardResponse, error) {
	// Always from the ledger: another activation may have changed the card.
	if err := g.load(); err != nil {
		return nil, err
	}
	return &civicardv1.GetCardResponse{Card: g.publicCard()}, nil
}

func (g *cardGrain) publicCard() *civicardv1.Card {
	return publicCard(g.card, g.deps.money)
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

// TopUp loads money onto the card within the e-purse limits (balance,
// yearly top-ups), checked by the engine on the card's version; the ledger
// applies it with the new counters only at that version. A refusal is
// recorded under the request id too, so that a retry of a top-up that went
// through is answered as the first time and never refused by the balance
// it raised.
func (g *cardGrain) TopUp(in *grainsv1.TopUpCard, _ protocluster.GrainContext) (*civicardv1.TopUpResponse, error) {
	req := in.GetRequest()
	p, err := g.inForce("")
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < g.deps.Config.VersionRetryMax; attempt++ {
		if err := g.loaded(); err != nil {
			return nil, err
		}
		topUp := &ledgerv1.TopUp{
			CardId:          g.id,
			AmountMinor:     req.GetAmount().GetMinorUnits(),
			TimeUnixMs:      in.GetTimeUnixMs(),
			ExpectedVersion: g.card.GetVersion(),
			RegionVersion:   p.RegionVersion,
		}
		state, refusal := p.Engine.TopUp(g.tariffState(), g.card.GetBalanceMinor(), topUp.AmountMinor, in.GetTimeUnixMs())
		if refusal != nil {
			topUp.Refusal = textMax(refusal.Error())
		} else {
			topUp.Tariff = tariffpb.ToProto(state)
		}
		res, stale, err := g.proposeAtVersion(&ledgerv1.Command{Id: "topup/" + req.GetRequestId(), Kind: &ledgerv1.Command_TopUp{TopUp: topUp}})
		if err != nil {
			return nil, err
		}
		if stale {
			if g.tariffMoved(topUp.GetExpectedVersion()) {
				if p, err = g.refreshInForce("", p); err != nil {
					return nil, err
				}
			}
			continue
		}
		return &civicardv1.TopUpResponse{Transaction: res.GetTransaction(), Replayed: res.GetReplayed()}, nil
	}
	return nil, grainsv1.ErrUnavailable("card %s changed %d times while deciding; retry", g.id, g.deps.Config.VersionRetryMax)
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
			Audit:      audit(req.GetOperator(), req.GetReason(), in.GetTimeUnixMs()),
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
	case ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, ledgerv1.RejectReason_REJECT_REASON_CONFLICT:
		// A conflict: the idempotency key was used for another request.
		return grainsv1.ErrAlreadyExists("%s", res.GetError())
	case ledgerv1.RejectReason_REJECT_REASON_BALANCE_MAX, ledgerv1.RejectReason_REJECT_REASON_CARD_BLOCKED,
		ledgerv1.RejectReason_REJECT_REASON_CARD_CLOSED, ledgerv1.RejectReason_REJECT_REASON_CARD_EXPIRED,
		ledgerv1.RejectReason_REJECT_REASON_NOT_PERSONAL, ledgerv1.RejectReason_REJECT_REASON_DEBT,
		ledgerv1.RejectReason_REJECT_REASON_LIMIT:
		return grainsv1.ErrFailedPrecondition("%s", res.GetError())
	default:
		return grainsv1.ErrInvalidArgument("%s", res.GetError())
	}
}
