package ledger_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// generator makes random commands over a small universe, so that cards,
// institutions and ids collide often: duplicates, stale versions, unknown
// references, out-of-range amounts and plain garbage.
type generator struct {
	rng   *rand.Rand
	cfg   ledger.Config
	n     int
	cards int // card ids C0..C<cards-1> have been opened (or tried)
	past  []*ledgerv1.Command
}

const genInstitutions = 3

// cardID picks a recent card mostly, as taps do, and now and then one that
// was never opened.
func (g *generator) cardID() string {
	if g.cards == 0 || g.rng.IntN(20) == 0 {
		return fmt.Sprintf("C%d", g.cards+g.rng.IntN(2))
	}
	if g.rng.IntN(4) == 0 {
		return fmt.Sprintf("C%d", g.rng.IntN(g.cards))
	}
	return fmt.Sprintf("C%d", max(0, g.cards-1-g.rng.IntN(5)))
}
func (g *generator) instID() string { return fmt.Sprintf("I%d", g.rng.IntN(genInstitutions)) }

// amount is mostly a plausible fare or top-up, sometimes an edge.
func (g *generator) amount() int64 {
	switch g.rng.IntN(20) {
	case 0:
		return -1
	case 1:
		return 0
	case 2:
		return g.cfg.AmountMaxMinor
	case 3:
		return g.cfg.AmountMaxMinor + 1
	case 4:
		return []int64{math.MaxInt64, math.MinInt64, -g.cfg.AmountMaxMinor}[g.rng.IntN(3)]
	}
	return g.rng.Int64N(3000) + 1
}

// version is mostly the card's current one, sometimes an old or a random one.
func (g *generator) version(s *ledger.State, cardID string) uint64 {
	var v uint64
	if c, ok := s.Card(cardID); ok {
		v = c.GetVersion()
	}
	switch g.rng.IntN(10) {
	case 0:
		return v - 1
	case 1:
		return g.rng.Uint64N(20)
	}
	return v
}

func (g *generator) next(s *ledger.State) *ledgerv1.Command {
	g.n++
	id := fmt.Sprintf("cmd/%d", g.n)
	r := g.rng.IntN(100)
	switch {
	case r < 8 && len(g.past) > 0:
		// A retry: the same command again.
		return g.past[g.rng.IntN(len(g.past))]
	case r < 12 && len(g.past) > 0:
		// The same id with whatever command comes next.
		id = g.past[g.rng.IntN(len(g.past))].GetId()
	case r < 17:
		return g.garbage(id)
	}
	var cmd *ledgerv1.Command
	switch k := g.rng.IntN(112); {
	case k < 45:
		card := g.cardID()
		cmd = cmdCharge(id, card, g.version(s, card), g.amount(), g.instID())
	case k < 72:
		cmd = cmdTopUp(id, g.cardID(), g.amount())
	case k < 82:
		card := g.cardID()
		if g.rng.IntN(3) > 0 {
			card = fmt.Sprintf("C%d", g.cards)
			g.cards++
		}
		cmd = cmdOpen(id, card)
	case k < 87:
		cmd = cmdInstitution(id, g.instID())
	case k < 93:
		cmd = cmdTerminal(id, fmt.Sprintf("T%d", g.rng.IntN(4)), g.instID())
	case k < 95:
		cmd = cmdBlock(id, g.cardID(), "lost")
	case k < 100:
		cmd = cmdSeed(id, g.rng.Uint64N(4))
	case k < 106:
		card := g.cardID()
		cmd = g.priced(id, card, g.version(s, card))
	case k < 109:
		newCard := fmt.Sprintf("C%d", g.cards)
		if g.rng.IntN(5) == 0 {
			newCard = g.cardID() // perhaps one that exists
		} else {
			g.cards++
		}
		cmd = cmdReplace(id, g.cardID(), newCard)
	case k < 111:
		cmd = &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_CloseCard{CloseCard: &ledgerv1.CloseCard{CardId: g.cardID(), Audit: testAudit}}}
	default:
		cmd = &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_RenewCard{RenewCard: &ledgerv1.RenewCard{CardId: g.cardID(), Audit: testAudit}}}
	}
	g.past = append(g.past, cmd)
	return cmd
}

// priced is a tap priced by the fare engine: up to three postings, refunds
// among them, and a tariff state.
func (g *generator) priced(id, card string, version uint64) *ledgerv1.Command {
	ch := &ledgerv1.Charge{CardId: card, ExpectedVersion: version, InstitutionId: g.instID(), Offline: g.rng.IntN(8) == 0,
		Tariff: &ledgerv1.TariffState{Caps: &ledgerv1.TariffCaps{DaySpentMinor: g.rng.Int64N(1600)}}}
	for range g.rng.IntN(3) + 1 {
		a := g.rng.Int64N(1200) - 400
		ch.Postings = append(ch.Postings, &ledgerv1.Posting{InstitutionId: g.instID(), Product: "CICO", AmountMinor: a})
		ch.AmountMinor += a
	}
	if g.rng.IntN(10) == 0 {
		ch.AmountMinor++ // postings that do not add up
	}
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: ch}}
}

// garbage is a command a buggy or hostile caller could send.
func (g *generator) garbage(id string) *ledgerv1.Command {
	switch g.rng.IntN(12) {
	case 0:
		return nil
	case 1:
		return &ledgerv1.Command{Id: id}
	case 2:
		return cmdTopUp("", g.cardID(), 100)
	case 3:
		return cmdTopUp(strings.Repeat("x", 129), g.cardID(), 100)
	case 4:
		return cmdTopUp("bad\xff"+id, g.cardID(), 100)
	case 5:
		return &ledgerv1.Command{Id: id, Kind: (*ledgerv1.Command_Charge)(nil)}
	case 6:
		return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{}}
	case 7:
		return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
			Institution: &civicardv1.Institution{InstitutionId: "I\xfe", Kind: civicardv1.ServiceKind_SERVICE_KIND_LIBRARY, Services: []*civicardv1.Service{nil}},
		}}}
	case 8:
		return cmdBlock(id, g.cardID(), "\xc3\x28")
	case 9:
		return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{CardId: "C\x80", Kind: civicardv1.CardKind_CARD_KIND_PERSONAL}}}
	case 10:
		c := cmdCharge(id, g.cardID(), 1, 100, g.instID())
		c.GetCharge().ServiceCode = strings.Repeat("S", 65)
		return c
	}
	return cmdTerminal(id, "T\xff", g.instID())
}

// TestProperties feeds thousands of random commands to a ledger and checks
// after each one: conservation and every other invariant (Check), no
// negative balance, balances that follow the reported outcomes, idempotency,
// that a charge at a version other than the card's never moves money, that
// a second ledger fed the same commands answers the same, and that a ledger
// restored from a snapshot answers the same from then on.
func TestProperties(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		cfg  ledger.Config
	}{
		{1, ledger.DefaultConfig()},
		{2, ledger.DefaultConfig()},
		{3, ledger.Config{HistoryMax: 5}},
		{4, ledger.Config{BalanceMaxMinor: 5000, AmountMaxMinor: 2000, HistoryMax: 1}},
	} {
		t.Run(fmt.Sprint(tc.seed), func(t *testing.T) {
			runProperties(t, tc.seed, tc.cfg, 3000)
		})
	}
}

func runProperties(t *testing.T, seed uint64, cfg ledger.Config, steps int) {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), cfg: cfg}
	g.cfg = newState(t, cfg).Config()
	s := newState(t, cfg)
	twin := newState(t, cfg)
	var restored *ledger.State
	first := map[string]*ledgerv1.Result{}
	firstCmd := map[string]*ledgerv1.Command{}
	var stored []*ledgerv1.Command
	model := map[string]int64{} // card balances as the results report them
	outcomes := map[string]int{}
	replays := 0

	for step := range steps {
		if step%500 == 0 {
			restored = roundTrip(t, s)
		}
		cmd := g.next(s)
		before := s.Totals()
		seqBefore := s.Sequence()
		cardBefore, _ := s.Card(cardOf(cmd))
		_, replay := first[cmd.GetId()]
		// A digest costs a whole snapshot: compare one every 20 replays.
		var digestBefore [32]byte
		if replay {
			replays++
		}
		sampleDigest := replay && replays%20 == 0
		if sampleDigest {
			digestBefore = digest(s)
		}

		res := s.Apply(cmd)
		outcomes[outcome(cmd, res)]++
		// Built only on failure: formatting every command would dominate.
		where := func() string { return fmt.Sprintf("step %d, command %v", step, cmd) }
		if res == nil {
			t.Fatalf("%s: nil result", where())
		}
		// Conservation after every command from the O(1) totals; the full
		// Check, which recomputes every account, every few commands (it
		// dominates the run under -race otherwise).
		if tt := s.Totals(); tt.FundingMinor+tt.CardsMinor+tt.ReceivablesMinor != 0 {
			t.Fatalf("%s: money not conserved: %+v", where(), tt)
		}
		fullCheck := step%10 == 0 || step == steps-1
		if fullCheck {
			if err := s.Check(); err != nil {
				t.Fatalf("%s: %v", where(), err)
			}
		}
		if twinRes := twin.Apply(cmd); !proto.Equal(res, twinRes) {
			t.Fatalf("%s: twin answered %v, not %v", where(), twinRes, res)
		}
		if restored != nil {
			if r := restored.Apply(cmd); !proto.Equal(res, r) {
				t.Fatalf("%s: restored ledger answered %v, not %v", where(), r, res)
			}
		}

		switch {
		case replay && res.GetRejectReason() == ledgerv1.RejectReason_REJECT_REASON_CONFLICT && !res.GetReplayed():
			// Another request under a used id: refused, nothing changed.
			// A retry of the very same command is never one.
			if proto.Equal(cmd, firstCmd[cmd.GetId()]) {
				t.Fatalf("%s: the same command again is a conflict: %v", where(), res)
			}
			if s.Totals() != before || s.Sequence() != seqBefore {
				t.Fatalf("%s: a conflict changed the ledger", where())
			}
			if !strings.Contains(res.GetError(), cmd.GetId()) {
				t.Fatalf("%s: the conflict does not name its id: %v", where(), res)
			}
		case replay:
			if !res.GetReplayed() {
				t.Fatalf("%s: id seen before but not replayed: %v", where(), res)
			}
			want := proto.Clone(first[cmd.GetId()]).(*ledgerv1.Result)
			want.Replayed = true
			if !proto.Equal(res, want) {
				t.Fatalf("%s: replay %v differs from the first result %v", where(), res, want)
			}
			if s.Totals() != before || s.Sequence() != seqBefore {
				t.Fatalf("%s: a replay changed the ledger", where())
			}
			if sampleDigest && digest(s) != digestBefore {
				t.Fatalf("%s: a replay changed the digest", where())
			}
		case s.Sequence() == seqBefore:
			// Not stored: only stale versions and commands without a valid
			// id or a kind, and they change nothing.
			if res.GetStatus() != ledgerv1.Status_STATUS_STALE_VERSION && res.GetRejectReason() != ledgerv1.RejectReason_REJECT_REASON_INVALID {
				t.Fatalf("%s: not stored: %v", where(), res)
			}
			if s.Totals() != before {
				t.Fatalf("%s: an unstored command changed the totals", where())
			}
		default:
			if s.Sequence() != seqBefore+1 {
				t.Fatalf("%s: sequence %d after %d", where(), s.Sequence(), seqBefore)
			}
			if tx := res.GetTransaction(); tx != nil && (tx.GetLedgerSequence() != s.Sequence() || tx.GetTransactionId() != cmd.GetId()) {
				t.Fatalf("%s: transaction %v at sequence %d", where(), tx, s.Sequence())
			}
			first[cmd.GetId()] = res
			firstCmd[cmd.GetId()] = cmd
			stored = append(stored, cmd)
			if res.GetStatus() == ledgerv1.Status_STATUS_OK {
				switch {
				case topUpOf(cmd) != nil:
					// Debt from offline taps is repaid first.
					repaid := cardBefore.GetDebtMinor() - res.GetCard().GetDebtMinor()
					model[topUpOf(cmd).GetCardId()] += topUpOf(cmd).GetAmountMinor() - repaid
				case chargeOf(cmd) != nil:
					// What the balance paid: all of it online, what it
					// could offline (the rest is debt).
					model[chargeOf(cmd).GetCardId()] += res.GetTransaction().GetAmount().GetMinorUnits()
				case cmd.GetReplaceCard() != nil:
					rc := cmd.GetReplaceCard()
					model[rc.GetNewCardId()], model[rc.GetCardId()] = model[rc.GetCardId()], 0
				case cmd.GetCloseCard() != nil:
					model[cmd.GetCloseCard().GetCardId()] = 0
				}
			}
		}

		// A charge decided on any version but the card's never moves money.
		if ch := chargeOf(cmd); ch != nil && !replay && cardBefore != nil && ch.GetExpectedVersion() != cardBefore.GetVersion() {
			after := s.Totals()
			moved := after.FundingMinor != before.FundingMinor || after.CardsMinor != before.CardsMinor || after.ReceivablesMinor != before.ReceivablesMinor
			if res.GetStatus() == ledgerv1.Status_STATUS_OK || res.GetStatus() == ledgerv1.Status_STATUS_DECLINED || moved {
				t.Fatalf("%s: a charge at version %d (card at %d) was applied: %v", where(), ch.GetExpectedVersion(), cardBefore.GetVersion(), res)
			}
		}
		// Every balance is within bounds and as the reported outcomes add
		// up to: for the card the command named, and every few commands
		// for all of them.
		touched := []string{cardOf(cmd)}
		if fullCheck {
			touched = touched[:0]
			for i := range g.cards + 2 {
				touched = append(touched, fmt.Sprintf("C%d", i))
			}
		}
		for _, id := range touched {
			c, ok := s.Card(id)
			if !ok {
				continue
			}
			if c.GetBalanceMinor() < 0 || c.GetBalanceMinor() > g.cfg.BalanceMaxMinor+g.cfg.AmountMaxMinor {
				t.Fatalf("%s: card %s balance %d", where(), id, c.GetBalanceMinor())
			}
			if c.GetBalanceMinor() != model[id] {
				t.Fatalf("%s: card %s balance %d, the results add up to %d", where(), id, c.GetBalanceMinor(), model[id])
			}
		}
	}

	// Every stored command, applied again, returns its first result and
	// changes nothing.
	d := digest(s)
	for _, cmd := range stored {
		res := s.Apply(cmd)
		want := proto.Clone(first[cmd.GetId()]).(*ledgerv1.Result)
		want.Replayed = true
		if !proto.Equal(res, want) {
			t.Fatalf("re-applying %s: %v, want %v", cmd.GetId(), res, want)
		}
	}
	if digest(s) != d {
		t.Fatal("re-applying every stored command changed the digest")
	}
	if digest(twin) != d || !bytes.Equal(snapshotBytes(t, twin), snapshotBytes(t, s)) {
		t.Fatal("two ledgers fed the same commands differ")
	}
	if digest(restored) != d {
		t.Fatal("the restored ledger fed the same commands differs")
	}
	t.Logf("%d commands, %d stored, totals %+v\noutcomes %v", steps, len(stored), s.Totals(), outcomes)

	// The generator must reach every path, or the properties prove little.
	for _, want := range []string{
		"charge OK", "charge DECLINED", "charge STALE_VERSION", "charge REJECTED NOT_FOUND", "charge REJECTED INVALID",
		"top_up OK", "top_up REJECTED BALANCE_MAX", "top_up REJECTED CARD_BLOCKED", "top_up REJECTED INVALID",
		"open_card OK", "open_card REJECTED ALREADY_EXISTS", "block_card OK",
		"register_institution OK", "register_institution REJECTED ALREADY_EXISTS", "register_terminal OK",
		"replayed", "conflict", "none REJECTED INVALID",
		"replace_card OK", "replace_card REJECTED ALREADY_EXISTS", "close_card OK", "renew_card REJECTED NOT_PERSONAL",
	} {
		if outcomes[want] == 0 {
			t.Errorf("no %q among %v", want, outcomes)
		}
	}
}

// outcome names a result for the coverage count: the command kind, the
// status and the reason.
func outcome(cmd *ledgerv1.Command, res *ledgerv1.Result) string {
	if res.GetReplayed() {
		return "replayed"
	}
	if res.GetRejectReason() == ledgerv1.RejectReason_REJECT_REASON_CONFLICT {
		return "conflict"
	}
	kind := "none"
	if k := cmd.GetKind(); k != nil {
		kind = strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", k), "*ledgerv1.Command_"))
		kind = map[string]string{"registerinstitution": "register_institution", "registerterminal": "register_terminal",
			"opencard": "open_card", "topup": "top_up", "blockcard": "block_card", "markseeded": "mark_seeded",
			"replacecard": "replace_card", "closecard": "close_card", "renewcard": "renew_card"}[kind] + map[bool]string{true: kind}[kind == "charge"]
	}
	out := kind + " " + strings.TrimPrefix(res.GetStatus().String(), "STATUS_")
	if r := res.GetRejectReason(); r != ledgerv1.RejectReason_REJECT_REASON_UNSPECIFIED {
		out += " " + strings.TrimPrefix(r.String(), "REJECT_REASON_")
	}
	return out
}

// cardOf is the card a command names, if any.
func cardOf(cmd *ledgerv1.Command) string {
	switch k := cmd.GetKind().(type) {
	case *ledgerv1.Command_Charge:
		if k != nil {
			return k.Charge.GetCardId()
		}
	case *ledgerv1.Command_TopUp:
		if k != nil {
			return k.TopUp.GetCardId()
		}
	case *ledgerv1.Command_BlockCard:
		if k != nil {
			return k.BlockCard.GetCardId()
		}
	case *ledgerv1.Command_OpenCard:
		if k != nil {
			return k.OpenCard.GetCardId()
		}
	}
	return ""
}

// chargeOf and topUpOf are the generated getters, safe for the typed nil
// oneof wrappers that garbage contains.
func chargeOf(cmd *ledgerv1.Command) *ledgerv1.Charge {
	if k, ok := cmd.GetKind().(*ledgerv1.Command_Charge); ok && k != nil {
		return k.Charge
	}
	return nil
}

func topUpOf(cmd *ledgerv1.Command) *ledgerv1.TopUp {
	if k, ok := cmd.GetKind().(*ledgerv1.Command_TopUp); ok && k != nil {
		return k.TopUp
	}
	return nil
}

// roundTrip writes a snapshot, restores it, and checks the digests match.
func roundTrip(t *testing.T, s *ledger.State) *ledger.State {
	t.Helper()
	f := s.Freeze()
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := ledger.Restore(s.Config(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if digest(r) != f.Digest() {
		t.Fatal("restored ledger has another digest")
	}
	return r
}

// TestDeterminism runs the same random commands through two fresh ledgers,
// separately, and compares the snapshot bytes.
func TestDeterminism(t *testing.T) {
	run := func() []byte {
		s := newState(t, ledger.DefaultConfig())
		g := &generator{rng: rand.New(rand.NewPCG(99, 99)), cfg: s.Config()}
		for range 2000 {
			s.Apply(g.next(s))
		}
		return snapshotBytes(t, s)
	}
	a, b := run(), run()
	if !bytes.Equal(a, b) {
		t.Fatal("the same commands gave different snapshots")
	}
}
