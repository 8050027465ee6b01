package ledger

import (
	"errors"
	"fmt"
	"slices"

	civicardv1 "civicard/messages/civicard/v1"
)

// Check verifies every invariant of the ledger from scratch and names the
// accounts involved in each failure. It is O(accounts + kept transactions);
// the simulator and the tests call it after every run, Restore after every
// load. Failures are listed in id order, so the message is deterministic.
func (s *State) Check() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if s.sequence != uint64(len(s.log)) {
		fail("ledger sequence %d but %d stored results", s.sequence, len(s.log))
	}
	if len(s.results) != len(s.log) {
		fail("%d idempotency entries but %d stored results", len(s.results), len(s.log))
	}

	var cardsMinor int64
	cardsOverflow := false
	for _, id := range sortedKeys(s.cards) {
		c := s.cards[id]
		acct := account{kind: cardAccount, id: id}
		if c.id != id {
			fail("%v is filed under id %q", acct, c.id)
		}
		if c.balanceMinor < 0 {
			fail("%v: balance %d is negative", acct, c.balanceMinor)
		}
		if c.debtMinor < 0 || c.debtMinor > s.cfg.BalanceMaxMinor {
			fail("%v: debt %d outside [0, %d]", acct, c.debtMinor, s.cfg.BalanceMaxMinor)
		}
		if limit := s.cardBalanceMax(true); c.balanceMinor > limit {
			fail("%v: balance %d is above the maximum %d (after refunds)", acct, c.balanceMinor, limit)
		}
		if c.version < 1 || c.version > s.sequence {
			fail("%v: version %d is outside [1, ledger sequence %d]", acct, c.version, s.sequence)
		}
		switch c.status {
		case civicardv1.CardStatus_CARD_STATUS_ACTIVE, civicardv1.CardStatus_CARD_STATUS_BLOCKED:
		case civicardv1.CardStatus_CARD_STATUS_CLOSED:
			if c.balanceMinor != 0 || c.pricing != nil {
				fail("%v: closed with balance %d or a pricing state", acct, c.balanceMinor)
			}
		default:
			fail("%v: status %v", acct, c.status)
		}
		if err := checkPricing(c.pricing); err != nil {
			fail("%v: %w", acct, err)
		}
		if c.replacedBy != "" && (c.balanceMinor != 0 || c.status != civicardv1.CardStatus_CARD_STATUS_BLOCKED && c.status != civicardv1.CardStatus_CARD_STATUS_CLOSED) {
			fail("%v: replaced by %q but active or holding %d", acct, c.replacedBy, c.balanceMinor)
		}
		if c.replacedBy != "" && s.cards[c.replacedBy] == nil {
			fail("%v: replaced by %q, which does not exist", acct, c.replacedBy)
		}
		if err := s.checkHistory(c); err != nil {
			fail("%v: %w", acct, err)
		}
		var ok bool
		if cardsMinor, ok = add(cardsMinor, c.balanceMinor); !ok {
			cardsOverflow = true
		}
	}

	var receivablesMinor int64
	receivablesOverflow := false
	for _, id := range sortedKeys(s.institutions) {
		inst := s.institutions[id]
		acct := account{kind: receivableAccount, id: id}
		if inst.rec.GetInstitutionId() != id {
			fail("%v is filed under id %q", acct, inst.rec.GetInstitutionId())
		}
		// A receivable may be negative: a refund after the institution was
		// paid out (transfer.refund); conservation still holds.
		var ok bool
		if receivablesMinor, ok = add(receivablesMinor, inst.receivableMinor); !ok {
			receivablesOverflow = true
		}
	}
	if len(s.institutions) > institutionsMax {
		fail("%d institutions, more than %d", len(s.institutions), institutionsMax)
	}
	if len(s.seeds) > seedsMax {
		fail("%d seeds, more than %d", len(s.seeds), seedsMax)
	}

	for _, id := range sortedKeys(s.terminals) {
		if instID := s.terminals[id].GetInstitutionId(); s.institutions[instID] == nil {
			fail("terminal %q: institution %q does not exist", id, instID)
		}
	}

	switch {
	case cardsOverflow:
		fail("the sum of the card accounts overflows")
	case cardsMinor != s.cardsMinor:
		fail("the card accounts sum to %d but the running total is %d", cardsMinor, s.cardsMinor)
	}
	switch {
	case receivablesOverflow:
		fail("the sum of the receivable accounts overflows")
	case receivablesMinor != s.receivablesMinor:
		fail("the receivable accounts sum to %d but the running total is %d", receivablesMinor, s.receivablesMinor)
	}
	if !cardsOverflow && !receivablesOverflow {
		if total, ok := sum3(s.fundingMinor, cardsMinor, receivablesMinor); !ok || total != 0 {
			fail("money is not conserved: funding %d + cards %d + receivables %d != 0", s.fundingMinor, cardsMinor, receivablesMinor)
		}
	}

	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ledger check: %w", err)
	}
	return nil
}

// checkHistory checks a card's kept transactions: in ledger order, its own,
// within the limit, and the newest agreeing with the balance (every change
// of balance writes a transaction, so the newest one knows the balance).
func (s *State) checkHistory(c *card) error {
	if len(c.history) > s.cfg.HistoryMax {
		return fmt.Errorf("%d transactions kept, more than %d", len(c.history), s.cfg.HistoryMax)
	}
	var prev uint64
	for _, tx := range c.history {
		if tx.GetCardId() != c.id {
			return fmt.Errorf("transaction %q belongs to card %q", tx.GetTransactionId(), tx.GetCardId())
		}
		if seq := tx.GetLedgerSequence(); seq <= prev || seq > s.sequence {
			return fmt.Errorf("transaction %q has ledger sequence %d after %d (ledger at %d)", tx.GetTransactionId(), seq, prev, s.sequence)
		}
		prev = tx.GetLedgerSequence()
	}
	if len(c.history) == 0 {
		if c.balanceMinor != 0 {
			return fmt.Errorf("balance %d with no transaction", c.balanceMinor)
		}
		return nil
	}
	if last := c.history[len(c.history)-1]; last.GetBalanceAfter().GetMinorUnits() != c.balanceMinor {
		return fmt.Errorf("balance %d but the newest transaction %q left %d", c.balanceMinor, last.GetTransactionId(), last.GetBalanceAfter().GetMinorUnits())
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
