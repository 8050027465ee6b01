package actors

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	"civicard/tariff"
)

// terminalGrain speaks for one terminal: it checks the terminal's credential,
// answers retries it has seen, and gives each tap its institution's context.
type terminalGrain struct {
	deps        *Deps
	id          string
	terminal    *civicardv1.Terminal    // nil until loaded
	institution *civicardv1.Institution // the terminal's, with its price list
	// recent answers by sequence, oldest first in recentOrder; at most
	// Config.RecentTapsMax. The ledger is the real guard against double
	// charges: this only saves a retry the trip to the card.
	recent      map[uint64]*civicardv1.TapResponse
	recentOrder []uint64
}

var _ grainsv1.Terminal = (*terminalGrain)(nil)

func (g *terminalGrain) Init(ctx protocluster.GrainContext) {
	g.id = ctx.Identity()
	g.recent = make(map[uint64]*civicardv1.TapResponse)
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
		return grainsv1.ErrUnauthenticated("unknown terminal %q", g.id)
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
	presented := sha256.Sum256([]byte(in.GetCredential()))
	if subtle.ConstantTimeCompare(presented[:], g.terminal.GetCredentialSha256()) != 1 {
		return nil, grainsv1.ErrUnauthenticated("wrong credential for terminal %q", g.id)
	}
	if answer, ok := g.recent[tap.GetSequence()]; ok {
		replay := proto.Clone(answer).(*civicardv1.TapResponse)
		replay.Replayed = true
		return replay, nil
	}
	// No code means the institution's default service.
	service, err := tariff.Find(g.institution, tap.GetServiceCode())
	if err != nil {
		return nil, grainsv1.ErrInvalidArgument("%v", err)
	}
	callCtx, cancel := g.deps.timeout()
	defer cancel()
	answer, err := grainsv1.GetCardGrainClient(ctx.Cluster(), tap.GetCardId()).Authorize(&grainsv1.AuthorizeTap{
		TransactionId:    fmt.Sprintf("tap/%s/%d", g.id, tap.GetSequence()),
		CardId:           tap.GetCardId(),
		InstitutionId:    g.institution.GetInstitutionId(),
		TerminalId:       g.id,
		TerminalSequence: tap.GetSequence(),
		Service:          service,
		Quantity:         tap.GetQuantity(),
		TimeUnixMs:       tap.GetTimeUnixMs(),
	}, CallOptions(callCtx, g.deps.Config.ProposeTimeout)...)
	if err != nil {
		return nil, grainError(err)
	}
	g.remember(tap.GetSequence(), answer)
	return answer, nil
}

func (g *terminalGrain) remember(sequence uint64, answer *civicardv1.TapResponse) {
	if len(g.recentOrder) >= g.deps.Config.RecentTapsMax {
		delete(g.recent, g.recentOrder[0])
		g.recentOrder = g.recentOrder[1:]
	}
	g.recent[sequence] = answer
	g.recentOrder = append(g.recentOrder, sequence)
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
