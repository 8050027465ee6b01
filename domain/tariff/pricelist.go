package tariff

import (
	"errors"
	"fmt"

	civicardv1 "civicard/messages/civicard/v1"
)

// ErrPriceList is wrapped by the errors of PriceList.Validate.
var ErrPriceList = errors.New("tariff: invalid price list")

// Rule says how a product is priced. Every service of every kind of
// institution is one of these; there is no other price list.
type Rule uint8

const (
	ruleNone Rule = iota
	// RuleUnit: PriceMinor × quantity, at most CeilingMinor when set. Office
	// fees, culture tickets, printing, a library fine (quantity = days
	// overdue), parking bought ahead in quarters.
	RuleUnit
	// RuleDistance: check-in/check-out on the region's network. At check-in
	// the fare to the end of the line; at check-out the difference to the
	// fare of the distance travelled comes back.
	RuleDistance
	// RuleTimeTicket: a zone-time ticket valid Minutes from the tap;
	// transport taps within that time ride free (transfers).
	RuleTimeTicket
	// RuleDuration: tap in, tap out; PriceMinor per started Minutes of the
	// stay, at most CeilingMinor per started 24 hours. Pools, rinks, gyms,
	// parking by the stay.
	RuleDuration
	// RulePass: sells a season pass valid Days days on Lines (all lines of
	// the network when empty). A transport tap covered by a valid pass is
	// accepted at zero and recorded.
	RulePass
	ruleEnd
)

var ruleNames = [...]string{ruleNone: "none", RuleUnit: "unit", RuleDistance: "distance", RuleTimeTicket: "time-ticket", RuleDuration: "duration", RulePass: "pass"}

func (r Rule) String() string {
	if r < ruleEnd {
		return ruleNames[r]
	}
	return fmt.Sprintf("Rule(%d)", r)
}

// Bounds of a price list, so that a price list is small and every product
// of two prices fits an int64 with room to spare.
const (
	ProductsMax         = 64
	ProductLinesMax     = 8
	ProductConcessions  = 8
	codeBytesMax        = 32
	nameBytesMax        = 128
	priceMaxMinor       = amountMaxMinorCeiling // 100 000 PLN
	minutesMax          = 7 * 24 * 60
	passDaysMax         = 366
	durationCeilingDays = 31 // a stay is priced for at most this many days
)

// Product is one entry of a price list.
type Product struct {
	// Code is unique within the price list, e.g. "RIDE-20MIN", "CICO".
	Code string
	// Name is what the holder reads, e.g. "Bilet 20-minutowy".
	Name string
	Rule Rule
	// PriceMinor: per unit (RuleUnit), the ticket (RuleTimeTicket), per
	// started step (RuleDuration), the pass (RulePass). Unused by
	// RuleDistance, whose prices are the network's bands.
	PriceMinor int64
	// Minutes: the validity of a time ticket, or the step of a stay.
	Minutes uint32
	// CeilingMinor: the most one purchase costs (RuleUnit, e.g. a fine's
	// maximum) or one started 24 hours of a stay (RuleDuration, the daily
	// maximum of a car park). 0: no ceiling.
	CeilingMinor int64
	// Days: how long a pass is valid, counting the first day.
	Days uint32
	// Lines a pass covers; empty: the whole network.
	Lines []string
	// Concessions lists the region-wide concessions this product honours,
	// by code: the institution's choice under the common pricing policy.
	Concessions []string
	// Capped: the product counts towards the region's daily and weekly fare
	// caps and is free once a cap is reached.
	Capped bool
}

// PriceList is what one institution sells.
type PriceList struct {
	InstitutionID string
	Kind          civicardv1.ServiceKind
	// Products in the order the institution lists them; the first is what a
	// plain tap buys.
	Products []Product
}

// Product returns the product of the given code; "" is the first.
func (p *PriceList) Product(code string) (*Product, bool) {
	if p == nil || len(p.Products) == 0 {
		return nil, false
	}
	if code == "" {
		return &p.Products[0], true
	}
	for i := range p.Products {
		if p.Products[i].Code == code {
			return &p.Products[i], true
		}
	}
	return nil, false
}

// Validate checks a price list against the region it will be priced in:
// concessions and lines must exist there.
func (p *PriceList) Validate(r *Region) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w %s: %s", ErrPriceList, p.InstitutionID, fmt.Sprintf(format, args...)))
	}
	if p.InstitutionID == "" {
		bad("no institution id")
	}
	if len(p.Products) == 0 || len(p.Products) > ProductsMax {
		bad("%d products, want 1 to %d", len(p.Products), ProductsMax)
	}
	seen := make(map[string]bool, len(p.Products))
	for i := range p.Products {
		pr := &p.Products[i]
		if pr.Code == "" || len(pr.Code) > codeBytesMax || len(pr.Name) > nameBytesMax {
			bad("product %d: code %q or name too long or empty", i, pr.Code)
		}
		if seen[pr.Code] {
			bad("product %s listed twice", pr.Code)
		}
		seen[pr.Code] = true
		if pr.Rule == ruleNone || pr.Rule >= ruleEnd {
			bad("product %s: no rule", pr.Code)
		}
		if pr.Rule != RuleDistance && (pr.PriceMinor < 1 || pr.PriceMinor > priceMaxMinor) {
			bad("product %s: price %d outside [1, %d]", pr.Code, pr.PriceMinor, priceMaxMinor)
		}
		if pr.CeilingMinor < 0 || pr.CeilingMinor > priceMaxMinor || (pr.CeilingMinor > 0 && pr.CeilingMinor < pr.PriceMinor) {
			bad("product %s: ceiling %d below the price or outside [0, %d]", pr.Code, pr.CeilingMinor, priceMaxMinor)
		}
		switch pr.Rule {
		case RuleTimeTicket, RuleDuration:
			if pr.Minutes < 1 || pr.Minutes > minutesMax {
				bad("product %s: %d minutes outside [1, %d]", pr.Code, pr.Minutes, minutesMax)
			}
		case RulePass:
			if pr.Days < 1 || pr.Days > passDaysMax {
				bad("product %s: %d days outside [1, %d]", pr.Code, pr.Days, passDaysMax)
			}
		}
		if (pr.Rule == RuleDistance || pr.Rule == RulePass || pr.Rule == RuleTimeTicket) && p.Kind != civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT {
			bad("product %s: a %s product outside public transport", pr.Code, pr.Rule)
		}
		if len(pr.Lines) > ProductLinesMax {
			bad("product %s: %d lines, at most %d", pr.Code, len(pr.Lines), ProductLinesMax)
		}
		for _, l := range pr.Lines {
			if r.line(l) == nil {
				bad("product %s: no line %q in the network", pr.Code, l)
			}
		}
		if len(pr.Concessions) > ProductConcessions {
			bad("product %s: %d concessions, at most %d", pr.Code, len(pr.Concessions), ProductConcessions)
		}
		for _, c := range pr.Concessions {
			if r.concession(c) == nil {
				bad("product %s: no concession %q in the region", pr.Code, c)
			}
		}
	}
	return errors.Join(errs...)
}
