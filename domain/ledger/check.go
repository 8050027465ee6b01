package ledger

import (
	"errors"
	"fmt"
	"maps"
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
	for _, id := range slices.Sorted(maps.Keys(s.cards)) {
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
			if c.balanceMinor != 0 || c.tariff != nil {
				fail("%v: closed with balance %d or a tariff state", acct, c.balanceMinor)
			}
		default:
			fail("%v: status %v", acct, c.status)
		}
		if err := checkTariff(c.tariff); err != nil {
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

	posted := make(map[*institution]int64, len(s.institutions))
	for _, p := range s.postings {
		posted[p.inst] += p.amountMinor // each bounded by AmountMaxMinor, far from overflow
	}
	var receivablesMinor int64
	receivablesOverflow := false
	for _, id := range slices.Sorted(maps.Keys(s.institutions)) {
		inst := s.institutions[id]
		acct := account{kind: receivableAccount, id: id}
		if inst.rec.GetInstitutionId() != id {
			fail("%v is filed under id %q", acct, inst.rec.GetInstitutionId())
		}
		if want := posted[inst] - inst.settledMinor; inst.receivableMinor != want {
			fail("%v: balance %d, but its postings %d less its payouts and fees %d make %d", acct, inst.receivableMinor, posted[inst], inst.settledMinor, want)
		}
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

	for _, id := range slices.Sorted(maps.Keys(s.terminals)) {
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
		if total, ok := sum3(s.fundingMinor, cardsMinor, receivablesMinor); !ok || !conserved(total, s.payoutsMinor, s.feesMinor) {
			fail("money is not conserved: funding %d + cards %d + receivables %d + payouts %d + fees %d != 0",
				s.fundingMinor, cardsMinor, receivablesMinor, s.payoutsMinor, s.feesMinor)
		}
	}
	for _, err := range s.checkSettlement() {
		fail("%w", err)
	}
	if err := s.checkTariffRecords(); err != nil {
		fail("tariff: %w", err)
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

// checkSettlement checks the postings, the closed cycles and the batches:
// postings in ledger order and within it, cycles numbered from 1 whose
// ranges of sequences and postings follow each other and hold exactly the
// postings of those sequences, batches numbered from 1 whose arithmetic
// holds.
func (s *State) checkSettlement() []error {
	var errs []error
	for i, p := range s.postings {
		switch {
		case p.sequence < 1 || p.sequence > s.sequence:
			errs = append(errs, fmt.Errorf("posting %d at ledger sequence %d, outside [1, %d]", i, p.sequence, s.sequence))
		case i > 0 && p.sequence < s.postings[i-1].sequence:
			errs = append(errs, fmt.Errorf("posting %d at ledger sequence %d after one at %d", i, p.sequence, s.postings[i-1].sequence))
		case p.inst == nil || s.institutions[p.inst.rec.GetInstitutionId()] != p.inst:
			errs = append(errs, fmt.Errorf("posting %d of an unknown institution", i))
		}
	}
	var lastSeq, lastPosting uint64
	for i, c := range s.cycles {
		k := uint64(i) + 1
		switch {
		case c.GetCycle() != k:
			errs = append(errs, fmt.Errorf("cycle %d filed as cycle %d", c.GetCycle(), k))
		case c.GetFirstSequence() != lastSeq || c.GetLastSequence() < lastSeq || c.GetLastSequence() > s.sequence:
			errs = append(errs, fmt.Errorf("cycle %d covers sequences (%d, %d], the previous ended at %d, the ledger at %d", k, c.GetFirstSequence(), c.GetLastSequence(), lastSeq, s.sequence))
		case c.GetFirstPosting() != lastPosting || c.GetLastPosting() < lastPosting || c.GetLastPosting() > uint64(len(s.postings)):
			errs = append(errs, fmt.Errorf("cycle %d covers postings [%d, %d), the previous ended at %d, there are %d", k, c.GetFirstPosting(), c.GetLastPosting(), lastPosting, len(s.postings)))
		case c.GetLastPosting() > c.GetFirstPosting() && (s.postings[c.GetFirstPosting()].sequence <= c.GetFirstSequence() || s.postings[c.GetLastPosting()-1].sequence > c.GetLastSequence()):
			errs = append(errs, fmt.Errorf("cycle %d holds postings outside its sequences (%d, %d]", k, c.GetFirstSequence(), c.GetLastSequence()))
		case c.GetLastPosting() < uint64(len(s.postings)) && s.postings[c.GetLastPosting()].sequence <= c.GetLastSequence():
			errs = append(errs, fmt.Errorf("cycle %d leaves out a posting of its sequences", k))
		}
		lastSeq, lastPosting = c.GetLastSequence(), c.GetLastPosting()
	}
	for i, b := range s.batches {
		if b.GetCycle() != uint64(i)+1 {
			errs = append(errs, fmt.Errorf("batch %d filed as batch %d", b.GetCycle(), i+1))
		} else if err := s.checkBatch(b); err != nil {
			errs = append(errs, fmt.Errorf("batch %d: %w", b.GetCycle(), err))
		}
	}
	return errs
}
