package demo

import (
	"strings"

	"civicard/domain/purse"
	"civicard/domain/tariff"
	civicardv1 "civicard/messages/civicard/v1"
)

// Tariff returns the pricing rules of the demo city for the fare engine
// (tariff.NewEngine): the region's common pricing policy (concessions,
// transport network and fare bands, caps, journey rules, e-purse limits)
// and one price list per institution, in institution id order.
//
// The price lists are the catalogue's services with a rule each, plus
// check-in/check-out ("CICO") on the operators of the network's lines and
// 30-day season passes on the city's buses and trams. Terminals sell all of
// them: the card grains price from these lists, not from the services an
// institution was registered with, so the city an installation loaded
// (Generate's output, TestGolden) did not have to change for them.
func Tariff() (tariff.Region, []tariff.PriceList) {
	institutions, specs := buildInstitutions(catalogue())
	lists := make([]tariff.PriceList, 0, len(institutions))
	network := network()
	operators := map[string]bool{}
	for _, l := range network.Lines {
		operators[l.InstitutionID] = true
	}
	for _, inst := range institutions {
		spec := specs[inst.InstitutionId].spec
		lists = append(lists, priceList(inst, spec, operators[inst.InstitutionId]))
	}
	return tariff.Region{
		Concessions: []tariff.Concession{
			{Code: "STUDENT", Name: "Student (ulga 51%)", PercentOff: 51},
			{Code: "PUPIL", Name: "Uczeń (ulga 50%)", PercentOff: 50},
			{Code: "SENIOR65", Name: "Senior 65+", PercentOff: 50},
			{Code: "SENIOR70", Name: "Senior 70+ (przejazdy bezpłatne)", PercentOff: 100},
			{Code: "DISABLED", Name: "Osoba z niepełnosprawnością", PercentOff: 100},
			{Code: "LARGE-FAMILY", Name: "Karta Dużej Rodziny", PercentOff: 37},
		},
		Network: network,
		Capping: tariff.Capping{
			DailyMinor:  1600, // the price of a 24-hour ticket
			WeeklyMinor: 5200,
			Concessions: transportConcessions(),
		},
		Journeys: tariff.DefaultJourneyRules(),
		Purse:    purse.DefaultLimits(),
		Limits:   tariff.DefaultLimits(),
	}, lists
}

func transportConcessions() []string {
	return []string{"STUDENT", "PUPIL", "SENIOR70", "DISABLED"}
}

// network is four real lines of the conurbation, with distances rounded to
// 100 m, and a fare table by distance.
func network() tariff.Network {
	brynow := tariff.Stop{ID: "KAT-BRYNOW", Name: "Katowice Brynów Pętla"}
	rynek := tariff.Stop{ID: "KAT-RYNEK", Name: "Katowice Rynek"}
	wolnosci := tariff.Stop{ID: "KAT-PL-WOLNOSCI", Name: "Katowice Plac Wolności"}
	aks := tariff.Stop{ID: "CHO-AKS", Name: "Chorzów AKS"}
	choRynek := tariff.Stop{ID: "CHO-RYNEK", Name: "Chorzów Rynek"}
	batory := tariff.Stop{ID: "CHO-BATORY", Name: "Chorzów Batory"}
	sikorskiego := tariff.Stop{ID: "BYT-PL-SIKORSKIEGO", Name: "Bytom Plac Sikorskiego"}
	zawodzie := tariff.Stop{ID: "KAT-ZAWODZIE", Name: "Katowice Zawodzie"}
	at := func(s tariff.Stop, metres uint32) tariff.Stop { s.Metres = metres; return s }
	return tariff.Network{
		Lines: []tariff.Line{
			{ID: "T6", Name: "Tramwaj 6: Katowice Brynów – Bytom", InstitutionID: "CHO-TRA-01", Stops: []tariff.Stop{
				at(brynow, 0), at(rynek, 3200), at(wolnosci, 3900), at(aks, 7100), at(choRynek, 8600), at(batory, 11000), at(sikorskiego, 15400),
			}},
			{ID: "T11", Name: "Tramwaj 11: Chorzów Batory – Katowice Zawodzie", InstitutionID: "CHO-TRA-01", Stops: []tariff.Stop{
				at(batory, 0), at(choRynek, 2400), at(aks, 3900), at(wolnosci, 7100), at(rynek, 7800), at(zawodzie, 11300),
			}},
			{ID: "B910", Name: "Autobus 910: Katowice Dworzec – Sosnowiec Dworzec", InstitutionID: "KAT-TRA-01", Stops: []tariff.Stop{
				{ID: "KAT-DWORZEC", Name: "Katowice Dworzec"}, at(rynek, 600), at(zawodzie, 4200),
				{ID: "KAT-SZOPIENICE", Name: "Katowice Szopienice", Metres: 7300},
				{ID: "SOS-POGON", Name: "Sosnowiec Pogoń", Metres: 10100},
				{ID: "SOS-DWORZEC", Name: "Sosnowiec Dworzec PKP", Metres: 12000},
			}},
			{ID: "TA", Name: "Trolejbus A: Tychy Dworzec – Paprocany", InstitutionID: "TYC-TRA-02", Stops: []tariff.Stop{
				{ID: "TYC-DWORZEC", Name: "Tychy Dworzec PKP"},
				{ID: "TYC-PL-BASZTOWY", Name: "Tychy Plac Baczyńskiego", Metres: 1800},
				{ID: "TYC-ALEJA-BIELSKA", Name: "Tychy Aleja Bielska", Metres: 3600},
				{ID: "TYC-PAPROCANY", Name: "Tychy Paprocany", Metres: 6900},
			}},
		},
		Bands: []tariff.Band{
			{UpToMetres: 3000, PriceMinor: 280},
			{UpToMetres: 6000, PriceMinor: 340},
			{UpToMetres: 10000, PriceMinor: 440},
			{UpToMetres: 20000, PriceMinor: 600},
		},
	}
}

// priceList gives each catalogue service of an institution its rule.
func priceList(inst *civicardv1.Institution, spec institutionSpec, operator bool) tariff.PriceList {
	prices := map[string]int64{}
	for _, s := range inst.Services {
		prices[s.Code] = s.UnitPriceMinor
	}
	list := tariff.PriceList{InstitutionID: inst.InstitutionId, Kind: inst.Kind}
	for _, s := range inst.Services {
		p := tariff.Product{Code: s.Code, Name: s.Name, Rule: tariff.RuleUnit, PriceMinor: s.UnitPriceMinor}
		switch inst.Kind {
		case civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT:
			if minutes, ok := rideMinutes(s.Code); ok {
				p.Rule, p.Minutes, p.Capped = tariff.RuleTimeTicket, minutes, true
				if !strings.HasSuffix(s.Code, "-R") {
					p.Concessions = transportConcessions()
				}
			} else if !strings.HasSuffix(s.Code, "-R") {
				p.Concessions = []string{"STUDENT", "PUPIL", "LARGE-FAMILY"} // rail: the national concessions
			}
		case civicardv1.ServiceKind_SERVICE_KIND_LIBRARY:
			if s.Code == "FINE-DAY" {
				p.CeilingMinor = 2000 // a fine is at most PLN 20 per book
				p.Concessions = []string{"PUPIL", "SENIOR65"}
			}
		case civicardv1.ServiceKind_SERVICE_KIND_SPORT:
			switch s.Code {
			case "ENTRY-60MIN", "ENTRY-60MIN-R", "SAUNA-60MIN":
				p.Rule, p.Minutes = tariff.RuleDuration, 60
				if s.Code == "ENTRY-60MIN" {
					p.CeilingMinor = prices["ENTRY-DAY"]
					p.Concessions = []string{"STUDENT", "PUPIL", "LARGE-FAMILY", "DISABLED"}
				}
			}
		case civicardv1.ServiceKind_SERVICE_KIND_PARKING:
			if s.Code == "PARK-15MIN" {
				p.Rule, p.Minutes, p.CeilingMinor = tariff.RuleDuration, 15, prices["PARK-DAY"]
				p.Concessions = []string{"DISABLED"}
			}
		case civicardv1.ServiceKind_SERVICE_KIND_CULTURE:
			if s.Code == "TICKET-NORMAL" {
				p.Concessions = []string{"LARGE-FAMILY", "DISABLED"}
			}
		}
		list.Products = append(list.Products, p)
	}
	if inst.Kind == civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT && spec.site != siteTrain {
		if operator {
			list.Products = append(list.Products, tariff.Product{
				Code: "CICO", Name: "Przejazd wg odległości (check-in/check-out)", Rule: tariff.RuleDistance,
				Concessions: transportConcessions(), Capped: true,
			})
		}
		list.Products = append(list.Products,
			tariff.Product{Code: "PASS-30D", Name: "Bilet 30-dniowy na całą sieć", Rule: tariff.RulePass, PriceMinor: 15000, Days: 30, Concessions: []string{"STUDENT", "PUPIL"}},
			tariff.Product{Code: "PASS-30D-T6", Name: "Bilet 30-dniowy na linię 6", Rule: tariff.RulePass, PriceMinor: 8900, Days: 30, Lines: []string{"T6"}, Concessions: []string{"STUDENT", "PUPIL"}},
		)
	}
	return list
}

// rideMinutes is the validity of a zone-time ticket from its code.
func rideMinutes(code string) (uint32, bool) {
	switch strings.TrimSuffix(code, "-R") {
	case "RIDE-20MIN":
		return 20, true
	case "RIDE-40MIN":
		return 40, true
	case "RIDE-90MIN":
		return 90, true
	case "RIDE-24H":
		return 24 * 60, true
	}
	return 0, false
}
