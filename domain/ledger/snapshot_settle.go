package ledger

import (
	"fmt"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// postingsPerRecord is how many postings one CyclePostings record holds:
// at most ~23 bytes each, far below the 4 MiB record limit.
const postingsPerRecord = 1 << 16

func postingChunks(n int) int { return (n + postingsPerRecord - 1) / postingsPerRecord }

// writeSettlement writes the closed cycles, the postings (in columns, the
// institution as its index in id order) and the batches, after the results.
func (f *Frozen) writeSettlement(sw *recordWriter) {
	cycleRec := &ledgerv1.SnapshotRecord_Cycle{}
	for _, c := range f.cycles {
		cycleRec.Cycle = c
		sw.write(&ledgerv1.SnapshotRecord{Kind: cycleRec})
	}
	if len(f.postings) > 0 {
		index := make(map[*civicardv1.Institution]uint32, len(f.institutions))
		for i, inst := range f.institutions {
			index[inst.rec] = uint32(i)
		}
		chunk := &ledgerv1.CyclePostings{}
		rec := &ledgerv1.SnapshotRecord{Kind: &ledgerv1.SnapshotRecord_Postings{Postings: chunk}}
		for first := 0; first < len(f.postings); first += postingsPerRecord {
			part := f.postings[first:min(first+postingsPerRecord, len(f.postings))]
			chunk.Sequences, chunk.AmountsMinor, chunk.InstitutionIndexes = chunk.Sequences[:0], chunk.AmountsMinor[:0], chunk.InstitutionIndexes[:0]
			for _, p := range part {
				chunk.Sequences = append(chunk.Sequences, p.sequence)
				chunk.AmountsMinor = append(chunk.AmountsMinor, p.amountMinor)
				chunk.InstitutionIndexes = append(chunk.InstitutionIndexes, index[p.inst.rec])
			}
			sw.write(rec)
		}
	}
	batchRec := &ledgerv1.SnapshotRecord_Batch{}
	for _, b := range f.batches {
		batchRec.Batch = b
		sw.write(&ledgerv1.SnapshotRecord{Kind: batchRec})
	}
}

// restoreCycle appends a closed cycle; they come in order, and their
// ranges follow each other (checked against the postings by Check).
func (s *State) restoreCycle(c *ledgerv1.CycleTotals) error {
	want := s.OpenCycle()
	if c.GetCycle() != want {
		return fmt.Errorf("cycle %d where cycle %d is due", c.GetCycle(), want)
	}
	if len(s.cycles) >= cyclesMax {
		return fmt.Errorf("more than %d cycles", cyclesMax)
	}
	s.cycles = append(s.cycles, c)
	return nil
}

// restorePostings appends a run of postings: in ledger order, of known
// institutions, within the ledger sequence.
func (s *State) restorePostings(p *ledgerv1.CyclePostings) error {
	n := len(p.GetSequences())
	if len(p.GetAmountsMinor()) != n || len(p.GetInstitutionIndexes()) != n {
		return fmt.Errorf("postings: %d sequences, %d amounts, %d institutions", n, len(p.GetAmountsMinor()), len(p.GetInstitutionIndexes()))
	}
	for i := range n {
		seq, idx := p.GetSequences()[i], p.GetInstitutionIndexes()[i]
		if seq < 1 || seq > s.sequence {
			return fmt.Errorf("posting at ledger sequence %d, outside [1, %d]", seq, s.sequence)
		}
		if last := len(s.postings); last > 0 && seq < s.postings[last-1].sequence {
			return fmt.Errorf("posting at ledger sequence %d after one at %d", seq, s.postings[last-1].sequence)
		}
		if int(idx) >= len(s.restoringInstitutions) {
			return fmt.Errorf("posting of institution %d of %d", idx, len(s.restoringInstitutions))
		}
		amount := p.GetAmountsMinor()[i]
		if amount < -s.cfg.AmountMaxMinor || amount > s.cfg.AmountMaxMinor {
			return fmt.Errorf("posting of %d outside ±%d", amount, s.cfg.AmountMaxMinor)
		}
		s.postings = append(s.postings, posting{sequence: seq, amountMinor: amount, inst: s.restoringInstitutions[idx]})
	}
	return nil
}

// restoreBatch appends a recorded batch; they come in cycle order.
func (s *State) restoreBatch(b *civicardv1.SettlementBatch) error {
	if want := uint64(len(s.batches)) + 1; b.GetCycle() != want {
		return fmt.Errorf("batch %d where batch %d is due", b.GetCycle(), want)
	}
	if len(s.batches) >= batchesMax {
		return fmt.Errorf("more than %d batches", batchesMax)
	}
	if err := s.checkBatch(b); err != nil {
		return fmt.Errorf("batch %d: %w", b.GetCycle(), err)
	}
	s.batches = append(s.batches, b)
	return nil
}
