package demo

import (
	civicardv1 "civicard/messages/civicard/v1"
)

// The catalogue is the fixed part of the city: its towns and institutions,
// with their price lists. It is built by functions rather than held in
// package variables so that no caller can change it for the next Generate.

// town is a town of the conurbation.
type town struct {
	// code starts the ids of the town's institutions: "KAT" in "KAT-LIB-01".
	code string
	name string
	// institutions, in the order their ids are numbered within a kind.
	institutions []institutionSpec
}

// site says what a terminal of an institution stands in or at, and so how
// its location reads.
type site int

const (
	siteBus site = iota + 1
	siteTram
	siteTrolleybus
	siteTrain
	siteTicketMachine
	siteLibrary
	siteSport
	siteParking
	siteOffice
	siteCulture
)

// span is an inclusive range of terminal counts.
type span struct{ lo, hi int }

// institutionSpec is one institution before it gets its id.
type institutionSpec struct {
	kind     civicardv1.ServiceKind
	name     string
	site     site
	services []*civicardv1.Service
	// terminals overrides the kind's range when set.
	terminals span
}

// kindCode is the middle part of an institution id.
func kindCode(k civicardv1.ServiceKind) string {
	switch k {
	case civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT:
		return "TRA"
	case civicardv1.ServiceKind_SERVICE_KIND_LIBRARY:
		return "LIB"
	case civicardv1.ServiceKind_SERVICE_KIND_SPORT:
		return "SPO"
	case civicardv1.ServiceKind_SERVICE_KIND_PARKING:
		return "PAR"
	case civicardv1.ServiceKind_SERVICE_KIND_CITY_OFFICE:
		return "OFF"
	case civicardv1.ServiceKind_SERVICE_KIND_CULTURE:
		return "CUL"
	}
	return "XXX"
}

// terminalSpan is how many terminals an institution of a kind has, unless
// its spec says otherwise. Transport has by far the most: two validators in
// each of an operator's 60 to 120 vehicles (or that many ticket machines);
// then parking (meters along the streets of a zone). With the catalogue below
// the city has about 2,500 terminals; 2,000 to 3,000 for any seed.
func terminalSpan(k civicardv1.ServiceKind) span {
	switch k {
	case civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT:
		return span{120, 240}
	case civicardv1.ServiceKind_SERVICE_KIND_PARKING:
		return span{20, 50}
	case civicardv1.ServiceKind_SERVICE_KIND_LIBRARY:
		return span{4, 8}
	case civicardv1.ServiceKind_SERVICE_KIND_SPORT:
		return span{5, 9}
	case civicardv1.ServiceKind_SERVICE_KIND_CITY_OFFICE:
		return span{3, 7}
	case civicardv1.ServiceKind_SERVICE_KIND_CULTURE:
		return span{3, 7}
	}
	return span{1, 1}
}

func svc(code, name string, unitPriceMinor int64) *civicardv1.Service {
	return &civicardv1.Service{Code: code, Name: name, UnitPriceMinor: unitPriceMinor}
}

// round10 rounds grosz to the nearest 10, as price lists do.
func round10(minor int64) int64 { return (minor + 5) / 10 * 10 }

// transport sells the single fares of the KZK GOP tariff, which every
// municipal operator of the conurbation applied.
func transport(name string, s site) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT,
		name: name,
		site: s,
		services: []*civicardv1.Service{
			svc("RIDE-20MIN", "Bilet 20-minutowy", 340),
			svc("RIDE-40MIN", "Bilet 40-minutowy", 440),
			svc("RIDE-90MIN", "Bilet 90-minutowy", 600),
			svc("RIDE-20MIN-R", "Bilet 20-minutowy ulgowy", 170),
			svc("RIDE-40MIN-R", "Bilet 40-minutowy ulgowy", 220),
			svc("RIDE-90MIN-R", "Bilet 90-minutowy ulgowy", 300),
			svc("RIDE-24H", "Bilet 24-godzinny", 1600),
		},
	}
}

// rail sells regional train tickets by distance.
func rail(name string) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT,
		name: name,
		site: siteTrain,
		services: []*civicardv1.Service{
			svc("TRAIN-10KM", "Bilet jednorazowy do 10 km", 380),
			svc("TRAIN-20KM", "Bilet jednorazowy do 20 km", 570),
			svc("TRAIN-40KM", "Bilet jednorazowy do 40 km", 900),
			svc("TRAIN-10KM-R", "Bilet jednorazowy do 10 km ulgowy", 240),
			svc("TRAIN-DAY", "Bilet dobowy", 2200),
		},
	}
}

func library(name string) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_LIBRARY,
		name: name,
		site: siteLibrary,
		services: []*civicardv1.Service{
			svc("PRINT-A4", "Wydruk A4 czarno-biały", 50),
			svc("PRINT-A4-COLOR", "Wydruk A4 kolorowy", 200),
			svc("COPY-A4", "Kserokopia A4", 40),
			svc("SCAN", "Skan strony", 30),
			svc("FINE-DAY", "Opłata za przetrzymanie książki (dzień)", 20),
			svc("INTERLIBRARY", "Wypożyczenie międzybiblioteczne", 600),
			svc("CARD-REPLACE", "Duplikat karty bibliotecznej", 1000),
		},
	}
}

// pool prices a swimming pool from its one-hour ticket.
func pool(name string, hourMinor int64) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_SPORT,
		name: name,
		site: siteSport,
		services: []*civicardv1.Service{
			svc("ENTRY-60MIN", "Wejście na basen 60 min", hourMinor),
			svc("ENTRY-60MIN-R", "Wejście na basen 60 min ulgowe", round10(hourMinor*7/10)),
			svc("ENTRY-90MIN", "Wejście na basen 90 min", round10(hourMinor*13/10)),
			svc("ENTRY-DAY", "Wejście całodzienne", round10(hourMinor*25/10)),
			svc("SAUNA-60MIN", "Sauna 60 min", round10(hourMinor*11/10)),
		},
	}
}

// rink prices an ice rink from its one-hour session.
func rink(name string, hourMinor int64) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_SPORT,
		name: name,
		site: siteSport,
		services: []*civicardv1.Service{
			svc("ENTRY-60MIN", "Ślizgawka 60 min", hourMinor),
			svc("ENTRY-60MIN-R", "Ślizgawka 60 min ulgowa", round10(hourMinor*7/10)),
			svc("ENTRY-DAY", "Ślizgawka — wszystkie sesje dnia", round10(hourMinor*3)),
			svc("SKATE-RENT", "Wypożyczenie łyżew", 800),
			svc("SKATE-SHARPEN", "Ostrzenie łyżew", 1000),
		},
	}
}

// hall prices a sports hall with a gym from its one-hour gym entry.
func hall(name string, hourMinor int64) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_SPORT,
		name: name,
		site: siteSport,
		services: []*civicardv1.Service{
			svc("ENTRY-60MIN", "Siłownia 60 min", hourMinor),
			svc("ENTRY-DAY", "Siłownia — karnet dzienny", round10(hourMinor*2)),
			svc("COURT-60MIN", "Wynajem kortu 60 min", round10(hourMinor*3)),
			svc("FITNESS-60MIN", "Zajęcia fitness 60 min", round10(hourMinor*15/10)),
		},
	}
}

// parking prices a paid parking zone from its hourly rate. Its default is a
// quarter of an hour, so that the quantity of a purchase is the number of
// quarters.
func parking(name string, hourMinor int64) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_PARKING,
		name: name,
		site: siteParking,
		services: []*civicardv1.Service{
			svc("PARK-15MIN", "Postój 15 min", hourMinor/4),
			svc("PARK-60MIN", "Postój 1 godz.", hourMinor),
			svc("PARK-DAY", "Bilet dzienny", hourMinor*6),
			svc("PARK-MONTH", "Abonament miesięczny", hourMinor*40),
			svc("PARK-PENALTY", "Opłata dodatkowa za brak biletu", 5000),
		},
	}
}

// office sells fixed fees: stamp duty and civil-registry fees are set by
// national law, so every town's office charges the same.
func office(name string) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_CITY_OFFICE,
		name: name,
		site: siteOffice,
		services: []*civicardv1.Service{
			svc("ZASWIADCZENIE", "Opłata skarbowa od zaświadczenia", 1700),
			svc("PELNOMOCNICTWO", "Opłata skarbowa od pełnomocnictwa", 1700),
			svc("ODPIS-SKROCONY", "Odpis skrócony aktu stanu cywilnego", 2200),
			svc("ODPIS-ZUPELNY", "Odpis zupełny aktu stanu cywilnego", 3300),
			svc("ZASWIADCZENIE-USC", "Zaświadczenie o stanie cywilnym", 3800),
			svc("AKT-MALZENSTWA", "Sporządzenie aktu małżeństwa", 8400),
			svc("PRAWO-JAZDY", "Wydanie prawa jazdy", 10050),
			svc("REJESTRACJA-POJAZDU", "Rejestracja pojazdu", 18050),
			svc("KARTA-WEDKARSKA", "Karta wędkarska", 1000),
		},
	}
}

// culture sells tickets at a normal and a reduced price, a family ticket (two
// adults and two children) at twice the normal price, and a programme or
// catalogue.
func culture(name string, normalMinor, reducedMinor int64) institutionSpec {
	return institutionSpec{
		kind: civicardv1.ServiceKind_SERVICE_KIND_CULTURE,
		name: name,
		site: siteCulture,
		services: []*civicardv1.Service{
			svc("TICKET-NORMAL", "Bilet normalny", normalMinor),
			svc("TICKET-REDUCED", "Bilet ulgowy", reducedMinor),
			svc("TICKET-FAMILY", "Bilet rodzinny", normalMinor*2),
			svc("PROGRAM", "Program lub katalog", 1000),
		},
	}
}

// small marks an institution that has few terminals.
func small(spec institutionSpec) institutionSpec {
	spec.terminals = span{1, 3}
	return spec
}

// large marks an institution that has many terminals for its kind: from the
// top of the kind's range to half as many again.
func large(spec institutionSpec) institutionSpec {
	s := terminalSpan(spec.kind)
	spec.terminals = span{s.hi, s.hi * 3 / 2}
	return spec
}

// catalogue returns the towns of the demo city, each with its institutions.
// The names are those of real institutions or in their style; the prices are
// plausible, not quoted.
func catalogue() []town {
	return []town{
		{code: "KAT", name: "Katowice", institutions: []institutionSpec{
			transport("PKM Katowice", siteBus),
			transport("KZK GOP — automaty biletowe", siteTicketMachine),
			rail("Koleje Śląskie"),
			library("Miejska Biblioteka Publiczna w Katowicach"),
			large(library("Biblioteka Śląska")),
			library("Centrum Informacji Naukowej i Biblioteka Akademicka"),
			small(library("Pedagogiczna Biblioteka Wojewódzka w Katowicach")),
			pool("MOSiR Katowice — Kryta pływalnia", 1400),
			rink("MOSiR Katowice — Lodowisko Jantor", 1000),
			hall("MOSiR Katowice — Hala Sportowa", 1200),
			parking("Strefa Płatnego Parkowania Katowice", 400),
			large(office("Urząd Miasta Katowice")),
			large(culture("Muzeum Śląskie", 2400, 1200)),
			culture("Teatr Śląski im. Stanisława Wyspiańskiego", 5000, 3500),
			culture("Filharmonia Śląska", 4000, 2500),
			culture("Narodowa Orkiestra Symfoniczna Polskiego Radia", 6000, 4000),
			culture("Muzeum Historii Katowic", 1200, 800),
			small(culture("Galeria Sztuki Współczesnej BWA Katowice", 1000, 500)),
			culture("Katowice Miasto Ogrodów — Instytucja Kultury", 3000, 2000),
		}},
		{code: "CHO", name: "Chorzów", institutions: []institutionSpec{
			transport("Tramwaje Śląskie", siteTram),
			library("Miejska Biblioteka Publiczna w Chorzowie"),
			pool("MOSiR Chorzów — Kryta pływalnia", 1200),
			hall("MOSiR Chorzów — Hala Sportowa", 1000),
			parking("Strefa Płatnego Parkowania Chorzów", 300),
			office("Urząd Miasta Chorzów"),
			large(culture("Śląski Ogród Zoologiczny", 2500, 1500)),
			culture("Planetarium Śląskie", 3000, 2500),
			culture("Teatr Rozrywki", 7000, 5000),
			small(culture("Muzeum w Chorzowie", 1000, 500)),
		}},
		{code: "SWI", name: "Świętochłowice", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Świętochłowicach"),
			pool("MOSiR Świętochłowice — Kryta pływalnia", 1000),
			office("Urząd Miejski w Świętochłowicach"),
			small(culture("Muzeum Powstań Śląskich", 1000, 600)),
			culture("Centrum Kultury Śląskiej w Świętochłowicach", 1500, 1000),
		}},
		{code: "RSL", name: "Ruda Śląska", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Rudzie Śląskiej"),
			pool("MOSiR Ruda Śląska — Kryta pływalnia", 1100),
			office("Urząd Miasta Ruda Śląska"),
			small(culture("Muzeum Miejskie im. Maksymiliana Chroboka w Rudzie Śląskiej", 800, 500)),
			culture("Miejskie Centrum Kultury im. Henryka Bisty w Rudzie Śląskiej", 2000, 1500),
		}},
		{code: "BYT", name: "Bytom", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Bytomiu"),
			pool("MOSiR Bytom — Kryta pływalnia", 1100),
			rink("MOSiR Bytom — Lodowisko", 900),
			parking("Strefa Płatnego Parkowania Bytom", 300),
			office("Urząd Miejski w Bytomiu"),
			culture("Opera Śląska", 8000, 5000),
			culture("Muzeum Górnośląskie w Bytomiu", 1200, 600),
			culture("Bytomskie Centrum Kultury", 2500, 1800),
		}},
		{code: "PIE", name: "Piekary Śląskie", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Piekarach Śląskich"),
			pool("MOSiR Piekary Śląskie — Kryta pływalnia", 1000),
			office("Urząd Miasta Piekary Śląskie"),
			culture("Piekarskie Centrum Kultury", 2000, 1500),
		}},
		{code: "SIE", name: "Siemianowice Śląskie", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Siemianowicach Śląskich"),
			pool("MOSiR Siemianowice Śląskie — Kryta pływalnia", 1000),
			office("Urząd Miasta Siemianowice Śląskie"),
			culture("Siemianowickie Centrum Kultury", 2000, 1500),
		}},
		{code: "SOS", name: "Sosnowiec", institutions: []institutionSpec{
			transport("PKM Sosnowiec", siteBus),
			library("Miejska Biblioteka Publiczna w Sosnowcu"),
			pool("MOSiR Sosnowiec — Kryta pływalnia", 1200),
			rink("MOSiR Sosnowiec — Stadion Zimowy", 900),
			parking("Strefa Płatnego Parkowania Sosnowiec", 320),
			office("Urząd Miejski w Sosnowcu"),
			culture("Teatr Zagłębia", 4500, 3000),
			small(culture("Muzeum w Sosnowcu — Pałac Schoena", 1000, 500)),
			small(culture("Sosnowieckie Centrum Sztuki — Zamek Sielecki", 1000, 500)),
		}},
		{code: "BED", name: "Będzin", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Będzinie"),
			pool("MOSiR Będzin — Kryta pływalnia", 1000),
			parking("Strefa Płatnego Parkowania Będzin", 240),
			office("Urząd Miejski w Będzinie"),
			culture("Muzeum Zagłębia w Będzinie — Zamek", 1500, 1000),
		}},
		{code: "CZE", name: "Czeladź", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Czeladzi"),
			pool("MOSiR Czeladź — Kryta pływalnia", 1000),
			office("Urząd Miasta Czeladź"),
			small(culture("Muzeum Saturn w Czeladzi", 800, 500)),
		}},
		{code: "DAB", name: "Dąbrowa Górnicza", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Dąbrowie Górniczej"),
			pool("CSiR Dąbrowa Górnicza — Kryta pływalnia", 1200),
			hall("CSiR Dąbrowa Górnicza — Hala Centrum", 1000),
			parking("Strefa Płatnego Parkowania Dąbrowa Górnicza", 300),
			office("Urząd Miejski w Dąbrowie Górniczej"),
			culture("Pałac Kultury Zagłębia", 3000, 2000),
			small(culture("Muzeum Miejskie Sztygarka", 1000, 500)),
		}},
		{code: "MYS", name: "Mysłowice", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Mysłowicach"),
			pool("MOSiR Mysłowice — Kryta pływalnia", 1000),
			office("Urząd Miasta Mysłowice"),
			small(culture("Muzeum Miasta Mysłowice", 800, 500)),
		}},
		{code: "JAW", name: "Jaworzno", institutions: []institutionSpec{
			transport("PKM Jaworzno", siteBus),
			library("Miejska Biblioteka Publiczna w Jaworznie"),
			pool("MCKiS Jaworzno — Kryta pływalnia", 1000),
			parking("Strefa Płatnego Parkowania Jaworzno", 240),
			office("Urząd Miejski w Jaworznie"),
			small(culture("Muzeum Miasta Jaworzna", 800, 500)),
		}},
		{code: "TYC", name: "Tychy", institutions: []institutionSpec{
			transport("MZK Tychy", siteBus),
			transport("Tyskie Linie Trolejbusowe", siteTrolleybus),
			library("Miejska Biblioteka Publiczna w Tychach"),
			pool("MOSiR Tychy — Wodny Park", 1500),
			rink("MOSiR Tychy — Stadion Zimowy", 900),
			parking("Strefa Płatnego Parkowania Tychy", 300),
			office("Urząd Miasta Tychy"),
			culture("Teatr Mały w Tychach", 4000, 3000),
			small(culture("Muzeum Miejskie w Tychach", 800, 500)),
		}},
		{code: "MIK", name: "Mikołów", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Mikołowie"),
			pool("MOSiR Mikołów — Kryta pływalnia", 1000),
			office("Urząd Miejski w Mikołowie"),
			culture("Śląski Ogród Botaniczny", 1500, 1000),
		}},
		{code: "GLI", name: "Gliwice", institutions: []institutionSpec{
			transport("PKM Gliwice", siteBus),
			library("Miejska Biblioteka Publiczna w Gliwicach"),
			pool("MOSiR Gliwice — Kryta pływalnia Olimpijczyk", 1300),
			rink("MOSiR Gliwice — Lodowisko", 1000),
			large(parking("Strefa Płatnego Parkowania Gliwice", 400)),
			office("Urząd Miejski w Gliwicach"),
			culture("Muzeum w Gliwicach — Radiostacja Gliwice", 1200, 800),
			culture("Teatr Miejski w Gliwicach", 4000, 3000),
			culture("Palmiarnia Miejska w Gliwicach", 1000, 700),
		}},
		{code: "ZAB", name: "Zabrze", institutions: []institutionSpec{
			library("Miejska Biblioteka Publiczna w Zabrzu"),
			pool("MOSiR Zabrze — Kryta pływalnia", 1100),
			parking("Strefa Płatnego Parkowania Zabrze", 300),
			office("Urząd Miasta Zabrze"),
			culture("Muzeum Górnictwa Węglowego w Zabrzu", 1800, 1200),
			culture("Kopalnia Guido", 4500, 3500),
			culture("Sztolnia Królowa Luiza", 4500, 3500),
			culture("Teatr Nowy w Zabrzu", 3500, 2500),
			culture("Dom Muzyki i Tańca w Zabrzu", 8000, 6000),
		}},
	}
}
