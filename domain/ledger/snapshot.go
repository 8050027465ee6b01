package ledger

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// snapshotFormatVersion is written in the header; Restore refuses others.
const snapshotFormatVersion = 1

// Frozen is an immutable copy of a State, taken by Freeze under the caller's
// lock and written by WriteTo later without it, while Apply goes on. It is
// cheap because most of the state is immutable once written: institutions,
// terminals and stored results are shared by pointer, the log by its
// append-only prefix; only the card states, which Apply mutates, are copied.
// WriteTo and Digest may be called from several goroutines.
type Frozen struct {
	sequence     uint64
	fundingMinor int64
	seeds        []uint64
	institutions []frozenInstitution
	terminals    []*civicardv1.Terminal
	cards        []card // copies without history: Restore rebuilds it from the results
	results      []storedResult
	payoutsMinor int64
	feesMinor    int64
	postings     []posting
	cycles       []*ledgerv1.CycleTotals
	batches      []*civicardv1.SettlementBatch
	clusterNodes []*ledgerv1.ClusterNode
	placements   []*ledgerv1.GroupPlacement
	// The tariff's records, shared: a set replaces them whole.
	region     *ledgerv1.RegionRecord
	priceLists []*ledgerv1.PriceListRecord
	// The users, shared: a change replaces a record.
	users []*ledgerv1.User
	// The audit chain, shared like results.
	auditChain []*ledgerv1.AuditLink

	// Sorting is left to the first WriteTo or Digest, outside the lock.
	sortOnce sync.Once
}

type frozenInstitution struct {
	rec             *civicardv1.Institution
	receivableMinor int64
	settledMinor    int64
}

// Freeze takes an immutable copy of the state for a snapshot. Call it under
// the same lock as Apply; the Frozen needs no lock afterwards.
func (s *State) Freeze() *Frozen {
	f := &Frozen{
		sequence:     s.sequence,
		fundingMinor: s.fundingMinor,
		seeds:        make([]uint64, 0, len(s.seeds)),
		institutions: make([]frozenInstitution, 0, len(s.institutions)),
		terminals:    make([]*civicardv1.Terminal, 0, len(s.terminals)),
		cards:        make([]card, 0, len(s.cards)),
		// The full slice expression stops anything from appending into the
		// shared array through f.results.
		results:      s.log[:len(s.log):len(s.log)],
		payoutsMinor: s.payoutsMinor,
		feesMinor:    s.feesMinor,
		postings:     s.postings[:len(s.postings):len(s.postings)],
		cycles:       s.cycles[:len(s.cycles):len(s.cycles)],
		// MarkPaid replaces elements of batches: copy the (short) slice.
		batches: slices.Clone(s.batches),
	}
	f.clusterNodes, f.placements = s.cluster.freeze()
	f.region, f.priceLists = s.tariff.region, s.tariff.sortedLists()
	f.users = s.users.sorted()
	f.auditChain = s.AuditChain()
	for seed := range s.seeds {
		f.seeds = append(f.seeds, seed)
	}
	for _, inst := range s.institutions {
		f.institutions = append(f.institutions, frozenInstitution{rec: inst.rec, receivableMinor: inst.receivableMinor, settledMinor: inst.settledMinor})
	}
	for _, t := range s.terminals {
		f.terminals = append(f.terminals, t)
	}
	for _, c := range s.cards {
		cc := *c
		cc.history = nil
		f.cards = append(f.cards, cc)
	}
	return f
}

// sort puts everything in id order; map iteration order must not reach the
// bytes.
func (f *Frozen) sort() {
	f.sortOnce.Do(func() {
		slices.Sort(f.seeds)
		slices.SortFunc(f.institutions, func(a, b frozenInstitution) int {
			return cmp.Compare(a.rec.GetInstitutionId(), b.rec.GetInstitutionId())
		})
		slices.SortFunc(f.terminals, func(a, b *civicardv1.Terminal) int {
			return cmp.Compare(a.GetTerminalId(), b.GetTerminalId())
		})
		slices.SortFunc(f.cards, func(a, b card) int { return cmp.Compare(a.id, b.id) })
	})
}

// WriteTo writes the snapshot: a stream of SnapshotRecords, each preceded by
// its length as a uvarint (the protodelim framing), marshalled
// deterministically. First the header, then institutions, terminals and
// cards, each in id order, then the stored results in ledger order. Equal
// states write equal bytes.
func (f *Frozen) WriteTo(w io.Writer) (int64, error) {
	f.sort()
	bw := bufio.NewWriterSize(w, 64<<10)
	sw := recordWriter{w: bw}

	header := &ledgerv1.SnapshotHeader{
		FormatVersion:       snapshotFormatVersion,
		LedgerSequence:      f.sequence,
		FundingBalanceMinor: f.fundingMinor,
		Seeds:               f.seeds,
		Receivables:         make([]*ledgerv1.Receivable, len(f.institutions)),
		RecordCount: uint64(len(f.institutions) + len(f.terminals) + tariffRecords(f.region, f.priceLists) + len(f.users) + len(f.cards) + len(f.results) +
			len(f.cycles) + postingChunks(len(f.postings)) + len(f.batches) + len(f.auditChain)),
		PayoutsMinor: f.payoutsMinor,
		FeesMinor:    f.feesMinor,
		ClusterNodes: f.clusterNodes,
		Placements:   f.placements,
	}
	settled := false
	for i, inst := range f.institutions {
		header.Receivables[i] = &ledgerv1.Receivable{InstitutionId: inst.rec.GetInstitutionId(), BalanceMinor: inst.receivableMinor}
		settled = settled || inst.settledMinor != 0
	}
	// Written only once a payout was posted, so a ledger that never
	// settled writes the bytes it always did.
	if settled {
		header.SettledMinor = make([]int64, len(f.institutions))
		for i, inst := range f.institutions {
			header.SettledMinor[i] = inst.settledMinor
		}
	}
	sw.write(&ledgerv1.SnapshotRecord{Kind: &ledgerv1.SnapshotRecord_Header{Header: header}})

	// One wrapper per kind, refilled for every record: the records are
	// marshalled at once, so nothing keeps a reference.
	instRec := &ledgerv1.SnapshotRecord_Institution{}
	for _, inst := range f.institutions {
		instRec.Institution = inst.rec
		sw.write(&ledgerv1.SnapshotRecord{Kind: instRec})
	}
	termRec := &ledgerv1.SnapshotRecord_Terminal{}
	for _, t := range f.terminals {
		termRec.Terminal = t
		sw.write(&ledgerv1.SnapshotRecord{Kind: termRec})
	}
	// Written only once set, so a ledger without a tariff writes the bytes
	// it always did.
	if f.region != nil {
		sw.write(&ledgerv1.SnapshotRecord{Kind: &ledgerv1.SnapshotRecord_Region{Region: f.region}})
	}
	for _, rec := range f.priceLists {
		sw.write(&ledgerv1.SnapshotRecord{Kind: &ledgerv1.SnapshotRecord_PriceList{PriceList: rec}})
	}
	for _, rec := range f.users {
		sw.write(&ledgerv1.SnapshotRecord{Kind: &ledgerv1.SnapshotRecord_User{User: rec}})
	}
	cardRec := &ledgerv1.SnapshotRecord_Card{}
	for i := range f.cards {
		cardRec.Card = f.cards[i].state()
		sw.write(&ledgerv1.SnapshotRecord{Kind: cardRec})
	}
	resRec := &ledgerv1.SnapshotRecord_Result{Result: &ledgerv1.StoredResult{}}
	for _, r := range f.results {
		resRec.Result.Id, resRec.Result.Result = r.id, r.result
		sw.write(&ledgerv1.SnapshotRecord{Kind: resRec})
	}
	f.writeSettlement(&sw)
	for _, link := range f.auditChain {
		sw.write(&ledgerv1.SnapshotRecord{Kind: &ledgerv1.SnapshotRecord_AuditLink{AuditLink: link}})
	}
	if sw.err == nil {
		sw.err = bw.Flush()
	}
	if sw.err != nil {
		return sw.n, fmt.Errorf("ledger snapshot: %w", sw.err)
	}
	return sw.n, nil
}

// tariffRecords counts the tariff's snapshot records.
func tariffRecords(region *ledgerv1.RegionRecord, lists []*ledgerv1.PriceListRecord) int {
	if region == nil {
		return len(lists)
	}
	return 1 + len(lists)
}

// Digest returns the SHA-256 of the snapshot bytes: equal states, equal
// digests. Replicas compare digests to find divergence; tests compare them
// before and after a replay.
func (f *Frozen) Digest() [32]byte {
	h := sha256.New()
	if _, err := f.WriteTo(h); err != nil {
		// A hash never fails to write, and every stored string was checked
		// to be valid UTF-8, so marshalling cannot fail either. Should it,
		// the digest still depends on the state alone: it is that of the
		// error, which no valid snapshot matches.
		return sha256.Sum256([]byte(err.Error()))
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// recordWriter frames records and remembers the first error, so WriteTo
// reads as a list of records.
type recordWriter struct {
	w   io.Writer
	buf []byte
	n   int64
	err error
}

var marshalOptions = proto.MarshalOptions{Deterministic: true}

func (rw *recordWriter) write(rec *ledgerv1.SnapshotRecord) {
	if rw.err != nil {
		return
	}
	size := marshalOptions.Size(rec)
	if size > recordBytesMax {
		rw.err = fmt.Errorf("a %T record is %d bytes, more than %d", rec.GetKind(), size, recordBytesMax)
		return
	}
	rw.buf = protowire.AppendVarint(rw.buf[:0], uint64(size))
	rw.buf, rw.err = marshalOptions.MarshalAppend(rw.buf, rec)
	if rw.err != nil {
		return
	}
	var n int
	n, rw.err = rw.w.Write(rw.buf)
	rw.n += int64(n)
}

// Restore reads a snapshot written by WriteTo and rebuilds the State: the
// accounts, the idempotency results, and each card's transaction list (from
// the results, capped at cfg.HistoryMax). It refuses, with an error naming
// the record, a stream that is truncated, has trailing bytes, records out of
// order or duplicated, a record over 4 MiB, a record count or ledger
// sequence that does not match, or accounts that fail Check.
func Restore(cfg Config, r io.Reader) (*State, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.restore(bufio.NewReaderSize(r, 64<<10)); err != nil {
		return nil, fmt.Errorf("ledger restore: %w", err)
	}
	return s, nil
}

// Record kinds in the order a snapshot holds them.
const (
	phaseHeader = iota
	phaseInstitutions
	phaseTerminals
	phaseRegion
	phasePriceLists
	phaseUsers
	phaseCards
	phaseResults
	phaseCycles
	phasePostings
	phaseBatches
	phaseAuditLinks
)

func (s *State) restore(br *bufio.Reader) error {
	opts := protodelim.UnmarshalOptions{
		MaxSize: recordBytesMax,
		// Unknown fields would be written back and change the digest; the
		// format version guards against a newer writer.
		UnmarshalOptions: proto.UnmarshalOptions{DiscardUnknown: true},
	}

	first := &ledgerv1.SnapshotRecord{}
	if err := opts.UnmarshalFrom(br, first); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty snapshot")
		}
		return fmt.Errorf("header: %w", err)
	}
	header := first.GetHeader()
	if header == nil {
		return fmt.Errorf("the first record is a %T, not a header", first.GetKind())
	}
	if v := header.GetFormatVersion(); v != snapshotFormatVersion {
		return fmt.Errorf("format version %d, want %d", v, snapshotFormatVersion)
	}
	if err := s.restoreHeader(header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	receivables := header.GetReceivables()

	phase := phaseHeader
	var lastID string
	receivablesDone := false
	for i := uint64(0); i < header.GetRecordCount(); i++ {
		rec := &ledgerv1.SnapshotRecord{}
		if err := opts.UnmarshalFrom(br, rec); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("record %d of %d: %w", i+1, header.GetRecordCount(), err)
		}
		var recPhase int
		var id string
		switch k := rec.GetKind().(type) {
		case *ledgerv1.SnapshotRecord_Institution:
			recPhase, id = phaseInstitutions, k.Institution.GetInstitutionId()
		case *ledgerv1.SnapshotRecord_Terminal:
			recPhase, id = phaseTerminals, k.Terminal.GetTerminalId()
		case *ledgerv1.SnapshotRecord_Region:
			recPhase = phaseRegion
		case *ledgerv1.SnapshotRecord_PriceList:
			recPhase, id = phasePriceLists, k.PriceList.GetPriceList().GetInstitutionId()
		case *ledgerv1.SnapshotRecord_User:
			recPhase, id = phaseUsers, k.User.GetName()
		case *ledgerv1.SnapshotRecord_Card:
			recPhase, id = phaseCards, k.Card.GetCardId()
		case *ledgerv1.SnapshotRecord_Result:
			recPhase, id = phaseResults, k.Result.GetId()
		case *ledgerv1.SnapshotRecord_Cycle:
			recPhase = phaseCycles
		case *ledgerv1.SnapshotRecord_Postings:
			recPhase = phasePostings
		case *ledgerv1.SnapshotRecord_Batch:
			recPhase = phaseBatches
		case *ledgerv1.SnapshotRecord_AuditLink:
			recPhase = phaseAuditLinks
		default:
			return fmt.Errorf("record %d: a %T record after the header", i+1, rec.GetKind())
		}
		if recPhase < phase {
			return fmt.Errorf("record %d: %T record %s out of order", i+1, rec.GetKind(), clip(id))
		}
		// Entities come in strictly increasing id order (no duplicates);
		// results in ledger order, their ids unique.
		if recPhase == phase && recPhase < phaseResults && id <= lastID {
			return fmt.Errorf("record %d: %T record %s is not after %s", i+1, rec.GetKind(), clip(id), clip(lastID))
		}
		// The receivables in the header can be matched once the last
		// institution record is in.
		if recPhase > phaseInstitutions && !receivablesDone {
			if err := s.restoreReceivables(receivables); err != nil {
				return fmt.Errorf("header: %w", err)
			}
			receivablesDone = true
		}
		phase = recPhase
		lastID = id
		var err error
		switch k := rec.GetKind().(type) {
		case *ledgerv1.SnapshotRecord_Institution:
			err = s.restoreInstitution(k.Institution)
		case *ledgerv1.SnapshotRecord_Terminal:
			err = s.restoreTerminal(k.Terminal)
		case *ledgerv1.SnapshotRecord_Region:
			err = s.restoreRegion(k.Region)
		case *ledgerv1.SnapshotRecord_PriceList:
			err = s.restorePriceList(k.PriceList)
		case *ledgerv1.SnapshotRecord_User:
			err = s.restoreUser(k.User)
		case *ledgerv1.SnapshotRecord_Card:
			err = s.restoreCard(k.Card)
		case *ledgerv1.SnapshotRecord_Result:
			err = s.restoreResult(k.Result)
		case *ledgerv1.SnapshotRecord_Cycle:
			err = s.restoreCycle(k.Cycle)
		case *ledgerv1.SnapshotRecord_Postings:
			err = s.restorePostings(k.Postings)
		case *ledgerv1.SnapshotRecord_Batch:
			err = s.restoreBatch(k.Batch)
		case *ledgerv1.SnapshotRecord_AuditLink:
			err = s.restoreAuditLink(k.AuditLink)
		}
		if err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
	}
	if !receivablesDone {
		if err := s.restoreReceivables(receivables); err != nil {
			return fmt.Errorf("header: %w", err)
		}
	}
	s.restoringInstitutions = nil
	if _, err := br.ReadByte(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("after %d records: %w", header.GetRecordCount(), err)
		}
		return fmt.Errorf("trailing bytes after %d records", header.GetRecordCount())
	}
	if got := uint64(len(s.log)); got != s.sequence {
		return fmt.Errorf("%d results for ledger sequence %d", got, s.sequence)
	}
	return s.Check()
}

func (s *State) restoreHeader(h *ledgerv1.SnapshotHeader) error {
	if len(h.GetSeeds()) > seedsMax {
		return fmt.Errorf("%d seeds, more than %d", len(h.GetSeeds()), seedsMax)
	}
	for i, seed := range h.GetSeeds() {
		if i > 0 && seed <= h.GetSeeds()[i-1] {
			return fmt.Errorf("seeds not in increasing order at %d", seed)
		}
		s.seeds[seed] = struct{}{}
	}
	if len(h.GetReceivables()) > institutionsMax {
		return fmt.Errorf("%d receivables, more than %d institutions", len(h.GetReceivables()), institutionsMax)
	}
	if err := s.restoreCluster(h); err != nil {
		return err
	}
	s.fundingMinor = h.GetFundingBalanceMinor()
	s.payoutsMinor, s.feesMinor = h.GetPayoutsMinor(), h.GetFeesMinor()
	s.restoringSettled = h.GetSettledMinor()
	// The results are replayed into the log one by one; the sequence they
	// must reach is checked at the end.
	s.sequence = h.GetLedgerSequence()
	return nil
}

// restoreReceivables runs once all institution records are in: the header
// holds one receivable per institution, in id order.
func (s *State) restoreReceivables(receivables []*ledgerv1.Receivable) error {
	if len(receivables) != len(s.institutions) {
		return fmt.Errorf("%d receivables for %d institutions", len(receivables), len(s.institutions))
	}
	if n := len(s.restoringSettled); n != 0 && n != len(receivables) {
		return fmt.Errorf("%d settled amounts for %d receivables", n, len(receivables))
	}
	s.restoringInstitutions = make([]*institution, len(receivables))
	for i, r := range receivables {
		id := r.GetInstitutionId()
		if i > 0 && id <= receivables[i-1].GetInstitutionId() {
			return fmt.Errorf("receivable %s is not after %s", clip(id), clip(receivables[i-1].GetInstitutionId()))
		}
		inst, ok := s.institutions[id]
		if !ok {
			return fmt.Errorf("receivable of unknown institution %s", clip(id))
		}
		sum, ok := add(s.receivablesMinor, r.GetBalanceMinor())
		if !ok {
			return errors.New("the receivables overflow")
		}
		inst.receivableMinor, s.receivablesMinor = r.GetBalanceMinor(), sum
		if len(s.restoringSettled) > 0 {
			inst.settledMinor = s.restoringSettled[i]
		}
		s.restoringInstitutions[i] = inst
	}
	return nil
}

func (s *State) restoreInstitution(rec *civicardv1.Institution) error {
	if err := checkInstitution(rec, s.cfg.AmountMaxMinor); err != nil {
		return err
	}
	if len(s.institutions) >= institutionsMax {
		return fmt.Errorf("more than %d institutions", institutionsMax)
	}
	s.institutions[rec.GetInstitutionId()] = &institution{rec: rec}
	return nil
}

func (s *State) restoreTerminal(rec *civicardv1.Terminal) error {
	if err := checkTerminal(rec); err != nil {
		return err
	}
	if _, ok := s.institutions[rec.GetInstitutionId()]; !ok {
		return fmt.Errorf("terminal %s: institution %s not found", clip(rec.GetTerminalId()), clip(rec.GetInstitutionId()))
	}
	s.terminals[rec.GetTerminalId()] = rec
	return nil
}

func (s *State) restoreCard(cs *ledgerv1.CardState) error {
	if err := checkCardFields(cs.GetCardId(), cs.GetKind(), cs.GetHolderName()); err != nil {
		return err
	}
	if err := checkTariff(cs.GetTariff()); err != nil {
		return fmt.Errorf("card %s: %w", clip(cs.GetCardId()), err)
	}
	for _, link := range [...]string{cs.GetReplacedBy(), cs.GetReplaces()} {
		if err := checkText("replacement link", link, cardIDBytesMax, false); err != nil {
			return err
		}
	}
	// Balances, versions and statuses are checked by Check at the end; only
	// the sum needs guarding here, against overflow.
	sum, ok := add(s.cardsMinor, cs.GetBalanceMinor())
	if !ok {
		return errors.New("the card balances overflow")
	}
	s.cardsMinor = sum
	s.cards[cs.GetCardId()] = &card{
		id:            cs.GetCardId(),
		kind:          cs.GetKind(),
		status:        cs.GetStatus(),
		holderName:    cs.GetHolderName(),
		balanceMinor:  cs.GetBalanceMinor(),
		debtMinor:     cs.GetDebtMinor(),
		version:       cs.GetVersion(),
		tariff:        cs.GetTariff(),
		expiresUnixMs: cs.GetExpiresUnixMs(),
		replacedBy:    cs.GetReplacedBy(),
		replaces:      cs.GetReplaces(),
	}
	return nil
}

// restoreResult files a stored result under its id and, if it wrote a
// transaction, appends that to the card's list. The results hold no
// sequence of their own: the n results of a snapshot at sequence n are
// numbered 1..n, and each transaction must carry its number.
func (s *State) restoreResult(sr *ledgerv1.StoredResult) error {
	id, res := sr.GetId(), sr.GetResult()
	if err := checkCommandID(id); err != nil {
		return err
	}
	if _, dup := s.results[id]; dup {
		return fmt.Errorf("result %s appears twice", clip(id))
	}
	if err := checkStoredResult(res); err != nil {
		return fmt.Errorf("result %s: %w", clip(id), err)
	}
	seq := uint64(len(s.log)) + 1
	if seq > s.sequence {
		return fmt.Errorf("result %s is beyond ledger sequence %d", clip(id), s.sequence)
	}
	if cs := res.GetCard(); cs != nil {
		if _, ok := s.cards[cs.GetCardId()]; !ok {
			return fmt.Errorf("result %s: card %s not found", clip(id), clip(cs.GetCardId()))
		}
	}
	// A replacement's record of the new card comes first, as Apply wrote it.
	for _, tx := range [...]*civicardv1.Transaction{res.GetRelatedTransaction(), res.GetTransaction()} {
		if tx == nil {
			continue
		}
		if err := s.checkRestoredTransaction(id, seq, tx); err != nil {
			return fmt.Errorf("result %s: %w", clip(id), err)
		}
		s.cards[tx.GetCardId()].appendHistory(tx, s.cfg.HistoryMax)
	}
	s.results[id] = res
	s.log = append(s.log, storedResult{id: id, result: res})
	return nil
}

func (s *State) checkRestoredTransaction(id string, seq uint64, tx *civicardv1.Transaction) error {
	if tx.GetTransactionId() != id {
		return fmt.Errorf("transaction id %s", clip(tx.GetTransactionId()))
	}
	if tx.GetLedgerSequence() != seq {
		return fmt.Errorf("transaction has ledger sequence %d, want %d", tx.GetLedgerSequence(), seq)
	}
	if _, ok := s.cards[tx.GetCardId()]; !ok {
		return fmt.Errorf("transaction of unknown card %s", clip(tx.GetCardId()))
	}
	for _, m := range [...]*civicardv1.Money{tx.GetAmount(), tx.GetBalanceAfter()} {
		if m.GetCurrency() != s.cfg.Currency {
			return fmt.Errorf("transaction in currency %s, the ledger keeps %s", clip(m.GetCurrency()), s.cfg.Currency)
		}
	}
	return nil
}
