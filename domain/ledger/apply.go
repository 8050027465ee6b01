package ledger

import (
	"errors"
	"fmt"
	"math"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// Apply applies one command and returns its result. It never panics and
// never returns nil.
//
// The order is: (1) a command whose id was already applied returns a copy of
// the first result with replayed set when it is the same request (its
// row's request digest, kept with the first result, matches: request.go);
// another request under the id is a conflict, refused and not recorded;
// (2) the
// command is validated; (3) a charge is checked against the card version it
// was decided on; (4) the outcome is decided and applied; (5) the result is
// stored under the id with the next ledger sequence. Every outcome is stored
// except STATUS_STALE_VERSION and the rejection of a command without a valid
// id or a kind: those change nothing, so a corrected retry under the same id
// can still apply.
//
// The returned Result (and its card and transaction) is shared with the
// ledger when it is the stored first result: the caller may marshal it, from
// any goroutine, but must never mutate it. A replayed result is a fresh copy.
func (s *State) Apply(cmd *ledgerv1.Command) *ledgerv1.Result {
	id := cmd.GetId()
	if err := checkCommandID(id); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v; nothing recorded", err)
	}
	if first, ok := s.results[id]; ok {
		if conflicts(first, cmd) {
			return rejected(ledgerv1.RejectReason_REJECT_REASON_CONFLICT, "command %s was applied with another request; nothing applied or recorded: choose a new id for a new request", clip(id))
		}
		r := proto.Clone(first).(*ledgerv1.Result)
		r.Replayed = true
		return r
	}
	if s.sequence == math.MaxUint64 {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_UNSPECIFIED, "ledger sequence exhausted; nothing recorded")
	}
	rc := recording{id: id, sequence: s.sequence + 1}

	// A typed nil in the oneof counts as no kind at all.
	kind, err := KindOf(cmd)
	switch {
	case errors.Is(err, ErrNoKind):
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "command %s has no kind; nothing recorded", clip(id))
	case err != nil:
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "command %s: %v; nothing recorded", clip(id), err)
	}
	res := kind.apply(s, rc, cmd)
	if res.GetStatus() == ledgerv1.Status_STATUS_STALE_VERSION {
		return res
	}
	// The handlers' results are fresh: the digest can go in.
	res.CommandSha256 = commandDigest(cmd)
	s.results[id] = res
	s.log = append(s.log, storedResult{id: id, result: res})
	s.sequence = rc.sequence
	if res.GetStatus() == ledgerv1.Status_STATUS_OK {
		s.chainAudit(cmd, kind, rc.sequence)
	}
	return res
}

// recording is what a handler needs to write a transaction: the id it is
// stored under and the sequence it will get.
type recording struct {
	id       string
	sequence uint64
}

func rejected(reason ledgerv1.RejectReason, format string, args ...any) *ledgerv1.Result {
	return &ledgerv1.Result{
		Status:       ledgerv1.Status_STATUS_REJECTED,
		RejectReason: reason,
		Error:        fmt.Sprintf(format, args...),
	}
}

// rejectedCard is a rejection of a card command; it carries the card's
// current state when the card exists.
func rejectedCard(c *card, reason ledgerv1.RejectReason, format string, args ...any) *ledgerv1.Result {
	r := rejected(reason, format, args...)
	if c != nil {
		r.Card = c.state()
	}
	return r
}

// invariantBroken is the answer when the second check of a transfer (at the
// point of applying it) refuses what the handler decided: a bug, reported
// as a rejection rather than a panic or a broken ledger.
func invariantBroken(c *card, err error) *ledgerv1.Result {
	return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_UNSPECIFIED, "ledger invariant: %v", err)
}

// resultBlock is a recorded card command's result with all its parts, allocated
// together: one allocation instead of five on the hot path, and one object
// for the garbage collector to trace per stored result. The parts are never
// copied, only pointed to.
type resultBlock struct {
	result  ledgerv1.Result
	card    ledgerv1.CardState
	tx      civicardv1.Transaction
	amount  civicardv1.Money
	balance civicardv1.Money
}

// transaction starts the record of a card command, after its change to the
// card.
func (s *State) transaction(rc recording, kind civicardv1.TransactionKind, c *card, amountMinor int64) *resultBlock {
	r := &resultBlock{}
	r.amount.Currency, r.amount.MinorUnits = s.cfg.Currency, amountMinor
	r.balance.Currency, r.balance.MinorUnits = s.cfg.Currency, c.balanceMinor
	r.tx.TransactionId = rc.id
	r.tx.LedgerSequence = rc.sequence
	r.tx.Kind = kind
	r.tx.CardId = c.id
	r.tx.Amount = &r.amount
	r.tx.BalanceAfter = &r.balance
	return r
}

// money is an amount in the ledger's currency.
func (s *State) money(minor int64) *civicardv1.Money {
	return &civicardv1.Money{Currency: s.cfg.Currency, MinorUnits: minor}
}

// recorded finishes a card command that wrote a transaction.
func (s *State) recorded(status ledgerv1.Status, c *card, r *resultBlock) *ledgerv1.Result {
	r.card.CardId = c.id
	r.card.Kind = c.kind
	r.card.Status = c.status
	r.card.BalanceMinor = c.balanceMinor
	r.card.Version = c.version
	r.card.HolderName = c.holderName
	r.card.DebtMinor = c.debtMinor
	r.card.Tariff = c.tariff
	r.card.ExpiresUnixMs = c.expiresUnixMs
	r.card.ReplacedBy = c.replacedBy
	r.card.Replaces = c.replaces
	r.result.Status = status
	r.result.Card = &r.card
	r.result.Transaction = &r.tx
	c.appendHistory(&r.tx, s.cfg.HistoryMax)
	return &r.result
}

func okResult() *ledgerv1.Result {
	return &ledgerv1.Result{Status: ledgerv1.Status_STATUS_OK}
}

func (s *State) registerInstitution(cmd *ledgerv1.RegisterInstitution) *ledgerv1.Result {
	rec := cmd.GetInstitution()
	if err := checkInstitution(rec, s.cfg.AmountMaxMinor); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if err := checkAudit(cmd.GetAudit(), false); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	id := rec.GetInstitutionId()
	if _, ok := s.institutions[id]; ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "institution %s already exists", clip(id))
	}
	if len(s.institutions) >= institutionsMax {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "the ledger already holds %d institutions, its maximum", institutionsMax)
	}
	s.institutions[id] = &institution{rec: copyInstitution(rec)}
	return okResult()
}

func (s *State) registerTerminal(cmd *ledgerv1.RegisterTerminal) *ledgerv1.Result {
	rec := cmd.GetTerminal()
	if err := checkTerminal(rec); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if err := checkAudit(cmd.GetAudit(), false); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if _, ok := s.institutions[rec.GetInstitutionId()]; !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "terminal %s: institution %s not found", clip(rec.GetTerminalId()), clip(rec.GetInstitutionId()))
	}
	if _, ok := s.terminals[rec.GetTerminalId()]; ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "terminal %s already exists", clip(rec.GetTerminalId()))
	}
	s.terminals[rec.GetTerminalId()] = copyTerminal(rec)
	return okResult()
}

// setTerminalKey sets or rotates a terminal's signing key. A revoked
// terminal stays revoked: it gets no new key.
func (s *State) setTerminalKey(cmd *ledgerv1.SetTerminalKey) *ledgerv1.Result {
	id := cmd.GetTerminalId()
	if err := checkText("terminal id", id, terminalIDBytesMax, true); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if n := len(cmd.GetPublicKey()); n != publicKeyBytes {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "terminal %s: public key is %d bytes, not %d", clip(id), n, publicKeyBytes)
	}
	t, ok := s.terminals[id]
	if !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "terminal %s not found", clip(id))
	}
	if t.GetRevoked() {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "terminal %s is revoked", clip(id))
	}
	next := copyTerminal(t)
	next.PublicKey = bytesOrNil(cmd.GetPublicKey())
	s.terminals[id] = next
	return okResult()
}

// revokeTerminal refuses a terminal's taps from now on. Revoking a revoked
// terminal is fine and changes nothing.
func (s *State) revokeTerminal(cmd *ledgerv1.RevokeTerminal) *ledgerv1.Result {
	id := cmd.GetTerminalId()
	if err := checkText("terminal id", id, terminalIDBytesMax, true); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if err := checkText("revoke reason", cmd.GetReason(), textBytesMax, false); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	t, ok := s.terminals[id]
	if !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "terminal %s not found", clip(id))
	}
	next := copyTerminal(t)
	next.Revoked = true
	s.terminals[id] = next
	return okResult()
}

func (s *State) openCard(rc recording, cmd *ledgerv1.OpenCard) *ledgerv1.Result {
	id := cmd.GetCardId()
	if err := checkCardFields(id, cmd.GetKind(), cmd.GetHolderName()); err != nil {
		return rejectedCard(s.cards[id], ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if err := checkAudit(cmd.GetAudit(), false); err != nil {
		return rejectedCard(s.cards[id], ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if c, ok := s.cards[id]; ok {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "card %s already exists", clip(id))
	}
	c := &card{
		id:         id,
		kind:       cmd.GetKind(),
		status:     civicardv1.CardStatus_CARD_STATUS_ACTIVE,
		holderName: cmd.GetHolderName(),
		version:    1,
	}
	if c.kind == civicardv1.CardKind_CARD_KIND_PERSONAL && cmd.GetIssuedUnixMs() > 0 {
		c.expiresUnixMs = validUntil(cmd.GetIssuedUnixMs())
	}
	s.cards[id] = c
	if cmd.GetAudit() == nil {
		return &ledgerv1.Result{Status: ledgerv1.Status_STATUS_OK, Card: c.state()}
	}
	r := s.transaction(rc, civicardv1.TransactionKind_TRANSACTION_KIND_ISSUE, c, 0)
	r.tx.TimeUnixMs = cmd.GetAudit().GetTimeUnixMs()
	r.tx.Audit = cmd.GetAudit()
	return s.recorded(ledgerv1.Status_STATUS_OK, c, r)
}

func (s *State) topUp(rc recording, cmd *ledgerv1.TopUp) *ledgerv1.Result {
	id, amount := cmd.GetCardId(), cmd.GetAmountMinor()
	c := s.cards[id]
	if amount < 1 || amount > s.cfg.AmountMaxMinor {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "top-up amount %d is outside [1, %d]", amount, s.cfg.AmountMaxMinor)
	}
	if c == nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "card %s not found", clip(id))
	}
	if err := checkTariff(cmd.GetTariff()); err != nil {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if err := checkText("top-up refusal", cmd.GetRefusal(), textBytesMax, false); err != nil {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if v := cmd.GetExpectedVersion(); v != 0 && v != c.version {
		return stale(c, v)
	}
	// The limits were checked under a region that may have changed since.
	if res := s.staleTariff(c, cmd.GetRegionVersion(), "", 0); res != nil {
		return res
	}
	if cmd.GetRefusal() != "" {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_LIMIT, "%s", cmd.GetRefusal())
	}
	if c.status == civicardv1.CardStatus_CARD_STATUS_BLOCKED {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_CARD_BLOCKED, "card %s is blocked", clip(id))
	}
	if c.status == civicardv1.CardStatus_CARD_STATUS_CLOSED {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_CARD_CLOSED, "card %s is closed", clip(id))
	}
	if c.expired(cmd.GetTimeUnixMs()) {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_CARD_EXPIRED, "card %s expired; renew it first", clip(id))
	}
	// amount <= AmountMaxMinor <= BalanceMaxMinor, so this cannot overflow.
	if c.balanceMinor > s.cfg.BalanceMaxMinor-amount {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_BALANCE_MAX,
			"top-up of %d would take card %s from balance %d over the maximum %d", amount, clip(id), c.balanceMinor, s.cfg.BalanceMaxMinor)
	}
	if err := s.apply(transfer{
		from:        account{kind: fundingAccount},
		to:          account{kind: cardAccount, id: id},
		amountMinor: amount,
	}); err != nil {
		return invariantBroken(c, err)
	}
	// Debt from offline taps is repaid first, to the funding account that
	// paid it to the institutions.
	hadDebt := c.debtMinor > 0
	if repay := min(c.debtMinor, c.balanceMinor); repay > 0 {
		if err := s.apply(transfer{
			from:        account{kind: cardAccount, id: id},
			to:          account{kind: fundingAccount},
			amountMinor: repay,
		}); err != nil {
			return invariantBroken(c, err)
		}
		c.debtMinor -= repay
	}
	if p := cmd.GetTariff(); p != nil {
		c.tariff = proto.Clone(p).(*ledgerv1.TariffState)
	}
	c.version++
	r := s.transaction(rc, civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP, c, amount)
	r.tx.TimeUnixMs = cmd.GetTimeUnixMs()
	if hadDebt {
		r.tx.DebtAfter = s.money(c.debtMinor)
	}
	return s.recorded(ledgerv1.Status_STATUS_OK, c, r)
}

func (s *State) charge(rc recording, cmd *ledgerv1.Charge) *ledgerv1.Result {
	if priced(cmd) {
		return s.chargePriced(rc, cmd)
	}
	id, amount := cmd.GetCardId(), cmd.GetAmountMinor()
	c := s.cards[id]
	if amount < 0 || amount > s.cfg.AmountMaxMinor {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "charge amount %d is outside [0, %d]", amount, s.cfg.AmountMaxMinor)
	}
	if err := checkText("terminal id", cmd.GetTerminalId(), terminalIDBytesMax, false); err != nil {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if err := checkText("service code", cmd.GetServiceCode(), serviceCodeBytesMax, false); err != nil {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if c == nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "card %s not found", clip(id))
	}
	instID := cmd.GetInstitutionId()
	if _, ok := s.institutions[instID]; !ok {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "institution %s not found", clip(instID))
	}
	// A closed or replaced card holds nothing any more: its offline taps
	// are declined like its online ones.
	if cmd.GetOffline() && c.status != civicardv1.CardStatus_CARD_STATUS_CLOSED && c.replacedBy == "" {
		return s.chargeOffline(rc, c, cmd)
	}
	// The grain decided on a version; if the card moved since, its decision
	// may rest on a balance or status that no longer holds. Another
	// activation of the grain may be deciding at the same time: the ledger,
	// not the grain, is the guard of the money.
	if v := cmd.GetExpectedVersion(); v != c.version {
		return stale(c, v)
	}

	decline := c.declineFor(cmd.GetTimeUnixMs(), amount)
	status := ledgerv1.Status_STATUS_DECLINED
	kind := civicardv1.TransactionKind_TRANSACTION_KIND_DECLINED_TAP
	var moved int64
	if decline == civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED {
		if err := s.apply(transfer{
			from:        account{kind: cardAccount, id: id},
			to:          account{kind: receivableAccount, id: instID},
			amountMinor: amount,
		}); err != nil {
			return invariantBroken(c, err)
		}
		c.version++
		status, kind, moved = ledgerv1.Status_STATUS_OK, civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE, -amount
	}
	r := s.transaction(rc, kind, c, moved)
	r.tx.InstitutionId = instID
	r.tx.TerminalId = cmd.GetTerminalId()
	r.tx.TerminalSequence = cmd.GetTerminalSequence()
	r.tx.ServiceCode = cmd.GetServiceCode()
	r.tx.Quantity = cmd.GetQuantity()
	r.tx.TimeUnixMs = cmd.GetTimeUnixMs()
	r.tx.DeclineReason = decline
	if decline != civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED {
		r.tx.Refused = s.money(amount)
	}
	return s.recorded(status, c, r)
}

// stale is the answer to a command decided on another version of the card.
func stale(c *card, v uint64) *ledgerv1.Result {
	return &ledgerv1.Result{
		Status: ledgerv1.Status_STATUS_STALE_VERSION,
		Card:   c.state(),
		Error:  fmt.Sprintf("card %s is at version %d, not %d; reload and decide again", clip(c.id), c.version, v),
	}
}

// declineFor says why the card cannot pay amountMinor at a tap at
// timeUnixMs, or DECLINE_REASON_UNSPECIFIED when it can.
func (c *card) declineFor(timeUnixMs, amountMinor int64) civicardv1.DeclineReason {
	switch {
	case c.status == civicardv1.CardStatus_CARD_STATUS_BLOCKED:
		return civicardv1.DeclineReason_DECLINE_REASON_CARD_BLOCKED
	case c.status == civicardv1.CardStatus_CARD_STATUS_CLOSED:
		return civicardv1.DeclineReason_DECLINE_REASON_CARD_CLOSED
	case c.expired(timeUnixMs):
		return civicardv1.DeclineReason_DECLINE_REASON_CARD_EXPIRED
	case c.balanceMinor < amountMinor:
		return civicardv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS
	}
	return civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED
}

// expired reports whether the card is past its validity at timeUnixMs.
func (c *card) expired(timeUnixMs int64) bool {
	return c.expiresUnixMs != 0 && timeUnixMs >= c.expiresUnixMs
}

// chargeOffline settles a tap a terminal accepted offline: the service was
// given, so it is neither declined nor checked against the card's version
// (the amount does not depend on the card's state). The balance pays what it
// can; the funding account pays the rest to the institution, and the card
// owes it.
func (s *State) chargeOffline(rc recording, c *card, cmd *ledgerv1.Charge) *ledgerv1.Result {
	id, amount, instID := c.id, cmd.GetAmountMinor(), cmd.GetInstitutionId()
	paid := min(c.balanceMinor, amount)
	shortfall := amount - paid
	if c.debtMinor > s.cfg.BalanceMaxMinor-shortfall {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_BALANCE_MAX,
			"offline charge of %d would take card %s's debt from %d over the maximum %d", amount, clip(id), c.debtMinor, s.cfg.BalanceMaxMinor)
	}
	// Both transfers are checked by apply; the first cannot fail once the
	// second's accounts exist, and both exist (checked by charge).
	if shortfall > 0 {
		if err := s.apply(transfer{
			from:        account{kind: fundingAccount},
			to:          account{kind: receivableAccount, id: instID},
			amountMinor: shortfall,
		}); err != nil {
			return invariantBroken(c, err)
		}
	}
	if paid > 0 {
		if err := s.apply(transfer{
			from:        account{kind: cardAccount, id: id},
			to:          account{kind: receivableAccount, id: instID},
			amountMinor: paid,
		}); err != nil {
			return invariantBroken(c, err)
		}
	}
	hadDebt := c.debtMinor > 0
	c.debtMinor += shortfall
	c.version++
	r := s.transaction(rc, civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE, c, -paid)
	r.tx.InstitutionId = instID
	r.tx.TerminalId = cmd.GetTerminalId()
	r.tx.TerminalSequence = cmd.GetTerminalSequence()
	r.tx.ServiceCode = cmd.GetServiceCode()
	r.tx.Quantity = cmd.GetQuantity()
	r.tx.TimeUnixMs = cmd.GetTimeUnixMs()
	r.tx.Offline = true
	if hadDebt || shortfall > 0 {
		r.tx.DebtAfter = s.money(c.debtMinor)
	}
	return s.recorded(ledgerv1.Status_STATUS_OK, c, r)
}

func (s *State) blockCard(rc recording, cmd *ledgerv1.BlockCard) *ledgerv1.Result {
	id := cmd.GetCardId()
	c := s.cards[id]
	if err := checkText("block reason", cmd.GetReason(), textBytesMax, false); err != nil {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if err := checkAudit(cmd.GetAudit(), false); err != nil {
		return rejectedCard(c, ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if c == nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "card %s not found", clip(id))
	}
	// Blocking a blocked card is not an error (a second report of the same
	// loss); it is recorded, but the version moves only on a change.
	if c.status != civicardv1.CardStatus_CARD_STATUS_BLOCKED {
		c.status = civicardv1.CardStatus_CARD_STATUS_BLOCKED
		c.version++
	}
	r := s.transaction(rc, civicardv1.TransactionKind_TRANSACTION_KIND_BLOCK, c, 0)
	r.tx.Note = cmd.GetReason()
	r.tx.TimeUnixMs = cmd.GetTimeUnixMs()
	if a := cmd.GetAudit(); a != nil {
		r.tx.Audit = &civicardv1.Audit{Actor: a.GetActor(), Reason: a.GetReason(), TimeUnixMs: a.GetTimeUnixMs()}
	}
	return s.recorded(ledgerv1.Status_STATUS_OK, c, r)
}

func (s *State) markSeeded(cmd *ledgerv1.MarkSeeded) *ledgerv1.Result {
	seed := cmd.GetSeed()
	if _, ok := s.seeds[seed]; ok {
		return okResult()
	}
	if len(s.seeds) >= seedsMax {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "the ledger already holds %d seeds, its maximum", seedsMax)
	}
	s.seeds[seed] = struct{}{}
	return okResult()
}
