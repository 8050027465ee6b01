package actors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"civicard/domain/purse"
	"civicard/domain/tariff"
	"civicard/domain/tariff/tariffpb"
	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"

	"google.golang.org/protobuf/proto"
)

// Tariffs is what the grains price with: the region and the institutions'
// price lists as the ledger holds them (operators set them: see package
// ledger, tariff_registry.go), read on first use and kept by version, one
// cache per node shared by its grains.
//
// A tap is priced under the versions in the cache, and its charge names
// them; the ledger refuses it as stale if either changed since (a set is
// acknowledged only once every shard has it), and the grain refreshes
// what it read and prices again. So a new price list costs one refused
// proposal per node and institution, and nothing per tap while it stands.
type Tariffs struct {
	ledger Ledger
	// loading lets one read of the ledger run at a time: the grains that
	// missed together wait for the first and find its answer.
	loading sync.Mutex
	// mu guards region and lists; every tap reads them.
	mu sync.RWMutex
	// region is the newest region read, nil before the first read.
	region *pricedRegion
	// lists are the newest price lists read that validated under region,
	// by institution: at most as many as the registry holds.
	lists map[string]versionedList
}

type pricedRegion struct {
	engine  *tariff.Engine
	version uint64
}

type versionedList struct {
	list    *tariff.PriceList
	version uint64
}

// InForce is the tariff in force for one decision: the engine of the
// region and the institution's price list, with their versions.
type InForce struct {
	Engine        *tariff.Engine
	RegionVersion uint64
	// List is the institution's price list; nil when none was asked for.
	List        *tariff.PriceList
	ListVersion uint64
}

// Version is how a charge records what it was priced under: "r2.p5" is
// region version 2, price list version 5.
func (p InForce) Version() string {
	if p.List == nil {
		return fmt.Sprintf("r%d", p.RegionVersion)
	}
	return fmt.Sprintf("r%d.p%d", p.RegionVersion, p.ListVersion)
}

// NewTariffs returns an empty cache over the ledger.
func NewTariffs(l Ledger) *Tariffs {
	return &Tariffs{ledger: l, lists: map[string]versionedList{}}
}

// errNoTariff is a tariff that is missing or does not price: the
// operators' to fix, not the terminal's or the card's.
type errNoTariff struct{ reason string }

func (e errNoTariff) Error() string { return e.reason }

// tariffError turns an error of InForce or Refresh into the grain error the
// gateway maps.
func tariffError(err error) error {
	var missing errNoTariff
	if errors.As(err, &missing) {
		return grainsv1.ErrFailedPrecondition("%s", missing.reason)
	}
	return grainsv1.ErrUnavailable("read the tariff: %v", err)
}

// InForce returns what a decision about cardID at institutionID ("" for
// the region alone) is made under: from the cache, or read from the ledger
// that settles cardID's commands (cardID "": the registry).
func (t *Tariffs) InForce(ctx context.Context, cardID, institutionID string) (InForce, error) {
	if p, ok := t.cached(institutionID); ok {
		return p, nil
	}
	return t.load(ctx, cardID, institutionID, nil)
}

// Refresh returns what to decide under after the ledger refused a decision
// made under stale as stale: what another grain read meanwhile, or what
// the ledger holds now.
func (t *Tariffs) Refresh(ctx context.Context, cardID, institutionID string, stale InForce) (InForce, error) {
	return t.load(ctx, cardID, institutionID, &stale)
}

func (t *Tariffs) load(ctx context.Context, cardID, institutionID string, stale *InForce) (InForce, error) {
	t.loading.Lock()
	defer t.loading.Unlock()
	if p, ok := t.cached(institutionID); ok && (stale == nil || p.RegionVersion != stale.RegionVersion || p.ListVersion != stale.ListVersion) {
		return p, nil
	}
	return t.read(ctx, cardID, institutionID)
}

func (t *Tariffs) cached(institutionID string) (InForce, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.region == nil {
		return InForce{}, false
	}
	p := InForce{Engine: t.region.engine, RegionVersion: t.region.version}
	if institutionID == "" {
		return p, true
	}
	l, ok := t.lists[institutionID]
	p.List, p.ListVersion = l.list, l.version
	return p, ok
}

// read reads the region and the institution's price list from the ledger,
// validates them and keeps them if they are the newest seen. A shard that
// lags the registry (one that missed a set) may hold older ones than the
// cache: those price its cards' taps, as its charges must be priced under
// what it holds, but are not kept.
func (t *Tariffs) read(ctx context.Context, cardID, institutionID string) (InForce, error) {
	recs, err := t.ledger.Tariff(ctx, cardID, institutionID)
	if err != nil {
		return InForce{}, err
	}
	rec := recs.GetRegion()
	if rec == nil {
		return InForce{}, errNoTariff{"no region is set: operators set it with `civicard admin tariff region set`"}
	}
	t.mu.RLock()
	region := t.region
	t.mu.RUnlock()
	if region == nil || region.version != rec.GetVersion() {
		engine, err := tariff.NewEngine(tariffpb.RegionFromProto(rec.GetRegion()))
		if err != nil {
			return InForce{}, errNoTariff{fmt.Sprintf("region version %d does not price: %v", rec.GetVersion(), err)}
		}
		region = &pricedRegion{engine: engine, version: rec.GetVersion()}
	}
	p := InForce{Engine: region.engine, RegionVersion: region.version}
	if institutionID != "" {
		if len(recs.GetPriceLists()) == 0 {
			t.keep(p, "")
			return InForce{}, errNoTariff{fmt.Sprintf("institution %s has no price list: operators set one with `civicard admin tariff set`", institutionID)}
		}
		listRec := recs.GetPriceLists()[0]
		list := tariffpb.PriceListFromProto(listRec.GetPriceList())
		if err := list.Validate(region.engine.Region()); err != nil {
			return InForce{}, errNoTariff{fmt.Sprintf("price list version %d of %s does not price under region version %d: %v", listRec.GetVersion(), institutionID, region.version, err)}
		}
		p.List, p.ListVersion = &list, listRec.GetVersion()
	}
	t.keep(p, institutionID)
	return p, nil
}

// keep caches what was read if it is the newest seen. A newer region
// drops every list: each is validated again, under it, when next read.
func (t *Tariffs) keep(p InForce, institutionID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.region == nil || p.RegionVersion > t.region.version {
		t.region = &pricedRegion{engine: p.Engine, version: p.RegionVersion}
		clear(t.lists)
	}
	if p.RegionVersion != t.region.version || p.List == nil {
		return
	}
	if cur, ok := t.lists[institutionID]; !ok || p.ListVersion > cur.version {
		t.lists[institutionID] = versionedList{list: p.List, version: p.ListVersion}
	}
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
// prices (GetTariff), read from the registry each time (terminals ask
// rarely, and must learn of a new list), with its version: a digest of
// exactly those bytes, so a terminal fetches it again only when something
// it shows or prices by changed.
func (t *Tariffs) TerminalTariff(ctx context.Context, institutionID string, money func(int64) *civicardv1.Money) (*civicardv1.TerminalTariff, string, error) {
	p, err := t.read(ctx, "", institutionID)
	if err != nil {
		return nil, "", err
	}
	region := p.Engine.Region()
	out := &civicardv1.TerminalTariff{InstitutionId: institutionID, NoPinLimit: money(region.Purse.TransactionMaxMinor)}
	for _, prod := range p.List.Products {
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
