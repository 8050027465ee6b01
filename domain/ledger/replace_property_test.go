package ledger_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// A replaced card's money and products appear exactly once: after any
// history of top-ups, priced taps that buy passes, replacements (chains of
// them, retried, refused ones among them) and snapshots, every pass bought
// is on exactly one card, the last of its chain; every replaced card holds
// nothing; and the cards' balances are what the top-ups and taps add up to.
func TestReplacementMovesEverythingOnce(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { replaceProperty(t, seed) })
	}
}

func replaceProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xcafe))
	s := newState(t, ledger.Config{})
	mustApply(t, s, cmdInstitution("inst", "I0"))
	audit := &civicardv1.Audit{Actor: "operator/test", Reason: "lost", TimeUnixMs: 1_700_000_000_000}
	// current maps each chain's first card to its card now.
	current := map[string]string{}
	var chains []string
	passesBought := map[string]string{} // pass product -> chain
	var loadedMinor, paidMinor int64
	var past []*ledgerv1.Command
	nextCard := 0
	newCard := func() string { nextCard++; return fmt.Sprintf("C%d", nextCard) }

	for step := range 400 {
		id := fmt.Sprintf("cmd/%d", step)
		var cmd *ledgerv1.Command
		switch k := rng.IntN(100); {
		case k < 10 || len(chains) == 0:
			c := newCard()
			cmd = &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{CardId: c, Kind: civicardv1.CardKind_CARD_KIND_PERSONAL, HolderName: "A"}}}
			chains = append(chains, c)
			current[c] = c
		case k < 35:
			cmd = cmdTopUp(id, current[chains[rng.IntN(len(chains))]], rng.Int64N(3000)+1)
		case k < 65:
			// A tap that buys a pass: the card's passes so far and a new one.
			chain := chains[rng.IntN(len(chains))]
			card, _ := s.Card(current[chain])
			tariff := proto.Clone(card.GetTariff()).(*ledgerv1.TariffState)
			if tariff == nil {
				tariff = &ledgerv1.TariffState{}
			}
			product := fmt.Sprintf("P%d", step)
			if len(tariff.Passes) < 8 {
				tariff.Passes = append(tariff.Passes, &ledgerv1.TariffPass{Product: product})
			}
			amount := rng.Int64N(800)
			cmd = &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
				CardId: card.GetCardId(), ExpectedVersion: card.GetVersion(), AmountMinor: amount, InstitutionId: "I0",
				Postings: []*ledgerv1.Posting{{InstitutionId: "I0", Product: product, AmountMinor: amount}}, Tariff: tariff,
			}}}
		case k < 85:
			chain := chains[rng.IntN(len(chains))]
			old := current[chain]
			if rng.IntN(5) == 0 {
				old = chain // perhaps a card replaced already
			}
			cmd = &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_ReplaceCard{ReplaceCard: &ledgerv1.ReplaceCard{CardId: old, NewCardId: newCard(), Audit: audit}}}
		default:
			cmd = past[rng.IntN(len(past))] // a retry
		}
		res := s.Apply(cmd)
		if res.GetReplayed() {
			continue
		}
		past = append(past, cmd)
		if res.GetStatus() != ledgerv1.Status_STATUS_OK {
			continue
		}
		switch k := cmd.GetKind().(type) {
		case *ledgerv1.Command_TopUp:
			loadedMinor += k.TopUp.GetAmountMinor()
		case *ledgerv1.Command_Charge:
			paidMinor += k.Charge.GetAmountMinor()
			for _, p := range k.Charge.GetTariff().GetPasses() {
				for chain, c := range current {
					if c == k.Charge.GetCardId() {
						passesBought[p.GetProduct()] = chain
					}
				}
			}
		case *ledgerv1.Command_ReplaceCard:
			for chain, c := range current {
				if c == k.ReplaceCard.GetCardId() {
					current[chain] = k.ReplaceCard.GetNewCardId()
				}
			}
		}
		if step%100 == 99 {
			s = roundTrip(t, s)
		}
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}

	holders := map[string][]string{} // pass product -> cards holding it
	var balances int64
	for i := 1; i <= nextCard; i++ {
		id := fmt.Sprintf("C%d", i)
		c, ok := s.Card(id)
		if !ok {
			continue
		}
		balances += c.GetBalanceMinor()
		for _, p := range c.GetTariff().GetPasses() {
			holders[p.GetProduct()] = append(holders[p.GetProduct()], id)
		}
		if c.GetReplacedBy() != "" && (c.GetBalanceMinor() != 0 || c.GetTariff() != nil || c.GetStatus() != civicardv1.CardStatus_CARD_STATUS_BLOCKED) {
			t.Errorf("replaced card %s still holds something: %v", id, c)
		}
	}
	if balances != loadedMinor-paidMinor {
		t.Errorf("cards hold %d, top-ups minus taps are %d", balances, loadedMinor-paidMinor)
	}
	replaced := 0
	for product, chain := range passesBought {
		if h := holders[product]; len(h) != 1 || h[0] != current[chain] {
			t.Errorf("pass %s of chain %s is on %v, want only on %s", product, chain, h, current[chain])
		}
		if current[chain] != chain {
			replaced++
		}
	}
	if replaced == 0 {
		t.Errorf("no pass went through a replacement: the test proves little")
	}
}
