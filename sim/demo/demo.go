package demo

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"civicard/domain/cardno"
	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
)

// Dataset is a generated city. Treat it as read-only: Commands hands out its
// Institution and Terminal messages, not copies.
type Dataset struct {
	// Institutions, sorted by id. Each has at least one service; the first
	// is its default.
	Institutions []*civicardv1.Institution
	// Terminals, sorted by id; each belongs to one of Institutions.
	Terminals []TerminalSeed
	// Cards, sorted by id.
	Cards []CardSeed
}

// TerminalSeed is a terminal with the credential it authenticates with.
type TerminalSeed struct {
	// Terminal as the ledger stores it: CredentialSha256 is the SHA-256 of
	// the bytes of Credential.
	Terminal *civicardv1.Terminal
	// Credential is the terminal's secret, Credential(key, terminal id).
	// It goes to the terminal, never to the ledger.
	Credential string
}

// CardSeed is a card as it is opened, with its starting balance.
type CardSeed struct {
	// CardID is a valid card number (cardno.Valid).
	CardID string
	// Kind is personal or bearer.
	Kind civicardv1.CardKind
	// HolderName is empty for bearer cards.
	HolderName string
	// BalanceMinor is the first top-up in grosz, 0 for none.
	BalanceMinor int64
}

// Shares and amounts of the generated cards.
const (
	personalPercent  = 70 // the rest are bearer cards
	womenPercent     = 52 // of personal cards
	toppedUpPercent  = 40 // start with a balance
	balanceZlotyMin  = 5
	balanceZlotyMax  = 50
	groszPerZloty    = 100
	cardBodyPrefix   = 32 * 1_000_000_000 // "32", the area code of Katowice, then a 9-digit serial
	cardSerialGapMax = 100                // CardsMax * cardSerialGapMax <= 10^9 serials
	cardSerials      = 1_000_000_000
	// demoBankSortCode is the bank every demo institution banks with.
	demoBankSortCode = "10205561"
)

// The largest serial, (cardSerialGapMax-1) + (CardsMax-1)*cardSerialGapMax,
// is below cardSerials; this fails to compile if a change breaks that.
const _ = uint64(cardSerials - CardsMax*cardSerialGapMax)

// PCG streams, one per part of the city, so that the cards do not depend on
// the terminals and a smaller run is a prefix of a larger one. Both are
// seeded from Config.Seed and a fixed stream number.
const (
	streamTerminals = 0x7465726d696e616c // "terminal"
	streamCards     = 0x6361726473000000 // "cards"
)

// Generate builds the city of cfg. The same cfg gives an equal Dataset.
func Generate(cfg Config) (*Dataset, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	towns := catalogue()
	institutions, specs := buildInstitutions(towns)
	terminals := buildTerminals(rand.New(rand.NewPCG(cfg.Seed, streamTerminals)), towns, institutions, specs, cfg.CredentialKey)
	cards, err := buildCards(rand.New(rand.NewPCG(cfg.Seed, streamCards)), cfg.Cards)
	if err != nil {
		return nil, err
	}
	return &Dataset{Institutions: institutions, Terminals: terminals, Cards: cards}, nil
}

// Credential returns the credential of a terminal: the lowercase hex of
// HMAC-SHA256(key, terminalID). It is a pure function of its arguments, so an
// installation can hand a terminal its credential again without storing it.
func Credential(key []byte, terminalID string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(terminalID))
	return hex.EncodeToString(mac.Sum(nil))
}

// placed is an institution with what its terminals need to know.
type placed struct {
	town string // the town's name
	spec institutionSpec
}

// buildInstitutions numbers the catalogue's institutions per town and kind
// ("KAT-LIB-01", "KAT-LIB-02") and sorts them by id. specs is keyed by id.
func buildInstitutions(towns []town) ([]*civicardv1.Institution, map[string]placed) {
	var out []*civicardv1.Institution
	specs := make(map[string]placed)
	for _, t := range towns {
		numbers := make(map[civicardv1.ServiceKind]int)
		for _, spec := range t.institutions {
			numbers[spec.kind]++
			id := fmt.Sprintf("%s-%s-%02d", t.code, kindCode(spec.kind), numbers[spec.kind])
			out = append(out, &civicardv1.Institution{
				InstitutionId: id,
				Name:          spec.name,
				Town:          t.name,
				Kind:          spec.kind,
				Services:      spec.services,
			})
			specs[id] = placed{town: t.name, spec: spec}
		}
	}
	slices.SortFunc(out, func(a, b *civicardv1.Institution) int { return cmp.Compare(a.InstitutionId, b.InstitutionId) })
	// Every institution is paid to its own account at one bank: valid
	// Polish IBANs, numbered in id order.
	for i, inst := range out {
		iban, err := payout.PolishIBAN(demoBankSortCode, fmt.Sprintf("%016d", 7_000_000_000+i))
		if err != nil {
			panic(err) // a constant sort code and a 16-digit number: cannot fail
		}
		inst.Iban = iban
	}
	return out, specs
}

// buildTerminals gives each institution, in id order, its terminals. The
// order of draws from r is part of the city: see TestGolden.
func buildTerminals(r *rand.Rand, towns []town, institutions []*civicardv1.Institution, specs map[string]placed, key []byte) []TerminalSeed {
	townNames := make([]string, len(towns))
	for i, t := range towns {
		townNames[i] = t.name
	}
	words := locationWords{streets: streets(), stops: stops(), towns: townNames}
	var out []TerminalSeed
	for _, inst := range institutions {
		p := specs[inst.InstitutionId]
		n := p.spec.terminals
		if n == (span{}) {
			n = terminalSpan(p.spec.kind)
		}
		count := n.lo + r.IntN(n.hi-n.lo+1)
		locations := words.locations(r, p.spec.site, p.town, count)
		// Suffixes of one institution have one width (two digits at least)
		// so that its terminals sort by number.
		width := max(2, len(strconv.Itoa(count)))
		for i := range count {
			id := fmt.Sprintf("T-%s-%0*d", inst.InstitutionId, width, i+1)
			credential := Credential(key, id)
			digest := sha256.Sum256([]byte(credential))
			out = append(out, TerminalSeed{
				Terminal: &civicardv1.Terminal{
					TerminalId:       id,
					InstitutionId:    inst.InstitutionId,
					Location:         locations[i],
					CredentialSha256: digest[:],
				},
				Credential: credential,
			})
		}
	}
	// Already in order: institutions are sorted and an institution's
	// suffixes have one width. Sorting anyway keeps the promise if either
	// ever changes.
	slices.SortFunc(out, func(a, b TerminalSeed) int { return cmp.Compare(a.Terminal.TerminalId, b.Terminal.TerminalId) })
	return out
}

type locationWords struct {
	streets, stops, towns []string
}

// locations describes where count terminals of one institution stand. Fleet,
// branch and meter numbers increase with the terminal, so no two terminals of
// an institution share a location; a vehicle carries two validators, at its
// front and rear doors.
func (w locationWords) locations(r *rand.Rand, s site, town string, count int) []string {
	out := make([]string, count)
	number := 0
	next := func(start, stepMax int) int {
		if number == 0 {
			number = start + r.IntN(stepMax)
		} else {
			number += 1 + r.IntN(stepMax)
		}
		return number
	}
	// A vehicle's two validators: the front door's draws the vehicle (its
	// line and number), the rear door's is in the same one.
	var line int
	vehicle := func(i, lines, start, stepMax int) (int, int, string) {
		if i%2 == 1 {
			return line, number, "tylnych"
		}
		line = 1 + r.IntN(lines)
		return line, next(start, stepMax), "przednich"
	}
	street := func() string { return w.streets[r.IntN(len(w.streets))] }
	for i := range out {
		switch s {
		case siteBus:
			l, n, door := vehicle(i, 299, 100, 4)
			out[i] = fmt.Sprintf("autobus linii %d, pojazd nr %d, kasownik przy drzwiach %s", l, n, door)
		case siteTram:
			l, n, door := vehicle(i, 43, 600, 3)
			out[i] = fmt.Sprintf("tramwaj linii %d, wagon nr %d, kasownik przy drzwiach %s", l, n, door)
		case siteTrolleybus:
			l, n, door := vehicle(i, 5, 100, 2)
			out[i] = fmt.Sprintf("trolejbus linii %c, pojazd nr %d, kasownik przy drzwiach %s", "ABDEG"[l-1], n, door)
		case siteTrain:
			_, n, door := vehicle(i, 1, 1, 2)
			out[i] = fmt.Sprintf("pociąg, zespół trakcyjny EN76-%03d, kasownik przy drzwiach %s", n, door)
		case siteTicketMachine:
			out[i] = fmt.Sprintf("biletomat nr %d, przystanek %s %s", next(1, 20), w.towns[r.IntN(len(w.towns))], w.stops[r.IntN(len(w.stops))])
		case siteLibrary:
			if i == 0 {
				out[i] = fmt.Sprintf("%s, ul. %s %d, Biblioteka Główna — wypożyczalnia", town, street(), 1+r.IntN(60))
			} else {
				out[i] = fmt.Sprintf("%s, ul. %s %d, Filia nr %d", town, street(), 1+r.IntN(120), next(1, 3))
			}
		case siteSport:
			out[i] = fmt.Sprintf("%s nr %d", []string{"kasa", "bramka wejściowa", "automat przy wejściu"}[r.IntN(3)], i+1)
		case siteParking:
			out[i] = fmt.Sprintf("%s, parkomat nr %d, ul. %s", town, next(1, 40), street())
		case siteOffice:
			out[i] = fmt.Sprintf("%s nr %d", []string{"Biuro Obsługi Mieszkańców, stanowisko", "kasa", "Urząd Stanu Cywilnego, stanowisko", "Wydział Komunikacji, stanowisko"}[r.IntN(4)], i+1)
		case siteCulture:
			out[i] = fmt.Sprintf("%s nr %d", []string{"kasa biletowa", "kasa biletowa", "sklep", "punkt informacji"}[r.IntN(4)], i+1)
		default:
			out[i] = fmt.Sprintf("%s, stanowisko nr %d", town, i+1)
		}
	}
	return out
}

// buildCards issues n cards. Card numbers are "32", a 9-digit serial that
// grows by 1 to cardSerialGapMax from card to card, and a check digit: unique
// and sorted without a set or a sort, for any n up to CardsMax. Each card
// draws from r in the same order whatever n is, so the first k cards of any
// run of the seed are the same.
func buildCards(r *rand.Rand, n int) ([]CardSeed, error) {
	women, men, names := womenFirstNames(), menFirstNames(), surnames()
	out := make([]CardSeed, n)
	serial := uint64(r.IntN(cardSerialGapMax))
	for i := range out {
		if i > 0 {
			serial += 1 + uint64(r.IntN(cardSerialGapMax))
		}
		if serial >= cardSerials { // cannot happen for n <= CardsMax; checked, not assumed
			return nil, fmt.Errorf("demo: card serial %d out of range at card %d", serial, i)
		}
		id, err := cardno.Make(cardBodyPrefix + serial)
		if err != nil {
			return nil, fmt.Errorf("demo: card %d: %w", i, err)
		}
		c := CardSeed{CardID: id, Kind: civicardv1.CardKind_CARD_KIND_BEARER}
		if r.IntN(100) < personalPercent {
			c.Kind = civicardv1.CardKind_CARD_KIND_PERSONAL
			s := names[r.IntN(len(names))]
			if r.IntN(100) < womenPercent {
				c.HolderName = women[r.IntN(len(women))] + " " + s.woman
			} else {
				c.HolderName = men[r.IntN(len(men))] + " " + s.man
			}
		}
		if r.IntN(100) < toppedUpPercent {
			c.BalanceMinor = int64(balanceZlotyMin+r.IntN(balanceZlotyMax-balanceZlotyMin+1)) * groszPerZloty
		}
		out[i] = c
	}
	return out, nil
}
