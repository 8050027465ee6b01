package ledger

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// The tariff as data: the region (the fare engine's common pricing policy:
// concessions, network and fare bands, caps, journey rules, e-purse
// limits) and each institution's price list, set by operators and
// numbered. The registry numbers each set one more than the last; the
// shards, which price the taps of their cards, follow it with its numbers,
// and a priced charge names the versions it was priced under, so that a tap
// priced by a list that was replaced meanwhile is refused as stale (priced
// again by the grain) rather than charged at the old price.
//
// The ledger holds the records to their bounds and checks what it can see
// (the institution exists, the kinds agree, the region comes first); that
// a list prices under the region is the fare engine's check, made before a
// command is proposed (the ledger does not import the engine, so that what
// it accepts never depends on the engine's version).

// Bounds of the tariff records. The fare engine's are tighter; these only
// stop a command from storing an unbounded record.
const (
	regionBytesMax      = 1 << 20
	regionListMax       = 256 // concessions, lines, stops of a line, bands
	productsMax         = 64
	productListMax      = 8 // lines and concessions of a product
	tariffCodeBytesMax  = 64
	tariffVersionMaxSet = 1 << 53 // far beyond any count of sets; keeps versions exact in JSON
)

// tariffState is what a ledger holds of the tariff. Records are replaced
// whole on a set, never mutated, so Freeze and readers may share them.
type tariffState struct {
	// region is nil before the first SetRegion.
	region *ledgerv1.RegionRecord
	// priceLists by institution id. Invariant: each names a registered
	// institution, of the same kind.
	priceLists map[string]*ledgerv1.PriceListRecord
}

// Region returns a copy of the region record, nil before the first set.
func (s *State) Region() *ledgerv1.RegionRecord {
	if s.tariff.region == nil {
		return nil
	}
	return proto.Clone(s.tariff.region).(*ledgerv1.RegionRecord)
}

// PriceList returns a copy of an institution's price list record.
func (s *State) PriceList(institutionID string) (*ledgerv1.PriceListRecord, bool) {
	rec, ok := s.tariff.priceLists[institutionID]
	if !ok {
		return nil, false
	}
	return proto.Clone(rec).(*ledgerv1.PriceListRecord), true
}

// Tariff returns copies of the region and of the price list of
// institutionID ("" none), or of every price list (all), in institution id
// order.
func (s *State) Tariff(institutionID string, all bool) *ledgerv1.TariffRecords {
	out := &ledgerv1.TariffRecords{Region: s.Region()}
	if all {
		for _, rec := range s.tariff.sortedLists() {
			out.PriceLists = append(out.PriceLists, proto.Clone(rec).(*ledgerv1.PriceListRecord))
		}
	} else if rec, ok := s.PriceList(institutionID); ok {
		out.PriceLists = []*ledgerv1.PriceListRecord{rec}
	}
	return out
}

func (t *tariffState) sortedLists() []*ledgerv1.PriceListRecord {
	out := make([]*ledgerv1.PriceListRecord, 0, len(t.priceLists))
	for _, rec := range t.priceLists {
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b *ledgerv1.PriceListRecord) int {
		return cmp.Compare(a.GetPriceList().GetInstitutionId(), b.GetPriceList().GetInstitutionId())
	})
	return out
}

// nextVersion is the version a set takes: one more than held (asked = 0,
// the registry) or the registry's number (a shard following it). held is
// false when asked is not newer than what is held: the set changes nothing.
func nextVersion(held, asked uint64) (uint64, bool) {
	switch {
	case asked == 0:
		return held + 1, true
	case asked > held:
		return asked, true
	}
	return held, false
}

func (s *State) setRegion(cmd *ledgerv1.SetRegion) *ledgerv1.Result {
	if err := checkAudit(cmd.GetAudit(), true); err != nil {
		return invalid("region: %v", err)
	}
	if err := checkRegion(cmd.GetRegion(), s.cfg.AmountMaxMinor); err != nil {
		return invalid("region: %v", err)
	}
	if cmd.GetVersion() > tariffVersionMaxSet {
		return invalid("region version %d is absurd", cmd.GetVersion())
	}
	version, changes := nextVersion(s.tariff.region.GetVersion(), cmd.GetVersion())
	if changes {
		s.tariff.region = &ledgerv1.RegionRecord{
			Region:  withoutUnknown(cmd.GetRegion()),
			Version: version,
			Audit:   copyAudit(cmd.GetAudit()),
		}
	}
	return &ledgerv1.Result{Status: ledgerv1.Status_STATUS_OK, TariffVersion: version}
}

func (s *State) setPriceList(cmd *ledgerv1.SetPriceList) *ledgerv1.Result {
	list := cmd.GetPriceList()
	if err := checkAudit(cmd.GetAudit(), true); err != nil {
		return invalid("price list: %v", err)
	}
	if list == nil {
		return invalid("price list is missing")
	}
	id := list.GetInstitutionId()
	if err := checkText("price list institution id", id, institutionIDBytesMax, true); err != nil {
		return invalid("%v", err)
	}
	if err := checkPriceList(list, s.cfg.AmountMaxMinor); err != nil {
		return invalid("price list of %s: %v", clip(id), err)
	}
	if cmd.GetVersion() > tariffVersionMaxSet {
		return invalid("price list version %d is absurd", cmd.GetVersion())
	}
	inst, ok := s.institutions[id]
	if !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "price list of %s: institution not found", clip(id))
	}
	if want := inst.rec.GetKind(); list.GetKind() != want {
		return invalid("price list of %s is for %s, the institution is %s", clip(id), list.GetKind(), want)
	}
	if s.tariff.region == nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "price list of %s: no region is set yet; set the region first", clip(id))
	}
	version, changes := nextVersion(s.tariff.priceLists[id].GetVersion(), cmd.GetVersion())
	if changes {
		if s.tariff.priceLists == nil {
			s.tariff.priceLists = map[string]*ledgerv1.PriceListRecord{}
		}
		s.tariff.priceLists[id] = &ledgerv1.PriceListRecord{
			PriceList: withoutUnknown(list),
			Version:   version,
			Audit:     copyAudit(cmd.GetAudit()),
		}
	}
	return &ledgerv1.Result{Status: ledgerv1.Status_STATUS_OK, TariffVersion: version}
}

// staleTariff is the answer to a priced command decided under a region
// (regionVersion) or an institution's price list (listVersion) the ledger
// no longer holds; nil when both are current or not named (0).
func (s *State) staleTariff(c *card, regionVersion uint64, institutionID string, listVersion uint64) *ledgerv1.Result {
	var why string
	if held := s.tariff.region.GetVersion(); regionVersion != 0 && regionVersion != held {
		why = fmt.Sprintf("the region is at version %d, not %d", held, regionVersion)
	} else if held := s.tariff.priceLists[institutionID].GetVersion(); listVersion != 0 && listVersion != held {
		why = fmt.Sprintf("the price list of %s is at version %d, not %d", clip(institutionID), held, listVersion)
	} else {
		return nil
	}
	return &ledgerv1.Result{
		Status: ledgerv1.Status_STATUS_STALE_VERSION,
		Card:   c.state(),
		Error:  why + "; read the tariff again and decide again",
	}
}

// checkRegion holds a region record to its bounds.
func checkRegion(r *ledgerv1.TariffRegion, amountMaxMinor int64) error {
	if r == nil {
		return fmt.Errorf("region is missing")
	}
	if n := proto.Size(r); n > regionBytesMax {
		return fmt.Errorf("%d bytes, at most %d", n, regionBytesMax)
	}
	c := checker{amountMaxMinor: amountMaxMinor}
	c.count("concessions", len(r.GetConcessions()), regionListMax)
	for _, k := range r.GetConcessions() {
		c.text("concession code", k.GetCode(), tariffCodeBytesMax, true)
		c.text("concession name", k.GetName(), textBytesMax, false)
	}
	c.count("lines", len(r.GetLines()), regionListMax)
	for _, l := range r.GetLines() {
		c.text("line id", l.GetId(), tariffCodeBytesMax, true)
		c.text("line name", l.GetName(), textBytesMax, false)
		c.text("line operator", l.GetInstitutionId(), institutionIDBytesMax, true)
		c.count("stops of line "+clip(l.GetId()), len(l.GetStops()), regionListMax)
		for _, st := range l.GetStops() {
			c.text("stop id", st.GetId(), tariffCodeBytesMax, true)
			c.text("stop name", st.GetName(), textBytesMax, false)
		}
	}
	c.count("fare bands", len(r.GetBands()), regionListMax)
	for _, b := range r.GetBands() {
		c.amount("band price", b.GetPriceMinor())
	}
	c.amount("daily cap", r.GetCapping().GetDailyMinor())
	c.amount("weekly cap", r.GetCapping().GetWeeklyMinor())
	c.count("capping concessions", len(r.GetCapping().GetConcessions()), regionListMax)
	for _, code := range r.GetCapping().GetConcessions() {
		c.text("capping concession", code, tariffCodeBytesMax, true)
	}
	p := r.GetPurse()
	for _, a := range []int64{p.GetBalanceMaxMinor(), p.GetTransactionMaxMinor(), p.GetTransactionPinMaxMinor(), p.GetBearerMonthMaxMinor(), p.GetTopUpYearMaxMinor()} {
		if a < 0 {
			c.fail("a negative e-purse limit %d", a)
		}
	}
	if a := r.GetLimits().GetAmountMaxMinor(); a < 0 {
		c.fail("a negative purchase limit %d", a)
	}
	return c.err
}

// checkPriceList holds a price list record to its bounds.
func checkPriceList(l *ledgerv1.PriceList, amountMaxMinor int64) error {
	c := checker{amountMaxMinor: amountMaxMinor}
	if k := l.GetKind(); k == civicardv1.ServiceKind_SERVICE_KIND_UNSPECIFIED || civicardv1.ServiceKind_name[int32(k)] == "" {
		c.fail("service kind %d is not specified", k)
	}
	if n := len(l.GetProducts()); n < 1 || n > productsMax {
		c.fail("%d products, want 1 to %d", n, productsMax)
	}
	seen := make(map[string]bool, len(l.GetProducts()))
	for _, p := range l.GetProducts() {
		c.text("product code", p.GetCode(), tariffCodeBytesMax, true)
		if c.err != nil {
			return c.err
		}
		code := clip(p.GetCode())
		if seen[p.GetCode()] {
			c.fail("product %s listed twice", code)
		}
		seen[p.GetCode()] = true
		c.text("product "+code+" name", p.GetName(), textBytesMax, false)
		if r := p.GetRule(); r == ledgerv1.TariffRule_TARIFF_RULE_UNSPECIFIED || ledgerv1.TariffRule_name[int32(r)] == "" {
			c.fail("product %s: rule %d is not specified", code, r)
		}
		c.amount("product "+code+" price", p.GetPriceMinor())
		c.amount("product "+code+" ceiling", p.GetCeilingMinor())
		c.count("lines of product "+code, len(p.GetLines()), productListMax)
		for _, line := range p.GetLines() {
			c.text("product "+code+" line", line, tariffCodeBytesMax, true)
		}
		c.count("concessions of product "+code, len(p.GetConcessions()), productListMax)
		for _, k := range p.GetConcessions() {
			c.text("product "+code+" concession", k, tariffCodeBytesMax, true)
		}
	}
	return c.err
}

// checker collects the first failure of a record's checks.
type checker struct {
	amountMaxMinor int64
	err            error
}

func (c *checker) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func (c *checker) text(field, s string, bytesMax int, required bool) {
	if c.err == nil {
		c.err = checkText(field, s, bytesMax, required)
	}
}

func (c *checker) count(what string, n, most int) {
	if n > most {
		c.fail("%d %s, at most %d", n, what, most)
	}
}

func (c *checker) amount(what string, minor int64) {
	if minor < 0 || minor > c.amountMaxMinor {
		c.fail("%s %d outside [0, %d]", what, minor, c.amountMaxMinor)
	}
}

// withoutUnknown copies a record without the unknown fields a command may
// carry: a snapshot drops them, and a restored ledger must digest like the
// one it was taken from.
func withoutUnknown[M proto.Message](m M) M {
	out := m.ProtoReflect().New().Interface().(M)
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err == nil {
		err = proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(wire, out)
	}
	if err != nil {
		// Every string was checked to be valid UTF-8: marshalling a
		// checked record cannot fail. Should it, the record is cloned and
		// keeps what it has.
		return proto.Clone(m).(M)
	}
	return out
}

func copyAudit(a *civicardv1.Audit) *civicardv1.Audit {
	if a == nil {
		return nil
	}
	return &civicardv1.Audit{Actor: a.GetActor(), Reason: a.GetReason(), TimeUnixMs: a.GetTimeUnixMs()}
}

// conflicts reports whether cmd reuses the id of a stored result first
// applied with another command.
func conflicts(first *ledgerv1.Result, cmd *ledgerv1.Command) bool {
	want := first.GetCommandSha256()
	return len(want) > 0 && !bytes.Equal(want, commandDigest(cmd))
}

// checkTariffRecords checks the tariff's invariants: every price list
// names a registered institution of its kind, and none comes without a
// region.
func (s *State) checkTariffRecords() error {
	if len(s.tariff.priceLists) > 0 && s.tariff.region == nil {
		return fmt.Errorf("%d price lists but no region", len(s.tariff.priceLists))
	}
	for _, rec := range s.tariff.sortedLists() {
		id := rec.GetPriceList().GetInstitutionId()
		inst, ok := s.institutions[id]
		switch {
		case !ok:
			return fmt.Errorf("price list of unknown institution %s", clip(id))
		case inst.rec.GetKind() != rec.GetPriceList().GetKind():
			return fmt.Errorf("price list of %s is for %s, the institution is %s", clip(id), rec.GetPriceList().GetKind(), inst.rec.GetKind())
		case s.tariff.priceLists[id] != rec:
			return fmt.Errorf("price list of %s is filed under another id", clip(id))
		case rec.GetVersion() < 1:
			return fmt.Errorf("price list of %s has version 0", clip(id))
		}
	}
	return nil
}

// restoreRegion and restorePriceList read the tariff's snapshot records.
func (s *State) restoreRegion(rec *ledgerv1.RegionRecord) error {
	if err := checkRegion(rec.GetRegion(), s.cfg.AmountMaxMinor); err != nil {
		return fmt.Errorf("region: %w", err)
	}
	if err := checkAudit(rec.GetAudit(), true); err != nil {
		return fmt.Errorf("region: %w", err)
	}
	if rec.GetVersion() < 1 {
		return fmt.Errorf("region of version 0")
	}
	s.tariff.region = rec
	return nil
}

func (s *State) restorePriceList(rec *ledgerv1.PriceListRecord) error {
	list := rec.GetPriceList()
	id := list.GetInstitutionId()
	if err := checkText("price list institution id", id, institutionIDBytesMax, true); err != nil {
		return err
	}
	if err := checkPriceList(list, s.cfg.AmountMaxMinor); err != nil {
		return fmt.Errorf("price list of %s: %w", clip(id), err)
	}
	if err := checkAudit(rec.GetAudit(), true); err != nil {
		return fmt.Errorf("price list of %s: %w", clip(id), err)
	}
	if _, ok := s.institutions[id]; !ok {
		return fmt.Errorf("price list of unknown institution %s", clip(id))
	}
	if s.tariff.priceLists == nil {
		s.tariff.priceLists = map[string]*ledgerv1.PriceListRecord{}
	}
	s.tariff.priceLists[id] = rec
	return nil
}
