package ledger

import (
	"errors"
	"fmt"
	"slices"
	"time"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// validityMonths is how long a personalised card is valid from its issue or
// renewal.
const validityMonths = 48

// validUntil is the expiry of a personalised card issued or renewed at
// fromUnixMs: 48 calendar months later (in UTC, so every replica agrees).
func validUntil(fromUnixMs int64) int64 {
	return time.UnixMilli(fromUnixMs).UTC().AddDate(0, validityMonths, 0).UnixMilli()
}

// checkAudit checks an audit record: who and why are bounded text, the time
// is set. required: the command must carry one.
func checkAudit(a *civicardv1.Audit, required bool) error {
	if a == nil {
		if required {
			return errors.New("audit is missing: who, when and why")
		}
		return nil
	}
	if err := checkText("audit actor", a.GetActor(), textBytesMax, true); err != nil {
		return err
	}
	if err := checkText("audit reason", a.GetReason(), textBytesMax, false); err != nil {
		return err
	}
	if a.GetTimeUnixMs() <= 0 {
		return errors.New("audit time is not set")
	}
	return nil
}

// lifecycleCard finds the card of a lifecycle command and checks its audit;
// a closed card takes no more changes.
func (s *State) lifecycleCard(id string, audit *civicardv1.Audit) (*card, *ledgerv1.Result) {
	c := s.cards[id]
	if err := checkAudit(audit, true); err != nil {
		return nil, rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if c == nil {
		return nil, rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "card %s not found", clip(id))
	}
	if c.status == civicardv1.CardStatus_CARD_STATUS_CLOSED {
		return nil, rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_CARD_CLOSED, "card %s is closed", clip(id))
	}
	return c, nil
}

// audited writes the record of a lifecycle command.
func (s *State) audited(rc recording, kind civicardv1.TransactionKind, c *card, amountMinor int64, audit *civicardv1.Audit, note string) *resultBlock {
	r := s.transaction(rc, kind, c, amountMinor)
	r.tx.TimeUnixMs = audit.GetTimeUnixMs()
	r.tx.Audit = &civicardv1.Audit{Actor: audit.GetActor(), Reason: audit.GetReason(), TimeUnixMs: audit.GetTimeUnixMs()}
	r.tx.Note = note
	return r
}

// pricingOf returns a copy of the card's tariff state to change, a fresh
// one when it has none yet.
func (c *card) tariffOf() *ledgerv1.TariffState {
	if c.tariff == nil {
		return &ledgerv1.TariffState{Bearer: c.kind == civicardv1.CardKind_CARD_KIND_BEARER}
	}
	return proto.Clone(c.tariff).(*ledgerv1.TariffState)
}

// dayString prints a day key (days since 1970-01-01) as a date.
func dayString(day int32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format(time.DateOnly)
}

// grantEntitlement gives a personalised card a concession; one of the same
// code is replaced (a new school year).
func (s *State) grantEntitlement(rc recording, cmd *ledgerv1.GrantEntitlement) *ledgerv1.Result {
	c, res := s.lifecycleCard(cmd.GetCardId(), cmd.GetAudit())
	if res != nil {
		return res
	}
	e := cmd.GetEntitlement()
	if c.kind != civicardv1.CardKind_CARD_KIND_PERSONAL {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_NOT_PERSONAL, "card %s is a bearer card: concessions belong to a named holder", clip(c.id))
	}
	if e == nil || e.GetConcession() == "" {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "no concession given")
	}
	p := c.tariffOf()
	grant := &ledgerv1.TariffEntitlement{Concession: e.GetConcession(), FromDay: e.GetFromDay(), UntilDay: e.GetUntilDay(), Issuer: e.GetIssuer()}
	i := slices.IndexFunc(p.Entitlements, func(x *ledgerv1.TariffEntitlement) bool { return x.GetConcession() == grant.Concession })
	if i >= 0 {
		p.Entitlements[i] = grant
	} else {
		p.Entitlements = append(p.Entitlements, grant)
	}
	if err := checkTariff(p); err != nil {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	c.tariff = p
	c.version++
	note := fmt.Sprintf("granted %s %s..%s certified by %s", grant.Concession, dayString(grant.FromDay), dayString(grant.UntilDay), grant.Issuer)
	return s.recorded(ledgerv1.Status_STATUS_OK, c, s.audited(rc, civicardv1.TransactionKind_TRANSACTION_KIND_ENTITLEMENT, c, 0, cmd.GetAudit(), note))
}

func (s *State) revokeEntitlement(rc recording, cmd *ledgerv1.RevokeEntitlement) *ledgerv1.Result {
	c, res := s.lifecycleCard(cmd.GetCardId(), cmd.GetAudit())
	if res != nil {
		return res
	}
	p := c.tariffOf()
	i := slices.IndexFunc(p.Entitlements, func(x *ledgerv1.TariffEntitlement) bool { return x.GetConcession() == cmd.GetConcession() })
	if i < 0 {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "card %s holds no concession %s", clip(c.id), clip(cmd.GetConcession()))
	}
	p.Entitlements = slices.Delete(p.Entitlements, i, i+1)
	c.tariff = p
	c.version++
	note := fmt.Sprintf("revoked %s", cmd.GetConcession())
	return s.recorded(ledgerv1.Status_STATUS_OK, c, s.audited(rc, civicardv1.TransactionKind_TRANSACTION_KIND_ENTITLEMENT, c, 0, cmd.GetAudit(), note))
}

// replaceCard opens the new card and moves onto it everything of the old
// one that is worth something: balance, debt and tariff state (passes,
// entitlements, journeys, counters), in this one command; the old card is
// blocked and keeps nothing. The new card must not exist yet: a card number
// names one card's history, and taking over a used card would mix two.
// Both cards must be in this shard; the router refuses a replacement across
// shards before it gets here.
func (s *State) replaceCard(rc recording, cmd *ledgerv1.ReplaceCard) *ledgerv1.Result {
	old, res := s.lifecycleCard(cmd.GetCardId(), cmd.GetAudit())
	if res != nil {
		return res
	}
	newID := cmd.GetNewCardId()
	if err := checkCardID(newID); err != nil {
		return rejectedCard(old, ledgerv1.RejectReason_REJECT_REASON_INVALID, "new %v", err)
	}
	if _, ok := s.cards[newID]; ok {
		return rejectedCard(old, ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "card %s already exists: a replacement is a new card", clip(newID))
	}
	if old.replacedBy != "" {
		return rejectedCard(old, ledgerv1.RejectReason_REJECT_REASON_INVALID, "card %s was already replaced by %s", clip(old.id), clip(old.replacedBy))
	}
	audit := cmd.GetAudit()
	nc := &card{
		id:         newID,
		kind:       old.kind,
		status:     civicardv1.CardStatus_CARD_STATUS_ACTIVE,
		holderName: old.holderName,
		version:    1,
		tariff:     old.tariff,
		debtMinor:  old.debtMinor,
		replaces:   old.id,
	}
	if nc.kind == civicardv1.CardKind_CARD_KIND_PERSONAL {
		nc.expiresUnixMs = validUntil(audit.GetTimeUnixMs())
	}
	s.cards[newID] = nc
	moved := old.balanceMinor
	if moved > 0 {
		if err := s.apply(transfer{
			from:        account{kind: cardAccount, id: old.id},
			to:          account{kind: cardAccount, id: newID},
			amountMinor: moved,
		}); err != nil {
			delete(s.cards, newID)
			return invariantBroken(old, err)
		}
	}
	old.status = civicardv1.CardStatus_CARD_STATUS_BLOCKED
	old.debtMinor, old.tariff, old.replacedBy = 0, nil, newID
	old.version++
	nc.version++

	in := s.audited(rc, civicardv1.TransactionKind_TRANSACTION_KIND_REPLACEMENT, nc, moved, audit, "replaces "+old.id)
	in.tx.RelatedCardId = old.id
	if nc.debtMinor > 0 {
		in.tx.DebtAfter = s.money(nc.debtMinor)
	}
	newRes := s.recorded(ledgerv1.Status_STATUS_OK, nc, in)
	out := s.audited(rc, civicardv1.TransactionKind_TRANSACTION_KIND_REPLACED, old, -moved, audit, "replaced by "+newID)
	out.tx.RelatedCardId = newID
	r := s.recorded(ledgerv1.Status_STATUS_OK, old, out)
	r.RelatedTransaction = newRes.GetTransaction()
	r.RelatedCard = newRes.GetCard()
	return r
}

// renewCard extends a personalised card's validity to 48 months from now.
func (s *State) renewCard(rc recording, cmd *ledgerv1.RenewCard) *ledgerv1.Result {
	c, res := s.lifecycleCard(cmd.GetCardId(), cmd.GetAudit())
	if res != nil {
		return res
	}
	if c.kind != civicardv1.CardKind_CARD_KIND_PERSONAL {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_NOT_PERSONAL, "card %s is a bearer card: it does not expire", clip(c.id))
	}
	if c.status == civicardv1.CardStatus_CARD_STATUS_BLOCKED {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_CARD_BLOCKED, "card %s is blocked: replace it instead", clip(c.id))
	}
	c.expiresUnixMs = validUntil(cmd.GetAudit().GetTimeUnixMs())
	c.version++
	note := "valid until " + time.UnixMilli(c.expiresUnixMs).UTC().Format(time.DateOnly)
	return s.recorded(ledgerv1.Status_STATUS_OK, c, s.audited(rc, civicardv1.TransactionKind_TRANSACTION_KIND_RENEW, c, 0, cmd.GetAudit(), note))
}

// closeCard pays the balance back to the funding account (and from there to
// the holder, outside the system) and closes the card for good. A card
// with debt is not closed: the debt would be lost.
func (s *State) closeCard(rc recording, cmd *ledgerv1.CloseCard) *ledgerv1.Result {
	c, res := s.lifecycleCard(cmd.GetCardId(), cmd.GetAudit())
	if res != nil {
		return res
	}
	if c.debtMinor > 0 {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_DEBT, "card %s owes %d for offline taps: top it up first", clip(c.id), c.debtMinor)
	}
	refund := c.balanceMinor
	if refund > 0 {
		if err := s.apply(transfer{
			from:        account{kind: cardAccount, id: c.id},
			to:          account{kind: fundingAccount},
			amountMinor: refund,
		}); err != nil {
			return invariantBroken(c, err)
		}
	}
	c.status = civicardv1.CardStatus_CARD_STATUS_CLOSED
	c.tariff = nil
	c.version++
	note := "closed, the balance paid back"
	return s.recorded(ledgerv1.Status_STATUS_OK, c, s.audited(rc, civicardv1.TransactionKind_TRANSACTION_KIND_CLOSE, c, -refund, cmd.GetAudit(), note))
}
