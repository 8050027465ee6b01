package ledger_test

import (
	"strings"
	"testing"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// TestApplyMalformed covers what the text scripts cannot write: nil
// commands, typed nil oneof wrappers, nil inner messages and invalid UTF-8
// from commands built in Go rather than unmarshalled.
func TestApplyMalformed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cmd    *ledgerv1.Command
		stored bool
		reason ledgerv1.RejectReason
		want   string
	}{
		{"nil command", nil, false, ledgerv1.RejectReason_REJECT_REASON_INVALID, "command id is empty"},
		{"typed nil kind", &ledgerv1.Command{Id: "x", Kind: (*ledgerv1.Command_Charge)(nil)}, false, ledgerv1.RejectReason_REJECT_REASON_INVALID, "has no kind"},
		{"typed nil register", &ledgerv1.Command{Id: "x", Kind: (*ledgerv1.Command_RegisterInstitution)(nil)}, false, ledgerv1.RejectReason_REJECT_REASON_INVALID, "has no kind"},
		{"id not UTF-8", cmdTopUp("x\xff", "C1", 1), false, ledgerv1.RejectReason_REJECT_REASON_INVALID, "not valid UTF-8"},
		{"nil charge", &ledgerv1.Command{Id: "x", Kind: &ledgerv1.Command_Charge{}}, true, ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, `card "" not found`},
		{"nil top-up", &ledgerv1.Command{Id: "x", Kind: &ledgerv1.Command_TopUp{}}, true, ledgerv1.RejectReason_REJECT_REASON_INVALID, "top-up amount 0"},
		{"nil open", &ledgerv1.Command{Id: "x", Kind: &ledgerv1.Command_OpenCard{}}, true, ledgerv1.RejectReason_REJECT_REASON_INVALID, "card id is empty"},
		{"nil block", &ledgerv1.Command{Id: "x", Kind: &ledgerv1.Command_BlockCard{}}, true, ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "not found"},
		{"nil terminal", &ledgerv1.Command{Id: "x", Kind: &ledgerv1.Command_RegisterTerminal{}}, true, ledgerv1.RejectReason_REJECT_REASON_INVALID, "terminal is missing"},
		{"nil service", &ledgerv1.Command{Id: "x", Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
			Institution: &civicardv1.Institution{InstitutionId: "I9", Kind: civicardv1.ServiceKind_SERVICE_KIND_CULTURE, Services: []*civicardv1.Service{nil}},
		}}}, true, ledgerv1.RejectReason_REJECT_REASON_INVALID, "service 0 code is empty"},
		{"card id not UTF-8", cmdOpen("x", "C\xff"), true, ledgerv1.RejectReason_REJECT_REASON_INVALID, "not valid UTF-8"},
		{"reason not UTF-8", cmdBlock("x", "C1", "\xc3\x28"), true, ledgerv1.RejectReason_REJECT_REASON_INVALID, "not valid UTF-8"},
		{"reason too long", cmdBlock("x", "C1", strings.Repeat("r", 257)), true, ledgerv1.RejectReason_REJECT_REASON_INVALID, "257 bytes"},
		{"institution name not UTF-8", &ledgerv1.Command{Id: "x", Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
			Institution: &civicardv1.Institution{InstitutionId: "I9", Name: "\xff", Kind: civicardv1.ServiceKind_SERVICE_KIND_CULTURE},
		}}}, true, ledgerv1.RejectReason_REJECT_REASON_INVALID, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := populated(t)
			seq := s.Sequence()
			res := s.Apply(tc.cmd)
			if res.GetStatus() != ledgerv1.Status_STATUS_REJECTED || res.GetRejectReason() != tc.reason || !strings.Contains(res.GetError(), tc.want) {
				t.Fatalf("Apply = %v, want REJECTED %v %q", res, tc.reason, tc.want)
			}
			if stored := s.Sequence() != seq; stored != tc.stored {
				t.Fatalf("stored = %t, want %t", stored, tc.stored)
			}
			if err := s.Check(); err != nil {
				t.Fatal(err)
			}
			// Whatever came in, the snapshot can be written and read back.
			if _, err := proto.Marshal(res); err != nil {
				t.Fatalf("the result cannot be marshalled: %v", err)
			}
			roundTrip(t, s)
		})
	}
}

// TestApplyOwnership: the ledger keeps nothing the caller owns, and a
// replay hands out a copy.
func TestApplyOwnership(t *testing.T) {
	s := populated(t)
	reg := cmdInstitution("reg/I9", "I9")
	mustApply(t, s, reg)
	reg.GetRegisterInstitution().GetInstitution().Name = "changed"
	reg.GetRegisterInstitution().GetInstitution().Services[0].UnitPriceMinor = 1
	inst, _ := s.Institution("I9")
	if inst.GetName() != "Institution I9" || inst.GetServices()[0].GetUnitPriceMinor() != 340 {
		t.Fatalf("the caller's record changed the ledger's: %v", inst)
	}
	inst.Name = "changed again"
	if again, _ := s.Institution("I9"); again.GetName() != "Institution I9" {
		t.Fatal("Institution returned the ledger's own record")
	}
	term, _ := s.Terminal("T1")
	term.CredentialSha256[0] ^= 0xff
	if again, _ := s.Terminal("T1"); again.GetCredentialSha256()[0] != 0xab {
		t.Fatal("Terminal returned the ledger's own record")
	}
	c, _ := s.Card("C1")
	c.BalanceMinor = 1
	if again, _ := s.Card("C1"); again.GetBalanceMinor() == 1 {
		t.Fatal("Card returned the ledger's own state")
	}

	d := digest(s)
	replay := s.Apply(cmdTopUp("top/C1", "C1", 5000))
	if !replay.GetReplayed() {
		t.Fatal("not replayed")
	}
	replay.Status = ledgerv1.Status_STATUS_DECLINED
	replay.GetTransaction().Amount.MinorUnits = 7
	if digest(s) != d {
		t.Fatal("mutating a replay changed the ledger")
	}
	if again := s.Apply(cmdTopUp("top/C1", "C1", 5000)); again.GetStatus() != ledgerv1.Status_STATUS_OK || again.GetTransaction().GetAmount().GetMinorUnits() != 5000 {
		t.Fatalf("mutating a replay changed the stored result: %v", again)
	}
}

func TestTransactionsUnknownAndLimits(t *testing.T) {
	s := populated(t)
	if got := s.Transactions("C1", 0, -1); got != nil {
		t.Fatalf("negative limit: %v", got)
	}
	if got := s.Transactions("C1", 0, 1000); len(got) != 2 {
		t.Fatalf("C1 has %d transactions, want 2", len(got))
	}
	if got := s.Transactions("C1", 1<<62, 1000); len(got) != 2 {
		t.Fatalf("before far ahead: %d transactions, want 2", len(got))
	}
	if _, ok := s.Card("nope"); ok {
		t.Fatal("unknown card found")
	}
	if _, ok := s.Institution("nope"); ok {
		t.Fatal("unknown institution found")
	}
	if _, ok := s.Terminal("nope"); ok {
		t.Fatal("unknown terminal found")
	}
	if s.Receivable("nope") != 0 {
		t.Fatal("unknown receivable")
	}
}

func TestConfig(t *testing.T) {
	if err := ledger.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (ledger.Config{}).Validate(); err != nil {
		t.Fatalf("the zero Config takes the defaults: %v", err)
	}
	s := newState(t, ledger.Config{})
	if s.Config() != ledger.DefaultConfig() {
		t.Fatalf("zero Config became %+v", s.Config())
	}
	if _, err := ledger.New(ledger.Config{HistoryMax: -1}); err == nil {
		t.Fatal("New accepted an invalid Config")
	}
}

// TestLimits: the institution and seed limits that keep the snapshot header
// small are enforced.
func TestLimits(t *testing.T) {
	s := newState(t, ledger.DefaultConfig())
	for i := range 1024 {
		mustApply(t, s, cmdSeed("seed/"+itoa(i), uint64(i)))
	}
	mustApply(t, s, cmdSeed("seed/again", 5))
	if res := s.Apply(cmdSeed("seed/more", 5000)); res.GetStatus() != ledgerv1.Status_STATUS_REJECTED {
		t.Fatalf("seed beyond the limit: %v", res)
	}
	if testing.Short() {
		return
	}
	for i := range 10000 {
		mustApply(t, s, cmdInstitution("reg/"+itoa(i), "I"+itoa(i)))
	}
	if res := s.Apply(cmdInstitution("reg/more", "I-more")); res.GetStatus() != ledgerv1.Status_STATUS_REJECTED || !strings.Contains(res.GetError(), "maximum") {
		t.Fatalf("institution beyond the limit: %v", res)
	}
	roundTrip(t, s)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
