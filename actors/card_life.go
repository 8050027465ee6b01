package actors

import (
	"fmt"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"

	"civicard/domain/tariff"
	"civicard/domain/tariff/tariffpb"
	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// ShardChecker is implemented by a Ledger split into shards: a replacement
// card must be in the shard of the card it replaces, because the ledger
// moves the money between them in one command of one shard. Without it,
// every card is in the one shard.
type ShardChecker interface {
	SameShard(cardA, cardB string) bool
}

const dayMs = 24 * 60 * 60 * 1000

// dateOf prints a day key (local days since 1970-01-01) as a date.
func dateOf(day int32) string {
	return time.UnixMilli(int64(day) * dayMs).UTC().Format(time.DateOnly)
}

// dayOf parses a date into a day key.
func dayOf(field, date string) (int32, error) {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return 0, grainsv1.ErrInvalidArgument("%s %q: want YYYY-MM-DD", field, date)
	}
	return int32(t.UnixMilli() / dayMs), nil
}

// publicCard is the API's view of a card as the ledger holds it: balance,
// validity, and what the fare engine keeps (entitlements, passes, the
// journey in progress and the incomplete ones).
func publicCard(c *ledgerv1.CardState, money func(int64) *civicardv1.Money) *civicardv1.Card {
	out := &civicardv1.Card{
		CardId:        c.GetCardId(),
		Kind:          c.GetKind(),
		Status:        c.GetStatus(),
		Balance:       money(c.GetBalanceMinor()),
		Version:       c.GetVersion(),
		HolderName:    c.GetHolderName(),
		ExpiresUnixMs: c.GetExpiresUnixMs(),
		ReplacedBy:    c.GetReplacedBy(),
		Replaces:      c.GetReplaces(),
	}
	if c.GetDebtMinor() != 0 {
		out.Debt = money(c.GetDebtMinor())
	}
	p := c.GetTariff()
	for _, e := range p.GetEntitlements() {
		out.Entitlements = append(out.Entitlements, &civicardv1.Entitlement{
			Concession: e.GetConcession(), FromDate: dateOf(e.GetFromDay()), UntilDate: dateOf(e.GetUntilDay()), Issuer: e.GetIssuer(),
		})
	}
	for _, ps := range p.GetPasses() {
		out.Passes = append(out.Passes, &civicardv1.Pass{
			Product: ps.GetProduct(), InstitutionId: ps.GetInstitutionId(), FromDate: dateOf(ps.GetFromDay()), UntilDate: dateOf(ps.GetUntilDay()), Lines: ps.GetLines(),
		})
	}
	journey := func(j *ledgerv1.TariffJourney) *civicardv1.Journey {
		return &civicardv1.Journey{
			JourneyId: j.GetId(), InstitutionId: j.GetInstitutionId(), Line: j.GetLine(), Stop: j.GetStop(),
			StartUnixMs: j.GetStartUnixMs(), Charged: money(j.GetChargedMinor()),
		}
	}
	if j := p.GetJourney(); j.GetLine() != "" {
		out.Journey = journey(j)
	}
	for _, j := range p.GetIncomplete() {
		out.IncompleteJourneys = append(out.IncompleteJourneys, journey(j))
	}
	return out
}

// audit is the record of who asked for a change, when and why.
func audit(operator, reason string, timeUnixMs int64) *civicardv1.Audit {
	actor := "operator"
	if operator != "" {
		actor += "/" + operator
	}
	return &civicardv1.Audit{Actor: actor, Reason: reason, TimeUnixMs: timeUnixMs}
}

// Change makes an operator's change of the card: issue it, grant or revoke
// a concession, replace, renew or close it. Each is one ledger command,
// idempotent by the request id and recorded with who, when and why.
func (g *cardGrain) Change(in *grainsv1.CardChange, _ protocluster.GrainContext) (*grainsv1.CardChanged, error) {
	now := in.GetTimeUnixMs()
	cmd := &ledgerv1.Command{}
	switch c := in.GetChange().(type) {
	case *grainsv1.CardChange_Issue:
		r := c.Issue
		cmd.Id = fmt.Sprintf("issue/%s/%s", g.id, r.GetRequestId())
		cmd.Kind = &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{
			CardId: g.id, Kind: r.GetKind(), HolderName: r.GetHolderName(), IssuedUnixMs: now,
			Audit: audit(r.GetOperator(), r.GetReason(), now),
		}}
	case *grainsv1.CardChange_Grant:
		r := c.Grant
		e := r.GetEntitlement()
		if err := g.checkConcession(e.GetConcession()); err != nil {
			return nil, err
		}
		from, err := dayOf("from_date", e.GetFromDate())
		if err != nil {
			return nil, err
		}
		until, err := dayOf("until_date", e.GetUntilDate())
		if err != nil {
			return nil, err
		}
		if until < from {
			return nil, grainsv1.ErrInvalidArgument("until_date %s is before from_date %s", e.GetUntilDate(), e.GetFromDate())
		}
		cmd.Id = fmt.Sprintf("grant/%s/%s", g.id, r.GetRequestId())
		cmd.Kind = &ledgerv1.Command_GrantEntitlement{GrantEntitlement: &ledgerv1.GrantEntitlement{
			CardId:      g.id,
			Entitlement: tariffpb.EntitlementToProto(tariff.Entitlement{Concession: e.GetConcession(), FromDay: from, UntilDay: until, Issuer: e.GetIssuer()}),
			Audit:       audit(r.GetOperator(), r.GetReason(), now),
		}}
	case *grainsv1.CardChange_Revoke:
		r := c.Revoke
		cmd.Id = fmt.Sprintf("revoke/%s/%s", g.id, r.GetRequestId())
		cmd.Kind = &ledgerv1.Command_RevokeEntitlement{RevokeEntitlement: &ledgerv1.RevokeEntitlement{
			CardId: g.id, Concession: r.GetConcession(), Audit: audit(r.GetOperator(), r.GetReason(), now),
		}}
	case *grainsv1.CardChange_Replace:
		r := c.Replace
		if r.GetNewCardId() == g.id {
			return nil, grainsv1.ErrInvalidArgument("a card cannot replace itself")
		}
		if shards, ok := g.deps.Ledger.(ShardChecker); ok && !shards.SameShard(g.id, r.GetNewCardId()) {
			return nil, grainsv1.ErrFailedPrecondition("card %s is in another shard than %s: issue the replacement from the same shard's numbers", r.GetNewCardId(), g.id)
		}
		cmd.Id = fmt.Sprintf("replace/%s/%s", g.id, r.GetRequestId())
		cmd.Kind = &ledgerv1.Command_ReplaceCard{ReplaceCard: &ledgerv1.ReplaceCard{
			CardId: g.id, NewCardId: r.GetNewCardId(), Audit: audit(r.GetOperator(), r.GetReason(), now),
		}}
	case *grainsv1.CardChange_Renew:
		r := c.Renew
		cmd.Id = fmt.Sprintf("renew/%s/%s", g.id, r.GetRequestId())
		cmd.Kind = &ledgerv1.Command_RenewCard{RenewCard: &ledgerv1.RenewCard{CardId: g.id, Audit: audit(r.GetOperator(), r.GetReason(), now)}}
	case *grainsv1.CardChange_Close:
		r := c.Close
		cmd.Id = fmt.Sprintf("close/%s/%s", g.id, r.GetRequestId())
		cmd.Kind = &ledgerv1.Command_CloseCard{CloseCard: &ledgerv1.CloseCard{CardId: g.id, Audit: audit(r.GetOperator(), r.GetReason(), now)}}
	default:
		return nil, grainsv1.ErrInvalidArgument("no change for card %s", g.id)
	}
	res, err := g.propose(cmd)
	if err != nil {
		return nil, err
	}
	if err := rejection(res); err != nil {
		return nil, err
	}
	out := &grainsv1.CardChanged{Transaction: res.GetTransaction()}
	if res.GetCard() != nil {
		out.Card = publicCard(res.GetCard(), g.deps.money)
	}
	if res.GetRelatedCard() != nil {
		out.NewCard = publicCard(res.GetRelatedCard(), g.deps.money)
	}
	return out, nil
}

// Correct decides a holder's request to correct an incomplete journey, by
// the engine's rule, and settles the refund with the card's new pricing
// state at the version it was decided on. A refusal is recorded under the
// request id as well, so that the retry of a granted request (whose journey
// is gone from the state by then) gets the first answer.
func (g *cardGrain) Correct(in *grainsv1.Correction, _ protocluster.GrainContext) (*civicardv1.RequestCorrectionResponse, error) {
	req := in.GetRequest()
	p, err := g.inForce("")
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < g.deps.Config.VersionRetryMax; attempt++ {
		if err := g.loaded(); err != nil {
			return nil, err
		}
		d := p.Engine.Correct(g.tariffState(), req.GetJourneyId(), in.GetTimeUnixMs())
		if d.Decline == tariff.DeclineTime {
			return nil, grainsv1.ErrInvalidArgument("%s", d.Reason)
		}
		charge := &ledgerv1.Charge{
			CardId:          g.id,
			ExpectedVersion: g.card.GetVersion(),
			AmountMinor:     d.AmountMinor,
			TimeUnixMs:      in.GetTimeUnixMs(),
			TariffVersion:   p.Version(),
			RegionVersion:   p.RegionVersion,
			Correction:      true,
			Audit:           audit(req.GetOperator(), req.GetReason(), in.GetTimeUnixMs()),
		}
		switch {
		case d.Accepted:
			charge.InstitutionId = d.Entries[0].InstitutionID
			charge.Postings, charge.Tariff = tariffpb.Postings(d.Entries), tariffpb.ToProto(d.Card)
		case d.Decline == tariff.DeclineNoJourney:
			charge.DeclineReason, charge.DeclineDetail = civicardv1.DeclineReason_DECLINE_REASON_NO_SUCH_JOURNEY, textMax(d.Reason)
		default:
			charge.DeclineReason, charge.DeclineDetail = civicardv1.DeclineReason_DECLINE_REASON_CORRECTION_REFUSED, textMax(d.Reason)
		}
		res, stale, err := g.proposeAtVersion(&ledgerv1.Command{Id: fmt.Sprintf("correct/%s/%s", g.id, req.GetRequestId()), Kind: &ledgerv1.Command_Charge{Charge: charge}})
		if err != nil {
			return nil, err
		}
		if stale {
			if g.tariffMoved(charge.GetExpectedVersion()) {
				if p, err = g.refreshInForce("", p); err != nil {
					return nil, err
				}
			}
			continue
		}
		txn := res.GetTransaction()
		if res.GetStatus() == ledgerv1.Status_STATUS_DECLINED {
			detail := txn.GetDeclineDetail()
			if detail == "" {
				detail = g.declineDetail(txn)
			}
			if txn.GetDeclineReason() == civicardv1.DeclineReason_DECLINE_REASON_NO_SUCH_JOURNEY {
				return nil, grainsv1.ErrNotFound("correction refused: %s", detail)
			}
			return nil, grainsv1.ErrFailedPrecondition("correction refused: %s", detail)
		}
		out := &civicardv1.RequestCorrectionResponse{Transaction: txn, Replayed: res.GetReplayed()}
		if !res.GetReplayed() {
			out.Breakdown = d.Breakdown
		}
		return out, nil
	}
	return nil, grainsv1.ErrUnavailable("card %s changed %d times while deciding; retry", g.id, g.deps.Config.VersionRetryMax)
}

// checkConcession refuses a concession the region does not define, after
// reading the region again in case it was just added.
func (g *cardGrain) checkConcession(code string) error {
	p, err := g.inForce("")
	if err != nil {
		return err
	}
	if knowsConcession(p, code) {
		return nil
	}
	if p, err = g.refreshInForce("", p); err != nil {
		return err
	}
	if !knowsConcession(p, code) {
		return grainsv1.ErrInvalidArgument("no concession %q in the region", code)
	}
	return nil
}

func knowsConcession(p InForce, code string) bool {
	for _, c := range p.Engine.Region().Concessions {
		if c.Code == code {
			return true
		}
	}
	return false
}
