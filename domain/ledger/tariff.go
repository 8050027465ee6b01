package ledger

import (
	"errors"
	"fmt"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// Bounds of a card's tariff state and of a priced tap. The fare engine
// (package tariff, which the ledger does not import) keeps its state within
// smaller bounds; these only stop a command from storing an unbounded one.
const (
	tariffListMax     = 8  // entitlements, passes, incomplete journeys, pass lines
	tariffStaysMax    = 4  // open stays
	correctionDaysMax = 31 // granted corrections kept for the 30-day rule
	postingsMax       = 8  // movements of one priced tap
	tariffTextMax     = 64 // codes and ids inside the tariff state
)

// priced reports whether a charge comes from the fare engine: it has
// postings, a tariff state, an engine decline or is a correction.
func priced(cmd *ledgerv1.Charge) bool {
	return len(cmd.GetPostings()) > 0 || cmd.GetTariff() != nil ||
		cmd.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED || cmd.GetCorrection()
}

// checkTariff holds a tariff state to its bounds; nil is fine (unchanged).
func checkTariff(p *ledgerv1.TariffState) error {
	if p == nil {
		return nil
	}
	var errs []error
	text := func(field, s string) {
		if err := checkText(field, s, tariffTextMax, false); err != nil {
			errs = append(errs, err)
		}
	}
	count := func(what string, n, most int) {
		if n > most {
			errs = append(errs, fmt.Errorf("tariff state: %d %s, at most %d", n, what, most))
		}
	}
	count("entitlements", len(p.GetEntitlements()), tariffListMax)
	count("passes", len(p.GetPasses()), tariffListMax)
	count("stays", len(p.GetStays()), tariffStaysMax)
	count("incomplete journeys", len(p.GetIncomplete()), tariffListMax)
	count("correction days", len(p.GetCorrectionDays()), correctionDaysMax)
	for _, e := range p.GetEntitlements() {
		text("concession", e.GetConcession())
		text("issuer", e.GetIssuer())
		if e.GetFromDay() > e.GetUntilDay() {
			errs = append(errs, fmt.Errorf("tariff state: entitlement %s ends before it starts", clip(e.GetConcession())))
		}
	}
	for _, ps := range p.GetPasses() {
		text("pass product", ps.GetProduct())
		text("pass institution", ps.GetInstitutionId())
		count("pass lines", len(ps.GetLines()), tariffListMax)
		for _, l := range ps.GetLines() {
			text("pass line", l)
		}
	}
	text("ticket product", p.GetTicket().GetProduct())
	text("ticket institution", p.GetTicket().GetInstitutionId())
	for _, j := range append([]*ledgerv1.TariffJourney{p.GetJourney()}, p.GetIncomplete()...) {
		if err := checkText("journey id", j.GetId(), commandIDBytesMax, false); err != nil {
			errs = append(errs, err)
		}
		for _, s := range [...]string{j.GetInstitutionId(), j.GetProduct(), j.GetLine(), j.GetStop(), j.GetPass(), j.GetConcession()} {
			text("journey field", s)
		}
		if j.GetChargedMinor() < 0 || j.GetFareMaxMinor() < 0 {
			errs = append(errs, errors.New("tariff state: a journey with a negative fare"))
		}
		if d := j.GetDirection(); d < -1 || d > 1 {
			errs = append(errs, fmt.Errorf("tariff state: a journey in direction %d", d))
		}
	}
	for _, st := range p.GetStays() {
		if err := checkText("stay id", st.GetId(), commandIDBytesMax, false); err != nil {
			errs = append(errs, err)
		}
		text("stay institution", st.GetInstitutionId())
		text("stay product", st.GetProduct())
	}
	if c := p.GetCaps(); c.GetDaySpentMinor() < 0 || c.GetWeekSpentMinor() < 0 {
		errs = append(errs, errors.New("tariff state: negative cap counters"))
	}
	if p.GetPurse().GetYearTopUpMinor() < 0 {
		errs = append(errs, errors.New("tariff state: negative top-up counter"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid tariff state: %w", err)
	}
	return nil
}

// checkPricedCharge checks the shape of a priced charge: its texts, its
// postings (bounded, each amount within a purchase, summing to
// amount_minor) and its tariff state.
func (s *State) checkPricedCharge(cmd *ledgerv1.Charge) error {
	if err := checkText("terminal id", cmd.GetTerminalId(), terminalIDBytesMax, false); err != nil {
		return err
	}
	if err := checkText("service code", cmd.GetServiceCode(), serviceCodeBytesMax, false); err != nil {
		return err
	}
	if err := checkText("tariff version", cmd.GetTariffVersion(), tariffTextMax, false); err != nil {
		return err
	}
	if err := checkText("decline detail", cmd.GetDeclineDetail(), textBytesMax, false); err != nil {
		return err
	}
	if err := checkAudit(cmd.GetAudit(), false); err != nil {
		return err
	}
	if civicardv1.DeclineReason_name[int32(cmd.GetDeclineReason())] == "" {
		return fmt.Errorf("unknown decline reason %d", cmd.GetDeclineReason())
	}
	postings := cmd.GetPostings()
	if len(postings) > postingsMax {
		return fmt.Errorf("%d postings, at most %d", len(postings), postingsMax)
	}
	amountMax := s.cfg.AmountMaxMinor
	if a := cmd.GetAmountMinor(); a < -amountMax || a > amountMax {
		return fmt.Errorf("charge amount %d is outside [%d, %d]", a, -amountMax, amountMax)
	}
	if len(postings) == 0 && cmd.GetDeclineReason() == civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED {
		return errors.New("a priced charge without postings")
	}
	var sum int64
	for i, p := range postings {
		if err := checkText(fmt.Sprintf("posting %d institution id", i), p.GetInstitutionId(), institutionIDBytesMax, true); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("posting %d product", i), p.GetProduct(), serviceCodeBytesMax, false); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("posting %d what", i), p.GetWhat(), tariffTextMax, false); err != nil {
			return err
		}
		if a := p.GetAmountMinor(); a < -amountMax || a > amountMax {
			return fmt.Errorf("posting %d amount %d is outside [%d, %d]", i, a, -amountMax, amountMax)
		}
		sum += p.GetAmountMinor() // at most 8 × 2 × 10^12: no overflow
		if _, ok := s.institutions[p.GetInstitutionId()]; !ok {
			return fmt.Errorf("posting %d: institution %s not found", i, clip(p.GetInstitutionId()))
		}
	}
	if len(postings) > 0 && sum != cmd.GetAmountMinor() {
		return fmt.Errorf("postings sum to %d, the charge says %d", sum, cmd.GetAmountMinor())
	}
	return checkTariff(cmd.GetTariff())
}

// chargePriced settles a tap priced by the fare engine, or a correction:
// its postings move money between the card and the institutions, and the
// card's tariff state is replaced, in one step, at the version the price
// was decided on. Refunds come first, so a correction of an earlier journey
// helps pay the check-in that follows it. An engine decline, or a card that
// cannot pay the net amount, is recorded as declined with what it would
// have cost; nothing moves. An offline tap is never declined: what the
// balance cannot cover becomes debt, as for a plain offline charge.
func (s *State) chargePriced(rc recording, cmd *ledgerv1.Charge) *ledgerv1.Result {
	id := cmd.GetCardId()
	c := s.cards[id]
	if err := s.checkPricedCharge(cmd); err != nil {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if c == nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "card %s not found", clip(id))
	}
	instID := cmd.GetInstitutionId()
	if _, ok := s.institutions[instID]; !ok && instID != "" {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "institution %s not found", clip(instID))
	}
	// The price rests on the tariff state of this version: another
	// activation of the grain may have moved it meanwhile.
	if v := cmd.GetExpectedVersion(); v != c.version {
		return stale(c, v)
	}
	// And on the tariff in force: a price list replaced meanwhile must not
	// price the tap.
	if res := s.staleTariff(c, cmd.GetRegionVersion(), instID, cmd.GetPriceListVersion()); res != nil {
		return res
	}
	net := cmd.GetAmountMinor()
	decline := cmd.GetDeclineReason()
	switch {
	case decline != civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED:
	case !cmd.GetOffline():
		decline = c.declineFor(cmd.GetTimeUnixMs(), net)
	case c.status == civicardv1.CardStatus_CARD_STATUS_CLOSED:
		// Even offline: a closed card's account was paid out, and it is on
		// the terminals' denylist.
		decline = civicardv1.DeclineReason_DECLINE_REASON_CARD_CLOSED
	case c.replacedBy != "":
		// Likewise a replaced card: what it held is on its replacement.
		decline = civicardv1.DeclineReason_DECLINE_REASON_CARD_BLOCKED
	}
	kind := civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE
	if cmd.GetCorrection() {
		kind = civicardv1.TransactionKind_TRANSACTION_KIND_CORRECTION
	}
	if decline != civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED {
		r := s.transaction(rc, civicardv1.TransactionKind_TRANSACTION_KIND_DECLINED_TAP, c, 0)
		s.describeTap(r, cmd)
		r.tx.DeclineReason = decline
		r.tx.DeclineDetail = cmd.GetDeclineDetail()
		r.tx.Refused = s.money(net)
		return s.recorded(ledgerv1.Status_STATUS_DECLINED, c, r)
	}

	// What the balance cannot cover of an offline tap, and whether the
	// debt may grow by it, is known before anything moves.
	var refunds int64
	for _, p := range cmd.GetPostings() {
		if p.GetAmountMinor() < 0 {
			refunds -= p.GetAmountMinor()
		}
	}
	charges := net + refunds
	shortfall := max(0, charges-(c.balanceMinor+refunds))
	if shortfall > 0 && c.debtMinor > s.cfg.BalanceMaxMinor-shortfall {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_BALANCE_MAX,
			"offline charge of %d would take card %s's debt from %d over the maximum %d", net, clip(id), c.debtMinor, s.cfg.BalanceMaxMinor)
	}
	before, hadDebt := c.balanceMinor, c.debtMinor > 0
	for _, p := range cmd.GetPostings() {
		if a := p.GetAmountMinor(); a < 0 {
			if err := s.apply(transfer{
				from:        account{kind: receivableAccount, id: p.GetInstitutionId()},
				to:          account{kind: cardAccount, id: id},
				amountMinor: -a,
				refund:      true,
			}); err != nil {
				return invariantBroken(c, err)
			}
		}
	}
	for _, p := range cmd.GetPostings() {
		a := p.GetAmountMinor()
		if a <= 0 {
			continue
		}
		paid := min(a, c.balanceMinor)
		if paid > 0 {
			if err := s.apply(transfer{
				from:        account{kind: cardAccount, id: id},
				to:          account{kind: receivableAccount, id: p.GetInstitutionId()},
				amountMinor: paid,
			}); err != nil {
				return invariantBroken(c, err)
			}
		}
		if paid < a { // offline only: the online path declined above
			if err := s.apply(transfer{
				from:        account{kind: fundingAccount},
				to:          account{kind: receivableAccount, id: p.GetInstitutionId()},
				amountMinor: a - paid,
			}); err != nil {
				return invariantBroken(c, err)
			}
			c.debtMinor += a - paid
		}
	}
	if p := cmd.GetTariff(); p != nil {
		c.tariff = proto.Clone(p).(*ledgerv1.TariffState)
	}
	c.version++
	r := s.transaction(rc, kind, c, c.balanceMinor-before)
	s.describeTap(r, cmd)
	r.tx.Offline = cmd.GetOffline()
	if len(cmd.GetPostings()) > 0 {
		r.tx.Entries = make([]*civicardv1.FareEntry, len(cmd.GetPostings()))
		for i, p := range cmd.GetPostings() {
			r.tx.Entries[i] = &civicardv1.FareEntry{
				InstitutionId: p.GetInstitutionId(), Product: p.GetProduct(), Amount: s.money(p.GetAmountMinor()), What: p.GetWhat(),
			}
		}
	}
	if hadDebt || c.debtMinor > 0 {
		r.tx.DebtAfter = s.money(c.debtMinor)
	}
	return s.recorded(ledgerv1.Status_STATUS_OK, c, r)
}

// describeTap copies what a priced charge says about the tap into its
// record.
func (s *State) describeTap(r *resultBlock, cmd *ledgerv1.Charge) {
	r.tx.InstitutionId = cmd.GetInstitutionId()
	r.tx.TerminalId = cmd.GetTerminalId()
	r.tx.TerminalSequence = cmd.GetTerminalSequence()
	r.tx.ServiceCode = cmd.GetServiceCode()
	r.tx.Quantity = cmd.GetQuantity()
	r.tx.TimeUnixMs = cmd.GetTimeUnixMs()
	r.tx.TariffVersion = cmd.GetTariffVersion()
	r.tx.Audit = cmd.GetAudit()
}
