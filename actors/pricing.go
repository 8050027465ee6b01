package actors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/purse"
	"civicard/tariff"
)

// Pricing is what the card grains price taps with: the fare engine of the
// region and the price list of every institution. It is built once per node
// and never changes; every node of a cluster must build the same one (its
// Version is recorded with every priced tap, so a difference shows).
type Pricing struct {
	Engine *tariff.Engine
	lists  map[string]*tariff.PriceList
	// Version is a digest of the region and the price lists.
	Version string
}

// NewPricing validates the region and every price list against it.
func NewPricing(region tariff.Region, lists []tariff.PriceList) (*Pricing, error) {
	engine, err := tariff.NewEngine(region)
	if err != nil {
		return nil, fmt.Errorf("actors: pricing: %w", err)
	}
	p := &Pricing{Engine: engine, lists: make(map[string]*tariff.PriceList, len(lists))}
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
		return nil, fmt.Errorf("actors: pricing: %w", err)
	}
	// encoding/json writes struct fields in declaration order and the
	// lists in the order given: the same tariff, the same bytes.
	encoded, err := json.Marshal(struct {
		Region tariff.Region
		Lists  []tariff.PriceList
	}{region, lists})
	if err != nil {
		return nil, fmt.Errorf("actors: pricing: %w", err)
	}
	sum := sha256.Sum256(encoded)
	p.Version = hex.EncodeToString(sum[:8])
	return p, nil
}

// List returns the price list of an institution.
func (p *Pricing) List(institutionID string) (*tariff.PriceList, bool) {
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
