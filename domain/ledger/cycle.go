package ledger

import (
	"cmp"
	"fmt"
	"slices"

	"civicard/domain/settlement/clearing"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// Settlement bounds.
const (
	// cyclesMax bounds the closed cycles a ledger keeps: hourly cycles for
	// a century.
	cyclesMax = 1 << 20
	// settlementAmountMaxMinor bounds one payout transfer: PLN 10 billion,
	// far below int64 overflow of any sum of them.
	settlementAmountMaxMinor = 1_000_000_000_000
	// StatementLinesMax bounds the lines one statement read returns: about
	// 10 MB, within a forwarded answer (16 MiB).
	StatementLinesMax = 100_000
)

// posting is one movement of an institution's money by a ledger command
// (not by a payout): amountMinor into its receivable (> 0, a charge) or out
// of it (< 0, a refund or correction), at ledger sequence `sequence`. The
// cycle a posting belongs to is decided by its place in the ledger, so
// closing a cycle is a consistent cut while taps flow.
type posting struct {
	sequence    uint64
	amountMinor int64
	inst        *institution
}

// CycleCloseID is the command id that closes cycle k: one id per cycle, so
// a coordinator that retries, or a new one that redoes the step, closes it
// once.
func CycleCloseID(k uint64) string { return fmt.Sprintf("settle/cycle/%d", k) }

// post records a posting of the command being applied.
func (s *State) post(institutionID string, amountMinor int64) {
	s.postings = append(s.postings, posting{sequence: s.sequence + 1, amountMinor: amountMinor, inst: s.institutions[institutionID]})
}

// OpenCycle is the number of the cycle new postings go to (1 at first).
func (s *State) OpenCycle() uint64 { return uint64(len(s.cycles)) + 1 }

// CycleTotals returns closed cycle k's totals, shared with the ledger.
func (s *State) CycleTotals(k uint64) (*ledgerv1.CycleTotals, bool) {
	if k < 1 || k > uint64(len(s.cycles)) {
		return nil, false
	}
	return s.cycles[k-1], true
}

// cycleClose closes the open cycle at this command: every posting since the
// previous close is in it. It walks the cycle's postings once, to decide
// every transaction's fee.
func (s *State) cycleClose(rc recording, cmd *ledgerv1.CycleClose) *ledgerv1.Result {
	k := cmd.GetCycle()
	if want := CycleCloseID(k); rc.id != want {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "closing cycle %d takes command id %s, not %s", k, want, clip(rc.id))
	}
	if open := s.OpenCycle(); k != open {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "cycle %d is open, not %d: cycles close in order", open, k)
	}
	if err := clearing.CheckFee(cmd.GetFee()); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if len(s.cycles) >= cyclesMax {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "the ledger already holds %d cycles, its maximum", cyclesMax)
	}
	var firstSeq, firstPosting uint64
	if n := len(s.cycles); n > 0 {
		firstSeq, firstPosting = s.cycles[n-1].GetLastSequence(), s.cycles[n-1].GetLastPosting()
	}
	fee := proto.Clone(cmd.GetFee()).(*civicardv1.CycleFeePolicy)
	if cmd.GetFee() == nil {
		fee = &civicardv1.CycleFeePolicy{}
	}
	totals := map[*institution]*clearing.Totals{}
	eachTransaction(s.postings[firstPosting:], func(_ uint64, inst *institution, chargedMinor, correctionMinor int64) {
		t, ok := totals[inst]
		if !ok {
			t = &clearing.Totals{}
			totals[inst] = t
		}
		t.Add(fee, chargedMinor, correctionMinor)
	})
	ct := &ledgerv1.CycleTotals{
		Cycle:         k,
		FirstSequence: firstSeq,
		LastSequence:  rc.sequence,
		FirstPosting:  firstPosting,
		LastPosting:   uint64(len(s.postings)),
		Fee:           fee,
		ClosedUnixMs:  cmd.GetTimeUnixMs(),
	}
	for inst, t := range totals {
		ct.Institutions = append(ct.Institutions, &ledgerv1.CycleInstitutionTotals{
			InstitutionId:    inst.rec.GetInstitutionId(),
			Transactions:     t.Transactions,
			ChargedMinor:     t.ChargedMinor,
			CorrectionsMinor: t.CorrectionsMinor,
			FeeMinor:         t.FeeMinor,
			NetMinor:         t.Net(),
		})
	}
	slices.SortFunc(ct.Institutions, func(a, b *ledgerv1.CycleInstitutionTotals) int {
		return cmp.Compare(a.GetInstitutionId(), b.GetInstitutionId())
	})
	s.cycles = append(s.cycles, ct)
	return okResult()
}

// eachTransaction calls fn once per transaction of the postings: the
// postings of one command to one institution, added up into what it charged
// (money in) and what it corrected (money out), in ledger order and, within
// a command, in the order of the institutions' first postings. Closing a
// cycle and writing a statement both see transactions through it, so they
// agree on every fee.
func eachTransaction(postings []posting, fn func(sequence uint64, inst *institution, chargedMinor, correctionMinor int64)) {
	type sums struct {
		inst                          *institution
		chargedMinor, correctionMinor int64
	}
	var run []sums // the current command's institutions: a handful at most
	flush := func(seq uint64) {
		for _, r := range run {
			fn(seq, r.inst, r.chargedMinor, r.correctionMinor)
		}
		run = run[:0]
	}
	for i, p := range postings {
		if i > 0 && p.sequence != postings[i-1].sequence {
			flush(postings[i-1].sequence)
		}
		j := slices.IndexFunc(run, func(r sums) bool { return r.inst == p.inst })
		if j < 0 {
			run = append(run, sums{inst: p.inst})
			j = len(run) - 1
		}
		if p.amountMinor >= 0 {
			run[j].chargedMinor += p.amountMinor
		} else {
			run[j].correctionMinor -= p.amountMinor
		}
	}
	if len(postings) > 0 {
		flush(postings[len(postings)-1].sequence)
	}
}

// Statement lists institutionID's transactions of closed cycle k in this
// ledger, in ledger order, at most StatementLinesMax. The lines are the
// caller's.
func (s *State) Statement(k uint64, institutionID string) ([]*civicardv1.SettlementStatementLine, error) {
	ct, ok := s.CycleTotals(k)
	if !ok {
		return nil, fmt.Errorf("cycle %d is not closed (open: %d)", k, s.OpenCycle())
	}
	inst, ok := s.institutions[institutionID]
	if !ok {
		return nil, fmt.Errorf("institution %s not found", clip(institutionID))
	}
	var lines []*civicardv1.SettlementStatementLine
	var err error
	eachTransaction(s.postings[ct.GetFirstPosting():ct.GetLastPosting()], func(seq uint64, i *institution, chargedMinor, correctionMinor int64) {
		if i != inst || err != nil {
			return
		}
		if len(lines) == StatementLinesMax {
			err = fmt.Errorf("institution %s has more than %d transactions in cycle %d", clip(institutionID), StatementLinesMax, k)
			return
		}
		stored := s.log[seq-1]
		lines = append(lines, statementLine(stored.id, seq, stored.result, inst.rec, ct.GetFee(), chargedMinor, correctionMinor))
	})
	return lines, err
}

// statementLine is the one place that turns a stored result into a line of
// an institution's statement: what it says of the transaction (time,
// terminal, service, card) and what its postings moved. A command that
// gains postings (a fare with a refund) needs no change here; one that
// carries more of what a statement shows (a list price, a concession) adds
// it here.
func statementLine(id string, seq uint64, res *ledgerv1.Result, inst *civicardv1.Institution, fee *civicardv1.CycleFeePolicy, chargedMinor, correctionMinor int64) *civicardv1.SettlementStatementLine {
	tx := res.GetTransaction()
	l := &civicardv1.SettlementStatementLine{
		TransactionId:  id,
		LedgerSequence: seq,
		TimeUnixMs:     tx.GetTimeUnixMs(),
		TerminalId:     tx.GetTerminalId(),
		ServiceCode:    tx.GetServiceCode(),
		CardId:         tx.GetCardId(),
		Offline:        tx.GetOffline(),
	}
	var listMinor int64
	if q := int64(tx.GetQuantity()); q > 0 {
		for _, svc := range inst.GetServices() {
			if svc.GetCode() == tx.GetServiceCode() {
				if price := svc.GetUnitPriceMinor(); price > 0 && q <= settlementAmountMaxMinor/price {
					listMinor = price * q
				}
				break
			}
		}
	}
	clearing.Line(l, fee, chargedMinor, correctionMinor, listMinor)
	return l
}

// StatementSums adds up the statement lines of closed cycle k, per
// institution in id order, without listing them: one walk over the cycle.
// The totals come from the lines (statementLine), not from what the close
// stored, so comparing the two checks one against the other.
func (s *State) StatementSums(k uint64) (*ledgerv1.CycleTotals, error) {
	ct, ok := s.CycleTotals(k)
	if !ok {
		return nil, fmt.Errorf("cycle %d is not closed (open: %d)", k, s.OpenCycle())
	}
	sums := map[*institution]*ledgerv1.CycleInstitutionTotals{}
	eachTransaction(s.postings[ct.GetFirstPosting():ct.GetLastPosting()], func(seq uint64, inst *institution, chargedMinor, correctionMinor int64) {
		stored := s.log[seq-1]
		l := statementLine(stored.id, seq, stored.result, inst.rec, ct.GetFee(), chargedMinor, correctionMinor)
		sum, ok := sums[inst]
		if !ok {
			sum = &ledgerv1.CycleInstitutionTotals{InstitutionId: inst.rec.GetInstitutionId()}
			sums[inst] = sum
		}
		sum.Transactions++
		sum.ChargedMinor += l.GetGrossMinor() - l.GetConcessionMinor()
		sum.CorrectionsMinor += l.GetCorrectionMinor()
		sum.FeeMinor += l.GetFeeMinor()
		sum.NetMinor += l.GetNetMinor()
	})
	out := &ledgerv1.CycleTotals{Cycle: k, FirstSequence: ct.GetFirstSequence(), LastSequence: ct.GetLastSequence(),
		FirstPosting: ct.GetFirstPosting(), LastPosting: ct.GetLastPosting(), Fee: ct.GetFee(), ClosedUnixMs: ct.GetClosedUnixMs()}
	for _, sum := range sums {
		out.Institutions = append(out.Institutions, sum)
	}
	slices.SortFunc(out.Institutions, func(a, b *ledgerv1.CycleInstitutionTotals) int {
		return cmp.Compare(a.GetInstitutionId(), b.GetInstitutionId())
	})
	return out, nil
}
