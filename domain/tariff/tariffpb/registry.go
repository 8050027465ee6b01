package tariffpb

import (
	"civicard/domain/purse"
	"civicard/domain/tariff"
	ledgerv1 "civicard/messages/ledger/v1"
)

// The region and the price lists as the registry stores them
// (ledgerv1.TariffRegion, ledgerv1.PriceList): field for field the engine's
// tariff.Region and tariff.PriceList, so each survives the round trip
// unchanged.

// RegionToProto returns the ledger's record of r.
func RegionToProto(r tariff.Region) *ledgerv1.TariffRegion {
	p := &ledgerv1.TariffRegion{
		Capping: &ledgerv1.TariffCapping{DailyMinor: r.Capping.DailyMinor, WeeklyMinor: r.Capping.WeeklyMinor, Concessions: clip(r.Capping.Concessions)},
		Journeys: &ledgerv1.TariffJourneyRules{
			OpenMinutesMax: r.Journeys.OpenMinutesMax, AutoCorrect: r.Journeys.AutoCorrect, AutoCorrectMinutes: r.Journeys.AutoCorrectMinutes,
			RequestDaysMax: r.Journeys.RequestDaysMax, RequestsPer_30DaysMax: r.Journeys.RequestsPer30DaysMax,
		},
		Purse: &ledgerv1.TariffPurseLimits{
			BalanceMaxMinor: r.Purse.BalanceMaxMinor, TransactionMaxMinor: r.Purse.TransactionMaxMinor,
			TransactionPinMaxMinor: r.Purse.TransactionPINMaxMinor, BearerMonthMaxMinor: r.Purse.BearerMonthMaxMinor,
			TopUpYearMaxMinor: r.Purse.TopUpYearMaxMinor,
		},
		Limits: &ledgerv1.TariffPurchaseLimits{QuantityMax: r.Limits.QuantityMax, AmountMaxMinor: r.Limits.AmountMaxMinor},
	}
	for _, c := range r.Concessions {
		p.Concessions = append(p.Concessions, &ledgerv1.TariffConcession{Code: c.Code, Name: c.Name, PercentOff: c.PercentOff})
	}
	for _, l := range r.Network.Lines {
		line := &ledgerv1.TariffLine{Id: l.ID, Name: l.Name, InstitutionId: l.InstitutionID}
		for _, s := range l.Stops {
			line.Stops = append(line.Stops, &ledgerv1.TariffStop{Id: s.ID, Name: s.Name, Metres: s.Metres})
		}
		p.Lines = append(p.Lines, line)
	}
	for _, b := range r.Network.Bands {
		p.Bands = append(p.Bands, &ledgerv1.TariffBand{UpToMetres: b.UpToMetres, PriceMinor: b.PriceMinor})
	}
	return p
}

// RegionFromProto returns the engine's region of the ledger's record.
func RegionFromProto(p *ledgerv1.TariffRegion) tariff.Region {
	j := p.GetJourneys()
	pl := p.GetPurse()
	r := tariff.Region{
		Capping: tariff.Capping{DailyMinor: p.GetCapping().GetDailyMinor(), WeeklyMinor: p.GetCapping().GetWeeklyMinor(), Concessions: clip(p.GetCapping().GetConcessions())},
		Journeys: tariff.JourneyRules{
			OpenMinutesMax: j.GetOpenMinutesMax(), AutoCorrect: j.GetAutoCorrect(), AutoCorrectMinutes: j.GetAutoCorrectMinutes(),
			RequestDaysMax: j.GetRequestDaysMax(), RequestsPer30DaysMax: j.GetRequestsPer_30DaysMax(),
		},
		Purse: purse.Limits{
			BalanceMaxMinor: pl.GetBalanceMaxMinor(), TransactionMaxMinor: pl.GetTransactionMaxMinor(),
			TransactionPINMaxMinor: pl.GetTransactionPinMaxMinor(), BearerMonthMaxMinor: pl.GetBearerMonthMaxMinor(),
			TopUpYearMaxMinor: pl.GetTopUpYearMaxMinor(),
		},
		Limits: tariff.Limits{QuantityMax: p.GetLimits().GetQuantityMax(), AmountMaxMinor: p.GetLimits().GetAmountMaxMinor()},
	}
	for _, c := range p.GetConcessions() {
		r.Concessions = append(r.Concessions, tariff.Concession{Code: c.GetCode(), Name: c.GetName(), PercentOff: c.GetPercentOff()})
	}
	for _, l := range p.GetLines() {
		line := tariff.Line{ID: l.GetId(), Name: l.GetName(), InstitutionID: l.GetInstitutionId()}
		for _, s := range l.GetStops() {
			line.Stops = append(line.Stops, tariff.Stop{ID: s.GetId(), Name: s.GetName(), Metres: s.GetMetres()})
		}
		r.Network.Lines = append(r.Network.Lines, line)
	}
	for _, b := range p.GetBands() {
		r.Network.Bands = append(r.Network.Bands, tariff.Band{UpToMetres: b.GetUpToMetres(), PriceMinor: b.GetPriceMinor()})
	}
	return r
}

// PriceListToProto returns the ledger's record of l.
func PriceListToProto(l tariff.PriceList) *ledgerv1.PriceList {
	p := &ledgerv1.PriceList{InstitutionId: l.InstitutionID, Kind: l.Kind}
	for _, pr := range l.Products {
		p.Products = append(p.Products, &ledgerv1.PriceProduct{
			Code: pr.Code, Name: pr.Name, Rule: ledgerv1.TariffRule(pr.Rule), PriceMinor: pr.PriceMinor, Minutes: pr.Minutes,
			CeilingMinor: pr.CeilingMinor, Days: pr.Days, Lines: clip(pr.Lines), Concessions: clip(pr.Concessions), Capped: pr.Capped,
		})
	}
	return p
}

// PriceListFromProto returns the engine's price list of the ledger's
// record. A rule the engine does not know stays out of its range, and
// PriceList.Validate refuses it.
func PriceListFromProto(p *ledgerv1.PriceList) tariff.PriceList {
	l := tariff.PriceList{InstitutionID: p.GetInstitutionId(), Kind: p.GetKind()}
	for _, pr := range p.GetProducts() {
		rule := tariff.Rule(255)
		if r := pr.GetRule(); r >= 0 && r < 255 {
			rule = tariff.Rule(r)
		}
		l.Products = append(l.Products, tariff.Product{
			Code: pr.GetCode(), Name: pr.GetName(), Rule: rule, PriceMinor: pr.GetPriceMinor(), Minutes: pr.GetMinutes(),
			CeilingMinor: pr.GetCeilingMinor(), Days: pr.GetDays(), Lines: clip(pr.GetLines()), Concessions: clip(pr.GetConcessions()), Capped: pr.GetCapped(),
		})
	}
	return l
}
