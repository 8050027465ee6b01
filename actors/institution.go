package actors

import (
	"errors"

	protocluster "github.com/asynkron/protoactor-go/cluster"

	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
)

// institutionGrain serves one institution's record and price list.
type institutionGrain struct {
	deps        *Deps
	id          string
	institution *civicardv1.Institution // nil until loaded
}

var _ grainsv1.Institution = (*institutionGrain)(nil)

func (g *institutionGrain) Init(ctx protocluster.GrainContext) {
	g.id = ctx.Identity()
	g.deps.Metrics.activations.WithLabelValues("institution").Inc()
}

func (g *institutionGrain) Terminate(protocluster.GrainContext) {}

func (g *institutionGrain) ReceiveDefault(protocluster.GrainContext) {}

func (g *institutionGrain) Get(*grainsv1.GetInstitution, protocluster.GrainContext) (*grainsv1.InstitutionInfo, error) {
	if g.institution == nil {
		ctx, cancel := g.deps.timeout()
		defer cancel()
		institution, err := g.deps.Ledger.Institution(ctx, g.id)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, grainsv1.ErrNotFound("unknown institution %q", g.id)
		case err != nil:
			return nil, grainsv1.ErrUnavailable("load institution %s: %v", g.id, err)
		}
		g.institution = institution
	}
	return &grainsv1.InstitutionInfo{Institution: g.institution}, nil
}
