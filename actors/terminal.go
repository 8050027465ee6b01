package actors

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	"civicard/terminals/tapsig"
)

// terminalGrain speaks for one terminal: it checks the terminal's credential,
// answers retries it has seen, and gives each tap its institution's context.
type terminalGrain struct {
	deps        *Deps
	id          string
	terminal    *civicardv1.Terminal    // nil until loaded
	institution *civicardv1.Institution // the terminal's, with its price list
	// recent answers by sequence, with the tap they answered, at most
	// Config.RecentTapsMax; their sequences in recentOrder, a ring whose
	// oldest is at recentOldest once full. The ledger is the real guard
	// against double charges: this only saves a retry the trip to the card.
	recent       map[uint64]recentTap
	recentOrder  []uint64
	recentOldest int
}

var _ grainsv1.Terminal = (*terminalGrain)(nil)

func (g *terminalGrain) Init(ctx protocluster.GrainContext) {
	g.id = ctx.Identity()
	g.recent = make(map[uint64]recentTap)
	g.deps.Metrics.activations.WithLabelValues("terminal").Inc()
}

func (g *terminalGrain) Terminate(protocluster.GrainContext) {}

func (g *terminalGrain) ReceiveDefault(protocluster.GrainContext) {}

func (g *terminalGrain) load(ctx protocluster.GrainContext) error {
	if g.terminal != nil {
		return nil
	}
	callCtx, cancel := g.deps.timeout()
	defer cancel()
	terminal, err := g.deps.Ledger.Terminal(callCtx, g.id)
	switch {
	case errors.Is(err, ErrNotFound):
		return g.refuse("not registered")
	case err != nil:
		return grainsv1.ErrUnavailable("load terminal %s: %v", g.id, err)
	}
	info, err := grainsv1.GetInstitutionGrainClient(ctx.Cluster(), terminal.GetInstitutionId()).
		Get(&grainsv1.GetInstitution{}, CallOptions(callCtx, g.deps.Config.ProposeTimeout)...)
	if err != nil {
		return grainError(fmt.Errorf("institution of terminal %s: %w", g.id, err))
	}
	g.terminal, g.institution = terminal, info.GetInstitution()
	return nil
}

func (g *terminalGrain) Tap(in *grainsv1.TerminalTap, ctx protocluster.GrainContext) (*civicardv1.TapResponse, error) {
	tap := in.GetTap()
	if tap.GetTerminalId() != g.id {
		return nil, grainsv1.ErrInvalidArgument("tap of terminal %q sent to terminal %q", tap.GetTerminalId(), g.id)
	}
	if err := g.load(ctx); err != nil {
		return nil, err
	}
	if err := g.authenticate(in); err != nil {
		return nil, err
	}
	if replay, ok, err := g.recall(tap); ok || err != nil {
		return replay, err
	}
	// The card grain prices, under the price list in force in the card's
	// ledger, and refuses a product the institution does not sell.
	callCtx, cancel := g.deps.timeout()
	defer cancel()
	answer, err := grainsv1.GetCardGrainClient(ctx.Cluster(), tap.GetCardId()).Authorize(&grainsv1.AuthorizeTap{
		TransactionId:    fmt.Sprintf("tap/%s/%d", g.id, tap.GetSequence()),
		CardId:           tap.GetCardId(),
		InstitutionId:    g.institution.GetInstitutionId(),
		TerminalId:       g.id,
		TerminalSequence: tap.GetSequence(),
		Product:          tap.GetServiceCode(),
		Quantity:         tap.GetQuantity(),
		TimeUnixMs:       tap.GetTimeUnixMs(),
		Offline:          in.GetOffline(),
		Line:             tap.GetLine(),
		Stop:             tap.GetStop(),
		Direction:        tap.GetDirection(),
		PinVerified:      tap.GetPinVerified(),
	}, CallOptions(callCtx, g.deps.Config.ProposeTimeout)...)
	if err != nil {
		return nil, grainError(err)
	}
	g.remember(tap, answer)
	return answer, nil
}

// refuse is the one answer to a terminal that is not accepted, whether it
// is not registered, revoked, or sent a wrong credential or signature: a
// different answer for each would let anyone find the registered terminal
// ids by trying. Why it was refused goes to the log, for the operators.
func (g *terminalGrain) refuse(why string) error {
	if g.deps != nil && g.deps.Logger != nil {
		g.deps.Logger.Info("terminal refused", slog.String("terminal", g.id), slog.String("why", why))
	}
	return grainsv1.ErrUnauthenticated("terminal %q not accepted: unknown, revoked, or a wrong credential or signature", g.id)
}

// authenticate checks who sent the tap. A revoked terminal is refused; a
// terminal with a registered public key must sign every tap (its bearer
// credential is not needed then, nor enough); one without a key (the demo
// city's) presents its bearer credential.
func (g *terminalGrain) authenticate(in *grainsv1.TerminalTap) error {
	if g.terminal.GetRevoked() {
		return g.refuse("revoked")
	}
	if key := g.terminal.GetPublicKey(); len(key) > 0 {
		if err := tapsig.Verify(key, in.GetTap()); err != nil {
			return g.refuse(err.Error())
		}
		return nil
	}
	presented := sha256.Sum256([]byte(in.GetCredential()))
	if subtle.ConstantTimeCompare(presented[:], g.terminal.GetCredentialSha256()) != 1 {
		return g.refuse("wrong credential")
	}
	return nil
}

// Change sets the terminal's public key or revokes it in the ledger, and
// drops the cached record so the next tap sees the change.
func (g *terminalGrain) Change(in *grainsv1.ChangeTerminal, _ protocluster.GrainContext) (*grainsv1.TerminalInfo, error) {
	cmd := &ledgerv1.Command{}
	switch c := in.GetChange().(type) {
	case *grainsv1.ChangeTerminal_PublicKey:
		cmd.Id = "terminal-key/" + in.GetRequestId()
		cmd.Kind = &ledgerv1.Command_SetTerminalKey{SetTerminalKey: &ledgerv1.SetTerminalKey{TerminalId: g.id, PublicKey: c.PublicKey}}
	case *grainsv1.ChangeTerminal_RevokeReason:
		cmd.Id = "terminal-revoke/" + in.GetRequestId()
		cmd.Kind = &ledgerv1.Command_RevokeTerminal{RevokeTerminal: &ledgerv1.RevokeTerminal{TerminalId: g.id, Reason: c.RevokeReason}}
	default:
		return nil, grainsv1.ErrInvalidArgument("no change for terminal %q", g.id)
	}
	callCtx, cancel := g.deps.timeout()
	defer cancel()
	res, err := g.deps.Ledger.Propose(callCtx, cmd)
	// Whatever the outcome, the cache may be stale now.
	g.terminal, g.institution = nil, nil
	if err != nil {
		return nil, grainsv1.ErrUnavailable("ledger: %v (outcome unknown, retry with the same request id)", err)
	}
	if err := rejection(res); err != nil {
		return nil, err
	}
	terminal, err := g.deps.Ledger.Terminal(callCtx, g.id)
	if err != nil {
		return nil, grainsv1.ErrUnavailable("reload terminal %s: %v", g.id, err)
	}
	return &grainsv1.TerminalInfo{Terminal: terminal}, nil
}

// denylistSkewMax bounds how far a signed denylist request's time may be
// from the node's clock.
const denylistSkewMax = 5 * time.Minute

// authenticateRequest checks a terminal's request for a versioned list:
// signed by the terminal's key (verify), at a time near the node's clock so
// a recorded request cannot be replayed much later, or, for a terminal
// without a key, sent with its bearer credential.
func (g *terminalGrain) authenticateRequest(ctx protocluster.GrainContext, timeUnixMs int64, credential string, verify func(publicKey []byte) error) error {
	if err := g.load(ctx); err != nil {
		return err
	}
	switch {
	case g.terminal.GetRevoked():
		return g.refuse("revoked")
	case len(g.terminal.GetPublicKey()) > 0:
		if err := verify(g.terminal.GetPublicKey()); err != nil {
			return g.refuse(err.Error())
		}
		if skew := time.Since(time.UnixMilli(timeUnixMs)); skew > denylistSkewMax || skew < -denylistSkewMax {
			return g.refuse(fmt.Sprintf("request time %d is %v off", timeUnixMs, skew))
		}
	default:
		presented := sha256.Sum256([]byte(credential))
		if subtle.ConstantTimeCompare(presented[:], g.terminal.GetCredentialSha256()) != 1 {
			return g.refuse("wrong credential")
		}
	}
	return nil
}

// Tariff answers a terminal's request for its institution's price list:
// its version (a digest) and, unless the terminal holds it already, the list.
func (g *terminalGrain) Tariff(in *grainsv1.TerminalTariffRequest, ctx protocluster.GrainContext) (*civicardv1.GetTariffResponse, error) {
	req := in.GetRequest()
	if err := g.authenticateRequest(ctx, req.GetTimeUnixMs(), in.GetCredential(), func(key []byte) error { return tapsig.VerifyTariff(key, req) }); err != nil {
		return nil, err
	}
	callCtx, cancel := g.deps.timeout()
	defer cancel()
	tariff, version, err := g.deps.Tariffs.TerminalTariff(callCtx, g.terminal.GetInstitutionId(), g.deps.money)
	if err != nil {
		return nil, tariffError(fmt.Errorf("terminal %q: %w", g.id, err))
	}
	if version == req.GetKnownVersion() {
		return &civicardv1.GetTariffResponse{Version: version, Unchanged: true}, nil
	}
	return &civicardv1.GetTariffResponse{Version: version, Tariff: tariff}, nil
}

// Denylist answers a terminal's request for the blocked cards: its version
// (a digest of the list) and, unless the terminal holds it already, the list.
func (g *terminalGrain) Denylist(in *grainsv1.TerminalDenylist, ctx protocluster.GrainContext) (*civicardv1.GetDenylistResponse, error) {
	req := in.GetRequest()
	if err := g.authenticateRequest(ctx, req.GetTimeUnixMs(), in.GetCredential(), func(key []byte) error { return tapsig.VerifyDenylist(key, req) }); err != nil {
		return nil, err
	}
	reader, ok := g.deps.Ledger.(DenylistReader)
	if !ok {
		return nil, grainsv1.ErrFailedPrecondition("this node's ledger cannot list blocked cards")
	}
	callCtx, cancel := g.deps.timeout()
	defer cancel()
	ids, err := reader.BlockedCards(callCtx)
	if err != nil {
		return nil, grainsv1.ErrUnavailable("blocked cards: %v", err)
	}
	digest := sha256.New()
	for _, id := range ids {
		digest.Write([]byte(id))
		digest.Write([]byte{0})
	}
	version := hex.EncodeToString(digest.Sum(nil)[:16])
	if version == req.GetKnownVersion() {
		return &civicardv1.GetDenylistResponse{Version: version, Unchanged: true}, nil
	}
	return &civicardv1.GetDenylistResponse{Version: version, CardIds: ids}, nil
}

// recentTap is a remembered answer and what identifies the tap it answered.
type recentTap struct {
	tap    *civicardv1.TapRequest // only the fields sameTap compares
	answer *civicardv1.TapResponse
}

// sameTap reports whether b is a retry of a: the same card, product and
// quantity under the terminal's sequence (a resending terminal may stamp
// another time). What the ledger
// compares for a charge (domain/ledger request.go), checked here first so
// that a reused sequence never gets the first tap's answer.
func sameTap(a, b *civicardv1.TapRequest) bool {
	return a.GetCardId() == b.GetCardId() && a.GetServiceCode() == b.GetServiceCode() &&
		max(a.GetQuantity(), 1) == max(b.GetQuantity(), 1)
}

// recall answers a retry of a remembered tap with its first answer, marked
// replayed (ok), and refuses another tap under a remembered sequence.
func (g *terminalGrain) recall(tap *civicardv1.TapRequest) (*civicardv1.TapResponse, bool, error) {
	r, ok := g.recent[tap.GetSequence()]
	if !ok {
		return nil, false, nil
	}
	if !sameTap(r.tap, tap) {
		return nil, false, grainsv1.ErrAlreadyExists("tap sequence %d of terminal %q was used for another tap (card, product or quantity differ): a new tap needs a new sequence", tap.GetSequence(), g.id)
	}
	replay := proto.Clone(r.answer).(*civicardv1.TapResponse)
	replay.Replayed = true
	return replay, true, nil
}

func (g *terminalGrain) remember(tap *civicardv1.TapRequest, answer *civicardv1.TapResponse) {
	sequence := tap.GetSequence()
	if len(g.recentOrder) < g.deps.Config.RecentTapsMax {
		g.recentOrder = append(g.recentOrder, sequence)
	} else {
		delete(g.recent, g.recentOrder[g.recentOldest])
		g.recentOrder[g.recentOldest] = sequence
		g.recentOldest = (g.recentOldest + 1) % len(g.recentOrder)
	}
	g.recent[sequence] = recentTap{
		tap:    &civicardv1.TapRequest{CardId: tap.GetCardId(), ServiceCode: tap.GetServiceCode(), Quantity: tap.GetQuantity()},
		answer: answer,
	}
}

// grainError passes a grain's error response on unchanged and turns anything
// else (a timeout, a lost activation) into UNAVAILABLE: the outcome is
// unknown and the caller may retry.
func grainError(err error) error {
	var grainErr *protocluster.GrainErrorResponse
	if errors.As(err, &grainErr) {
		return grainErr
	}
	return grainsv1.ErrUnavailable("%v", err)
}
