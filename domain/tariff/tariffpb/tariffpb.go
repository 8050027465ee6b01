package tariffpb

import (
	"civicard/domain/purse"
	"civicard/domain/tariff"
	ledgerv1 "civicard/messages/ledger/v1"
)

// ToProto returns the ledger's record of s.
func ToProto(s tariff.CardState) *ledgerv1.TariffState {
	p := &ledgerv1.TariffState{
		Bearer: s.Bearer,
		Caps: &ledgerv1.TariffCaps{
			Day: s.Caps.Day, DaySpentMinor: s.Caps.DaySpentMinor, Week: s.Caps.Week, WeekSpentMinor: s.Caps.WeekSpentMinor,
		},
		Purse: &ledgerv1.TariffPurse{
			Month: s.Purse.Month, MonthSpentMinor: s.Purse.MonthSpentMinor, Year: s.Purse.Year, YearTopUpMinor: s.Purse.YearTopUpMinor,
		},
		CorrectionDays: clip(s.Corrections),
	}
	for _, e := range s.Entitlements {
		p.Entitlements = append(p.Entitlements, EntitlementToProto(e))
	}
	for _, ps := range s.Passes {
		p.Passes = append(p.Passes, &ledgerv1.TariffPass{
			Product: ps.Product, InstitutionId: ps.InstitutionID, FromDay: ps.FromDay, UntilDay: ps.UntilDay, Lines: clip(ps.Lines),
		})
	}
	if s.Ticket != (tariff.TimeTicket{}) {
		p.Ticket = &ledgerv1.TariffTicket{Product: s.Ticket.Product, InstitutionId: s.Ticket.InstitutionID, UntilUnixMs: s.Ticket.UntilUnixMs}
	}
	if s.Journey != (tariff.Journey{}) {
		p.Journey = journeyToProto(s.Journey)
	}
	for _, st := range s.Stays {
		p.Stays = append(p.Stays, &ledgerv1.TariffStay{Id: st.ID, InstitutionId: st.InstitutionID, Product: st.Product, StartUnixMs: st.StartUnixMs})
	}
	for _, j := range s.Incomplete {
		p.Incomplete = append(p.Incomplete, journeyToProto(j))
	}
	return p
}

// FromProto returns the engine's state of a card from the ledger's record;
// nil (a card never priced) is the fresh state of a card of that kind.
func FromProto(p *ledgerv1.TariffState, bearer bool) tariff.CardState {
	if p == nil {
		return tariff.CardState{Bearer: bearer}
	}
	s := tariff.CardState{
		Bearer: p.GetBearer(),
		Caps: tariff.CapCounters{
			Day: p.GetCaps().GetDay(), DaySpentMinor: p.GetCaps().GetDaySpentMinor(),
			Week: p.GetCaps().GetWeek(), WeekSpentMinor: p.GetCaps().GetWeekSpentMinor(),
		},
		Purse: purse.Counters{
			Month: p.GetPurse().GetMonth(), MonthSpentMinor: p.GetPurse().GetMonthSpentMinor(),
			Year: p.GetPurse().GetYear(), YearTopUpMinor: p.GetPurse().GetYearTopUpMinor(),
		},
		Corrections: clip(p.GetCorrectionDays()),
	}
	for _, e := range p.GetEntitlements() {
		s.Entitlements = append(s.Entitlements, tariff.Entitlement{Concession: e.GetConcession(), FromDay: e.GetFromDay(), UntilDay: e.GetUntilDay(), Issuer: e.GetIssuer()})
	}
	for _, ps := range p.GetPasses() {
		s.Passes = append(s.Passes, tariff.Pass{
			Product: ps.GetProduct(), InstitutionID: ps.GetInstitutionId(), FromDay: ps.GetFromDay(), UntilDay: ps.GetUntilDay(), Lines: clip(ps.GetLines()),
		})
	}
	if t := p.GetTicket(); t != nil {
		s.Ticket = tariff.TimeTicket{Product: t.GetProduct(), InstitutionID: t.GetInstitutionId(), UntilUnixMs: t.GetUntilUnixMs()}
	}
	if j := p.GetJourney(); j != nil {
		s.Journey = journeyFromProto(j)
	}
	for _, st := range p.GetStays() {
		s.Stays = append(s.Stays, tariff.Stay{ID: st.GetId(), InstitutionID: st.GetInstitutionId(), Product: st.GetProduct(), StartUnixMs: st.GetStartUnixMs()})
	}
	for _, j := range p.GetIncomplete() {
		s.Incomplete = append(s.Incomplete, journeyFromProto(j))
	}
	return s
}

// EntitlementToProto is the ledger's record of one entitlement.
func EntitlementToProto(e tariff.Entitlement) *ledgerv1.TariffEntitlement {
	return &ledgerv1.TariffEntitlement{Concession: e.Concession, FromDay: e.FromDay, UntilDay: e.UntilDay, Issuer: e.Issuer}
}

// Postings are the ledger's movements of a decision's entries.
func Postings(entries []tariff.Entry) []*ledgerv1.Posting {
	if len(entries) == 0 {
		return nil
	}
	out := make([]*ledgerv1.Posting, len(entries))
	for i, e := range entries {
		out[i] = &ledgerv1.Posting{InstitutionId: e.InstitutionID, Product: e.Product, AmountMinor: e.AmountMinor, What: e.What}
	}
	return out
}

func journeyToProto(j tariff.Journey) *ledgerv1.TariffJourney {
	return &ledgerv1.TariffJourney{
		Id: j.ID, InstitutionId: j.InstitutionID, Product: j.Product, Line: j.Line, Stop: j.Stop,
		Direction: int32(j.Direction), StartUnixMs: j.StartUnixMs, FareMaxMinor: j.FareMaxMinor,
		ChargedMinor: j.ChargedMinor, Pass: j.Pass, Concession: j.Concession,
	}
}

func journeyFromProto(j *ledgerv1.TariffJourney) tariff.Journey {
	return tariff.Journey{
		ID: j.GetId(), InstitutionID: j.GetInstitutionId(), Product: j.GetProduct(), Line: j.GetLine(), Stop: j.GetStop(),
		Direction: int8(j.GetDirection()), StartUnixMs: j.GetStartUnixMs(), FareMaxMinor: j.GetFareMaxMinor(),
		ChargedMinor: j.GetChargedMinor(), Pass: j.GetPass(), Concession: j.GetConcession(),
	}
}

// clip copies a list, nil for an empty one, as the engine keeps its lists.
func clip[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}
