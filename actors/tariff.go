package actors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"civicard/domain/purse"
	"civicard/domain/tariff"
	civicardv1 "civicard/messages/civicard/v1"

	"google.golang.org/protobuf/proto"
)

// Tariff is what the card grains price taps with: the fare engine of the
// region and the price list of every institution. It is built once per node
// and never changes; every node of a cluster must build the same one (its
// Version is recorded with every priced tap, so a difference shows).
type Tariff struct {
	Engine *tariff.Engine
	lists  map[string]*tariff.PriceList
	// Version is a digest of the region and the price lists.
	Version string
}

// NewTariff validates the region and every price list against it.
func NewTariff(region tariff.Region, lists []tariff.PriceList) (*Tariff, error) {
	engine, err := tariff.NewEngine(region)
	if err != nil {
		return nil, fmt.Errorf("actors: tariff: %w", err)
	}
	p := &Tariff{Engine: engine, lists: make(map[string]*tariff.PriceList, len(lists))}
	var errs []error
	for i := range lists {
		list := &lists[i]
		if err := list.Validate(engine.Region()); err != nil {
			errs = append(errs, err)
		}
		if _, dup := p.lists[list.InstitutionID]; dup {
			errs = append(errs, fmt.Errorf("two price lists of %s", list.InstitutionID))
		}
		p.lists[list.InstitutionID] = list
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("actors: tariff: %w", err)
	}
	// encoding/json writes struct fields in declaration order and the
	// lists in the order given: the same tariff, the same bytes.
	encoded, err := json.Marshal(struct {
		Region tariff.Region
		Lists  []tariff.PriceList
	}{region, lists})
	if err != nil {
		return nil, fmt.Errorf("actors: tariff: %w", err)
	}
	sum := sha256.Sum256(encoded)
	p.Version = hex.EncodeToString(sum[:8])
	return p, nil
}

// List returns the price list of an institution.
func (p *Tariff) List(institutionID string) (*tariff.PriceList, bool) {
	list, ok := p.lists[institutionID]
	return list, ok
}

// inputDecline reports whether the engine declined because of what the
// terminal sent (a product it does not sell, a quantity, a place or a time
// out of range): bad input, answered with INVALID_ARGUMENT and not recorded.
func inputDecline(d tariff.DeclineReason) bool {
	switch d {
	case tariff.DeclineNoProduct, tariff.DeclineQuantity, tariff.DeclineWhere, tariff.DeclineTime:
		return true
	}
	return false
}

// publicDecline maps a decline of the engine about the card to the API's
// reason.
func publicDecline(d tariff.Decision) civicardv1.DeclineReason {
	switch d.Decline {
	case tariff.DeclineAmount:
		return civicardv1.DeclineReason_DECLINE_REASON_AMOUNT
	case tariff.DeclineFull:
		return civicardv1.DeclineReason_DECLINE_REASON_CARD_FULL
	case tariff.DeclineLimit:
		switch d.Limit {
		case purse.ReasonTransactionNoPIN:
			return civicardv1.DeclineReason_DECLINE_REASON_LIMIT_TRANSACTION_NO_PIN
		case purse.ReasonBearerMonth:
			return civicardv1.DeclineReason_DECLINE_REASON_LIMIT_BEARER_MONTH
		default:
			return civicardv1.DeclineReason_DECLINE_REASON_LIMIT_TRANSACTION
		}
	}
	return civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED
}

// TerminalTariff is what the terminals of an institution are told of its
// prices (GetTariff), with its version: a digest of exactly those bytes, so
// a terminal fetches it again only when something it shows or prices by
// changed.
func (p *Tariff) TerminalTariff(institutionID string, money func(int64) *civicardv1.Money) (*civicardv1.TerminalTariff, string, error) {
	list, ok := p.lists[institutionID]
	if !ok {
		return nil, "", fmt.Errorf("no price list for institution %q", institutionID)
	}
	region := p.Engine.Region()
	out := &civicardv1.TerminalTariff{InstitutionId: institutionID, NoPinLimit: money(region.Purse.TransactionMaxMinor)}
	for _, prod := range list.Products {
		tp := &civicardv1.TariffProduct{Code: prod.Code, Name: prod.Name, Rule: prod.Rule.String(), Price: money(prod.PriceMinor), Minutes: prod.Minutes}
		if prod.Rule == tariff.RuleDistance {
			// Bands never fall: the last is the most a check-in takes.
			bands := region.Network.Bands
			tp.Price = money(bands[len(bands)-1].PriceMinor)
		}
		if prod.CeilingMinor > 0 {
			tp.Ceiling = money(prod.CeilingMinor)
		}
		out.Products = append(out.Products, tp)
	}
	encoded, err := proto.MarshalOptions{Deterministic: true}.Marshal(out)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(encoded)
	return out, hex.EncodeToString(sum[:16]), nil
}
