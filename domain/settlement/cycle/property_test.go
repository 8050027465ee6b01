package cycle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"civicard/domain/ledger"
	"civicard/domain/settlement/cycle"
	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

var debtor = payout.Party{Name: "Operator", IBAN: "PL61109010140000071219812874", BIC: "WBKPPLPP"}

// history drives random commands at the shards of a local cluster and
// remembers what the institutions must be paid for.
type history struct {
	t     *testing.T
	rng   *rand.Rand
	l     *local
	n     int
	cards []string // open, unblocked cards
	// charged is what every command that moved money did to each
	// institution's receivable: a statement line each.
	charged map[lineKey]charge
	now     time.Time
	// refunds and replacements applied, so a run shows it exercised them.
	refunds, replacements int
}

// lineKey names a statement line: a command, at one institution.
type lineKey struct{ id, institution string }

// charge is what a command did to an institution's receivable: charges
// paid into it, refunds and corrections paid out of it.
type charge struct {
	amountMinor     int64
	correctionMinor int64
	timeUnixMs      int64
	offline         bool
}

// institutions: I3 has no IBAN, so its money is carried, never paid.
var institutionIDs = []string{"I0", "I1", "I2", "I3"}

func newHistory(t *testing.T, seed uint64, shards int) *history {
	h := &history{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x5e771e)), l: &local{}, charged: map[lineKey]charge{},
		now: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)}
	newState := func() *ledger.State {
		s, err := ledger.New(ledger.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h.l.registry = newState()
	for range shards {
		h.l.shards = append(h.l.shards, newState())
	}
	for i, id := range institutionIDs {
		rec := &civicardv1.Institution{InstitutionId: id, Name: "Institution " + id, Kind: civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT,
			Services: []*civicardv1.Service{{Code: "RIDE", UnitPriceMinor: 400}}}
		if id != "I3" {
			iban, err := payout.PolishIBAN("10205561", fmt.Sprintf("%016d", 100+i))
			if err != nil {
				t.Fatal(err)
			}
			rec.Iban = iban
		}
		cmd := &ledgerv1.Command{Id: "inst/" + id, Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{Institution: rec}}}
		for _, s := range append([]*ledger.State{h.l.registry}, h.l.shards...) {
			if res := s.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
				t.Fatal(res.GetError())
			}
		}
	}
	for range 12 {
		h.openCard()
	}
	return h
}

func (h *history) id(kind string) string {
	h.n++
	return fmt.Sprintf("%s/%d", kind, h.n)
}

// shardOf places a card: by its number, as the cluster does by hash.
func (h *history) shardOf(card string) *ledger.State {
	var n int
	fmt.Sscanf(card, "C%d", &n)
	return h.l.shards[n%len(h.l.shards)]
}

func (h *history) apply(s *ledger.State, cmd *ledgerv1.Command) *ledgerv1.Result {
	res := s.Apply(cmd)
	if res.GetStatus() == ledgerv1.Status_STATUS_REJECTED && res.GetRejectReason() == ledgerv1.RejectReason_REJECT_REASON_UNSPECIFIED {
		h.t.Fatalf("%s: ledger invariant broken: %s", cmd.GetId(), res.GetError())
	}
	return res
}

func (h *history) openCard() {
	card := fmt.Sprintf("C%d", h.n)
	h.n++
	h.apply(h.shardOf(card), &ledgerv1.Command{Id: "open/" + card, Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{CardId: card, Kind: civicardv1.CardKind_CARD_KIND_BEARER}}})
	h.cards = append(h.cards, card)
}

func (h *history) step() {
	card := h.cards[h.rng.IntN(len(h.cards))]
	s := h.shardOf(card)
	inst := institutionIDs[h.rng.IntN(len(institutionIDs))]
	h.now = h.now.Add(time.Duration(h.rng.IntN(60)) * time.Second)
	switch r := h.rng.IntN(100); {
	case r < 50: // a tap online
		st, _ := s.Card(card)
		amount := h.rng.Int64N(800)
		id := h.id("tap")
		res := h.apply(s, &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
			CardId: card, ExpectedVersion: st.GetVersion(), AmountMinor: amount, InstitutionId: inst,
			TerminalId: "T-" + inst, ServiceCode: "RIDE", Quantity: 1, TimeUnixMs: h.now.UnixMilli(),
		}}})
		if res.GetStatus() == ledgerv1.Status_STATUS_OK {
			h.charged[lineKey{id, inst}] = charge{amountMinor: amount, timeUnixMs: h.now.UnixMilli()}
		}
	case r < 62: // a priced tap: a check-out refund (or a correction) and a check-in, maybe at another institution
		h.pricedTap(s, card, inst)
	case r < 75:
		h.apply(s, &ledgerv1.Command{Id: h.id("topup"), Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: card, AmountMinor: 1 + h.rng.Int64N(3000)}}})
	case r < 90: // a late offline upload: the tap happened hours ago
		amount := 1 + h.rng.Int64N(1500)
		at := h.now.Add(-time.Duration(1+h.rng.IntN(20)) * time.Hour).UnixMilli()
		id := h.id("offline")
		res := h.apply(s, &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
			CardId: card, AmountMinor: amount, InstitutionId: inst, Offline: true,
			TerminalId: "T-" + inst, ServiceCode: "RIDE", Quantity: 1, TimeUnixMs: at,
		}}})
		if res.GetStatus() == ledgerv1.Status_STATUS_OK {
			h.charged[lineKey{id, inst}] = charge{amountMinor: amount, timeUnixMs: at, offline: true}
		}
	case r < 94: // a card replaced: its money and state move to a new card of its shard, the old one is blocked
		newCard := ""
		for newCard == "" || h.shardOf(newCard) != s {
			newCard = fmt.Sprintf("C%d", h.n)
			h.n++
		}
		res := h.apply(s, &ledgerv1.Command{Id: h.id("replace"), Kind: &ledgerv1.Command_ReplaceCard{ReplaceCard: &ledgerv1.ReplaceCard{
			CardId: card, NewCardId: newCard, Audit: &civicardv1.Audit{Actor: "operator/test", Reason: "lost", TimeUnixMs: h.now.UnixMilli()},
		}}})
		if res.GetStatus() == ledgerv1.Status_STATUS_OK {
			h.replacements++
			for i, c := range h.cards {
				if c == card {
					h.cards[i] = newCard
					break
				}
			}
		}
	default: // a retry of a recent tap: changes nothing
		if h.n > 2 {
			h.apply(s, &ledgerv1.Command{Id: fmt.Sprintf("tap/%d", h.n-1), Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: card, AmountMinor: 1, InstitutionId: inst}}})
		}
	}
}

// pricedTap charges a card the way the fare engine prices a check-out
// followed by a check-in: a refund (or a correction) from one institution's
// receivable, a fare to another's (or the same), in one command.
func (h *history) pricedTap(s *ledger.State, card, refunding string) {
	st, _ := s.Card(card)
	charging := institutionIDs[h.rng.IntN(len(institutionIDs))]
	refund, fare := 1+h.rng.Int64N(300), 1+h.rng.Int64N(800)
	what := "check-out refund"
	if h.rng.IntN(4) == 0 {
		what = "correction"
	}
	id := h.id("priced")
	res := h.apply(s, &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
		CardId: card, ExpectedVersion: st.GetVersion(), AmountMinor: fare - refund, InstitutionId: charging,
		TerminalId: "T-" + charging, ServiceCode: "CICO", Quantity: 1, TimeUnixMs: h.now.UnixMilli(),
		Postings: []*ledgerv1.Posting{
			{InstitutionId: refunding, Product: "CICO", AmountMinor: -refund, What: what},
			{InstitutionId: charging, Product: "CICO", AmountMinor: fare, What: "check-in"},
		},
		Tariff: &ledgerv1.TariffState{Bearer: true},
	}}})
	if res.GetStatus() != ledgerv1.Status_STATUS_OK {
		return
	}
	h.refunds++
	out := h.charged[lineKey{id, refunding}]
	out.correctionMinor, out.timeUnixMs = refund, h.now.UnixMilli()
	h.charged[lineKey{id, refunding}] = out
	in := h.charged[lineKey{id, charging}]
	in.amountMinor, in.timeUnixMs = fare, h.now.UnixMilli()
	h.charged[lineKey{id, charging}] = in
}

// settle closes the open cycle, now and then crashing the coordinator
// mid-way and running it again, as a new leader would.
func (h *history) settle(cfg cycle.Config) *civicardv1.SettlementBatch {
	ctx := context.Background()
	if h.rng.IntN(3) == 0 {
		h.l.proposals, h.l.failAfter = 0, 1+h.rng.IntN(8)
		b, err := cycle.Settle(ctx, h.l, cfg, 0)
		h.l.failAfter = 0
		switch {
		case err == nil: // it finished before the crash came
			return b
		case !errors.Is(err, errCrash):
			h.t.Fatalf("settle with a crash: %v", err)
		}
	}
	b, err := cycle.Settle(ctx, h.l, cfg, 0)
	if err != nil {
		h.t.Fatalf("settle: %v", err)
	}
	return b
}

// TestSettlementProperties runs random histories with cycles closing at
// random points (taps, priced taps with refunds and corrections, top-ups,
// late offline uploads, card replacements, retries), the coordinator
// crashing mid-way now and then, and
// checks after every batch: every charge settled in exactly one cycle with
// its own time; every institution's statements sum to what it was paid and
// carries; the books reconcile; every ledger passes Check and restores from
// its snapshot to the same digest.
func TestSettlementProperties(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 5
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := newHistory(t, seed, 1+int(seed%3))
			cfg := cycle.Config{Currency: "PLN", Now: func() time.Time { return h.now },
				Fee: &civicardv1.CycleFeePolicy{BasisPoints: h.rng.Int64N(500), PerTransactionMinor: h.rng.Int64N(20)}}
			var batches []*civicardv1.SettlementBatch
			for range 400 {
				h.step()
				if h.rng.IntN(60) == 0 {
					batches = append(batches, h.settle(cfg))
					h.verify(batches)
				}
			}
			batches = append(batches, h.settle(cfg))
			h.verify(batches)
			if again, err := cycle.Settle(context.Background(), h.l, cfg, batches[len(batches)-1].GetCycle()); err != nil || !again.GetPaid() {
				t.Fatalf("settling a paid batch again: %v", err)
			}
			h.verify(batches)
			if h.refunds == 0 || h.replacements == 0 {
				t.Fatalf("the history applied %d refunds and %d replacements: it must exercise both", h.refunds, h.replacements)
			}
		})
	}
}

func (h *history) verify(batches []*civicardv1.SettlementBatch) {
	t := h.t
	t.Helper()
	ctx := context.Background()
	for i, b := range batches {
		if b.GetCycle() != uint64(i)+1 || !b.GetPaid() {
			t.Fatalf("batch %d is cycle %d, paid %v", i+1, b.GetCycle(), b.GetPaid())
		}
	}
	// Every charge is on exactly one statement, with its amount and time.
	seen := map[lineKey]uint64{}
	netOf := map[string]int64{}
	for _, b := range batches {
		for _, inst := range institutionIDs {
			st, err := cycle.Statement(ctx, h.l, b.GetCycle(), inst)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range st.GetLines() {
				key := lineKey{line.GetTransactionId(), inst}
				if k, dup := seen[key]; dup {
					t.Fatalf("%s is on %s's statements of cycles %d and %d", line.GetTransactionId(), inst, k, b.GetCycle())
				}
				seen[key] = b.GetCycle()
				want, ok := h.charged[key]
				switch {
				case !ok:
					t.Fatalf("cycle %d: %s on %s's statement moved no money", b.GetCycle(), line.GetTransactionId(), inst)
				case line.GetGrossMinor()-line.GetConcessionMinor() != want.amountMinor || line.GetCorrectionMinor() != want.correctionMinor:
					t.Fatalf("cycle %d: %s: %s charged %d and refunded %d, want %d and %d", b.GetCycle(), line.GetTransactionId(), inst,
						line.GetGrossMinor()-line.GetConcessionMinor(), line.GetCorrectionMinor(), want.amountMinor, want.correctionMinor)
				case line.GetTimeUnixMs() != want.timeUnixMs || line.GetOffline() != want.offline:
					t.Fatalf("%s: time %d offline %v, want %d %v", line.GetTransactionId(), line.GetTimeUnixMs(), line.GetOffline(), want.timeUnixMs, want.offline)
				}
			}
			if st.GetTotals().GetNetMinor()+st.GetCarriedInMinor() != st.GetPayableMinor()+st.GetCarriedOutMinor() {
				t.Fatalf("cycle %d %s: statement net %d + carried %d != paid %d + carried %d", b.GetCycle(), inst,
					st.GetTotals().GetNetMinor(), st.GetCarriedInMinor(), st.GetPayableMinor(), st.GetCarriedOutMinor())
			}
			netOf[inst] += st.GetTotals().GetNetMinor()
		}
	}
	for key := range h.charged {
		if _, ok := seen[key]; !ok {
			t.Fatalf("%s at %s is on no statement", key.id, key.institution)
		}
	}
	// What the institutions earned is what they were paid plus what the
	// last batch carries.
	last := batches[len(batches)-1]
	var paidTotal int64
	for _, inst := range institutionIDs {
		var paid, carried int64
		for _, b := range batches {
			for _, bi := range b.GetInstitutions() {
				if bi.GetInstitutionId() == inst {
					paid += bi.GetPayableMinor()
				}
			}
		}
		for _, bi := range last.GetInstitutions() {
			if bi.GetInstitutionId() == inst {
				carried = bi.GetCarriedOutMinor()
			}
		}
		if paid+carried != netOf[inst] {
			t.Fatalf("%s: statements net %d, paid %d + carried %d", inst, netOf[inst], paid, carried)
		}
		if inst == "I3" && paid != 0 {
			t.Fatalf("I3 has no IBAN but was paid %d", paid)
		}
		paidTotal += paid
	}
	rep, err := cycle.Reconcile(ctx, h.l, len(batches), debtor)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("reconcile: %q", rep.Mismatches)
	}
	var payouts int64
	for _, s := range append([]*ledger.State{h.l.registry}, h.l.shards...) {
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		payouts += s.Totals().PayoutsMinor
		var buf bytes.Buffer
		if _, err := s.Freeze().WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		restored, err := ledger.Restore(ledger.DefaultConfig(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		if restored.Freeze().Digest() != s.Freeze().Digest() {
			t.Fatal("a restored ledger digests differently")
		}
	}
	if payouts != paidTotal {
		t.Fatalf("the payouts accounts hold %d, the batches paid %d", payouts, paidTotal)
	}
	// A node with no payout debtor cannot make the files: the books are
	// reconciled all the same, and the files are said to be unchecked.
	blind, err := cycle.Reconcile(ctx, h.l, len(batches), payout.Party{})
	if err != nil || !blind.OK() {
		t.Fatalf("reconcile without a debtor: %v, %q", err, blind.Mismatches)
	}
	if unchecked := strings.Count(strings.Join(blind.Checks, "\n"), "payout file not checked"); paidTotal > 0 && unchecked == 0 {
		t.Fatalf("reconcile without a debtor says nothing of the files: %q", blind.Checks)
	}
}
