package ledger_test

import (
	"bytes"
	"testing"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// Command constructors, so tests read like the scripts in testdata.

func cmdInstitution(id, instID string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
		Institution: &civicardv1.Institution{
			InstitutionId: instID,
			Name:          "Institution " + instID,
			Kind:          civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT,
			Services:      []*civicardv1.Service{{Code: "RIDE", UnitPriceMinor: 340}},
		},
	}}}
}

func cmdTerminal(id, termID, instID string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_RegisterTerminal{RegisterTerminal: &ledgerv1.RegisterTerminal{
		Terminal: &civicardv1.Terminal{
			TerminalId:       termID,
			InstitutionId:    instID,
			CredentialSha256: bytes.Repeat([]byte{0xab}, 32),
		},
	}}}
}

func cmdOpen(id, cardID string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{
		CardId: cardID, Kind: civicardv1.CardKind_CARD_KIND_BEARER,
	}}}
}

func cmdTopUp(id, cardID string, amount int64) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{
		CardId: cardID, AmountMinor: amount,
	}}}
}

func cmdCharge(id, cardID string, version uint64, amount int64, instID string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
		CardId: cardID, ExpectedVersion: version, AmountMinor: amount, InstitutionId: instID,
		TerminalId: "T1", TerminalSequence: 1, ServiceCode: "RIDE", Quantity: 1, TimeUnixMs: 1700000000000,
	}}}
}

func cmdBlock(id, cardID, reason string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_BlockCard{BlockCard: &ledgerv1.BlockCard{
		CardId: cardID, Reason: reason,
	}}}
}

func cmdSeed(id string, seed uint64) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_MarkSeeded{MarkSeeded: &ledgerv1.MarkSeeded{Seed: seed}}}
}

func newState(t testing.TB, cfg ledger.Config) *ledger.State {
	t.Helper()
	s, err := ledger.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustApply applies commands that the test expects to be recorded.
func mustApply(t testing.TB, s *ledger.State, cmds ...*ledgerv1.Command) {
	t.Helper()
	for _, cmd := range cmds {
		if res := s.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
			t.Fatalf("%s: %v %v: %s", cmd.GetId(), res.GetStatus(), res.GetRejectReason(), res.GetError())
		}
	}
}

// populated returns a small ledger with every kind of record in it.
func populated(t testing.TB) *ledger.State {
	t.Helper()
	s := newState(t, ledger.DefaultConfig())
	mustApply(t, s,
		cmdInstitution("reg/I1", "I1"),
		cmdInstitution("reg/I2", "I2"),
		cmdTerminal("term/T1", "T1", "I1"),
		cmdOpen("open/C1", "C1"),
		cmdOpen("open/C2", "C2"),
		cmdOpen("open/C3", "C3"),
		cmdTopUp("top/C1", "C1", 5000),
		cmdTopUp("top/C2", "C2", 300),
		cmdCharge("tap/1", "C1", 2, 340, "I1"),
		cmdCharge("tap/2", "C2", 2, 300, "I2"),
		cmdBlock("block/C3", "C3", "lost"),
		cmdSeed("seed/1", 1),
	)
	return s
}

// populatedLife is populated with what the fare engine and the card's life
// add: a priced tap with a tariff state, a personalised card with a
// concession, a replaced card and a closed one.
func populatedLife(t testing.TB) *ledger.State {
	t.Helper()
	s := populated(t)
	mustApply(t, s,
		cmdPriced("tap/3", "C1", 3),
		&ledgerv1.Command{Id: "open/C6", Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{
			CardId: "C6", Kind: civicardv1.CardKind_CARD_KIND_PERSONAL, HolderName: "Anna", IssuedUnixMs: 1_700_000_000_000, Audit: testAudit,
		}}},
		&ledgerv1.Command{Id: "grant/C6", Kind: &ledgerv1.Command_GrantEntitlement{GrantEntitlement: &ledgerv1.GrantEntitlement{
			CardId: "C6", Entitlement: &ledgerv1.TariffEntitlement{Concession: "STUDENT", FromDay: 20000, UntilDay: 20300}, Audit: testAudit,
		}}},
		cmdOpen("open/C4", "C4"),
		cmdTopUp("top/C4", "C4", 700),
		cmdReplace("replace/C4", "C4", "C5"),
		&ledgerv1.Command{Id: "close/C5", Kind: &ledgerv1.Command_CloseCard{CloseCard: &ledgerv1.CloseCard{CardId: "C5", Audit: testAudit}}},
	)
	return s
}

func snapshotBytes(t testing.TB, s *ledger.State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.Freeze().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digest(s *ledger.State) [32]byte { return s.Freeze().Digest() }

// cmdPriced is a tap priced by the fare engine: a refund from I2, a charge
// to I1 and the new tariff state with a journey and a pass.
func cmdPriced(id, cardID string, version uint64) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
		CardId: cardID, ExpectedVersion: version, AmountMinor: 200, InstitutionId: "I1",
		Postings: []*ledgerv1.Posting{
			{InstitutionId: "I2", Product: "CICO", AmountMinor: -400, What: "automatic correction"},
			{InstitutionId: "I1", Product: "CICO", AmountMinor: 600, What: "check-in"},
		},
		Tariff: &ledgerv1.TariffState{
			Journey: &ledgerv1.TariffJourney{Id: id, InstitutionId: "I1", Line: "T6", Stop: "A", ChargedMinor: 600},
			Passes:  []*ledgerv1.TariffPass{{Product: "PASS-30D", InstitutionId: "I1", FromDay: 20000, UntilDay: 20029}},
		},
	}}}
}

var testAudit = &civicardv1.Audit{Actor: "operator/test", Reason: "test", TimeUnixMs: 1_700_000_000_000}

func cmdReplace(id, cardID, newCardID string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_ReplaceCard{ReplaceCard: &ledgerv1.ReplaceCard{CardId: cardID, NewCardId: newCardID, Audit: testAudit}}}
}
