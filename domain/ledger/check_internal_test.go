package ledger

import (
	"math"
	"strings"
	"testing"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

func testState(t *testing.T) *State {
	t.Helper()
	s, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*ledgerv1.Command{
		{Id: "reg", Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
			Institution: &civicardv1.Institution{InstitutionId: "I1", Kind: civicardv1.ServiceKind_SERVICE_KIND_LIBRARY}}}},
		{Id: "open", Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{CardId: "C1", Kind: civicardv1.CardKind_CARD_KIND_BEARER}}},
		{Id: "top", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: "C1", AmountMinor: 1000}}},
		{Id: "tap", Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{CardId: "C1", ExpectedVersion: 2, AmountMinor: 300, InstitutionId: "I1"}}},
	} {
		if res := s.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
			t.Fatalf("%s: %v", cmd.GetId(), res)
		}
	}
	return s
}

// TestCheckNamesAccounts breaks one invariant at a time behind Apply's back
// and checks that Check finds it and names the account.
func TestCheckNamesAccounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(s *State)
		want    []string
	}{
		{"negative card", func(s *State) { s.cards["C1"].balanceMinor = -5 }, []string{`card "C1": balance -5 is negative`, "money is not conserved"}},
		{"card over maximum", func(s *State) { s.cards["C1"].balanceMinor = 40001 }, []string{`card "C1": balance 40001 is above the maximum 40000 (after refunds)`}},
		{"closed with money", func(s *State) { s.cards["C1"].status = civicardv1.CardStatus_CARD_STATUS_CLOSED }, []string{`card "C1": closed with balance 700`}},
		{"tariff state", func(s *State) {
			s.cards["C1"].tariff = &ledgerv1.TariffState{Stays: make([]*ledgerv1.TariffStay, 5)}
		}, []string{`card "C1": invalid tariff state: tariff state: 5 stays, at most 4`}},
		{"receivable off its postings", func(s *State) { s.institutions["I1"].receivableMinor = -1 }, []string{`receivable of institution "I1": balance -1, but its postings 300 less its payouts and fees 0 make 300`}},
		{"funding", func(s *State) { s.fundingMinor-- }, []string{"money is not conserved: funding -1001"}},
		{"running total", func(s *State) { s.cardsMinor++ }, []string{"running total is 701"}},
		{"version", func(s *State) { s.cards["C1"].version = 99 }, []string{`card "C1": version 99 is outside [1, ledger sequence 4]`}},
		{"status", func(s *State) { s.cards["C1"].status = 0 }, []string{`card "C1": status CARD_STATUS_UNSPECIFIED`}},
		{"history", func(s *State) { s.cards["C1"].history = s.cards["C1"].history[:1] }, []string{`card "C1": balance 700 but the newest transaction "top" left 1000`}},
		{"orphan terminal", func(s *State) { s.terminals["T9"] = &civicardv1.Terminal{TerminalId: "T9", InstitutionId: "I9"} }, []string{`terminal "T9": institution "I9" does not exist`}},
		{"sequence", func(s *State) { s.sequence = 9 }, []string{"ledger sequence 9 but 4 stored results"}},
		{"overflow", func(s *State) {
			s.cards["C2"] = &card{id: "C2", kind: civicardv1.CardKind_CARD_KIND_BEARER, status: civicardv1.CardStatus_CARD_STATUS_ACTIVE, version: 1, balanceMinor: math.MaxInt64}
		}, []string{"overflows"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testState(t)
			if err := s.Check(); err != nil {
				t.Fatal(err)
			}
			tc.corrupt(s)
			err := s.Check()
			if err == nil {
				t.Fatal("Check found nothing")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Check = %v\nwant it to say %q", err, want)
				}
			}
		})
	}
}

// TestTransferSecondCheck: the check at the point of applying a transfer
// refuses what a buggy handler might decide, and leaves the state as it was.
func TestTransferSecondCheck(t *testing.T) {
	card := account{kind: cardAccount, id: "C1"}
	recv := account{kind: receivableAccount, id: "I1"}
	funding := account{kind: fundingAccount}
	for _, tc := range []struct {
		name string
		t    transfer
		want string
	}{
		{"overdraw", transfer{from: card, to: recv, amountMinor: 701}, `card "C1" would go negative (-1)`},
		{"over maximum", transfer{from: funding, to: card, amountMinor: 19301}, "would exceed the balance maximum"},
		{"negative amount", transfer{from: card, to: recv, amountMinor: -1}, "amount outside"},
		{"too large", transfer{from: funding, to: card, amountMinor: 20001}, "amount outside"},
		{"to itself", transfer{from: card, to: card, amountMinor: 1}, "to itself"},
		{"unknown card", transfer{from: funding, to: account{kind: cardAccount, id: "C9"}, amountMinor: 1}, `no such account: card "C9"`},
		{"unknown kind", transfer{from: funding, to: account{kind: 9}, amountMinor: 1}, "no such account"},
		{"funding overflow", transfer{from: funding, to: card, amountMinor: 1}, "overflow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testState(t)
			if tc.name == "funding overflow" {
				s.fundingMinor = math.MinInt64
			}
			before := s.Totals()
			balance := s.cards["C1"].balanceMinor
			err := s.apply(tc.t)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("apply = %v, want %q", err, tc.want)
			}
			if s.Totals() != before || s.cards["C1"].balanceMinor != balance {
				t.Fatal("a refused transfer changed the state")
			}
		})
	}
}

// TestInvariantBrokenIsRejected: should a handler decide a transfer that the
// second check refuses, Apply answers with a rejection, not a panic.
func TestInvariantBrokenIsRejected(t *testing.T) {
	s := testState(t)
	s.cardsMinor = math.MaxInt64 // a corrupted running total
	res := s.Apply(&ledgerv1.Command{Id: "top2", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: "C1", AmountMinor: 1}}})
	if res.GetStatus() != ledgerv1.Status_STATUS_REJECTED || !strings.Contains(res.GetError(), "ledger invariant") {
		t.Fatalf("Apply = %v", res)
	}
	if s.cards["C1"].balanceMinor != 700 || s.cards["C1"].version != 3 {
		t.Fatal("a refused transfer changed the card")
	}
}

func TestOverflowHelpers(t *testing.T) {
	for _, tc := range []struct {
		a, b   int64
		sum    int64
		sumOK  bool
		diff   int64
		diffOK bool
	}{
		{1, 2, 3, true, -1, true},
		{math.MaxInt64, 1, 0, false, math.MaxInt64 - 1, true},
		{math.MinInt64, -1, 0, false, math.MinInt64 + 1, true},
		{math.MinInt64, 1, math.MinInt64 + 1, true, 0, false},
		{0, math.MinInt64, math.MinInt64, true, 0, false},
		{-1, math.MinInt64, 0, false, math.MaxInt64, true},
	} {
		if got, ok := add(tc.a, tc.b); ok != tc.sumOK || (ok && got != tc.sum) {
			t.Errorf("add(%d, %d) = %d, %t", tc.a, tc.b, got, ok)
		}
		if got, ok := sub(tc.a, tc.b); ok != tc.diffOK || (ok && got != tc.diff) {
			t.Errorf("sub(%d, %d) = %d, %t", tc.a, tc.b, got, ok)
		}
	}
}
