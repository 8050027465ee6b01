package ledger_test

import (
	"bytes"
	"testing"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// FuzzApply unmarshals arbitrary bytes into a Batch and applies every
// command to a populated ledger: Apply must never panic, never return nil,
// never break an invariant, and a second application of the batch must
// only replay. Without -fuzz it runs the seed corpus as a normal test.
func FuzzApply(f *testing.F) {
	for _, cmds := range [][]*ledgerv1.Command{
		{cmdCharge("tap/new", "C1", 3, 100, "I1")},
		{cmdCharge("tap/stale", "C1", 1, 100, "I1")},
		{cmdCharge("tap/poor", "C2", 3, 100, "I2")},
		{cmdCharge("tap/blocked", "C3", 2, 0, "I1")},
		{cmdTopUp("top/new", "C1", 20000), cmdTopUp("top/C2", "C2", 1)},
		{cmdOpen("open/C9", "C9"), cmdTopUp("top/C9", "C9", 50), cmdCharge("tap/C9", "C9", 2, 50, "I1")},
		{cmdInstitution("reg/I9", "I9"), cmdTerminal("term/T9", "T9", "I9")},
		{cmdBlock("block/C1", "C1", "stolen"), cmdSeed("seed/9", 9)},
		{cmdTopUp("top/C1", "C1", 5000)}, // a replay of populated's command
		{{Id: "no-kind"}, {}},
		{cmdPriced("tap/priced", "C1", 5), cmdPriced("tap/priced-stale", "C1", 5)},
		{cmdReplace("replace/C1", "C1", "C8"), cmdPriced("tap/C8", "C8", 2), cmdReplace("replace/C8", "C8", "C1")},
		{{Id: "renew/C6", Kind: &ledgerv1.Command_RenewCard{RenewCard: &ledgerv1.RenewCard{CardId: "C6", Audit: testAudit}}}},
		{{Id: "revoke/C6", Kind: &ledgerv1.Command_RevokeEntitlement{RevokeEntitlement: &ledgerv1.RevokeEntitlement{CardId: "C6", Concession: "STUDENT", Audit: testAudit}}}},
		{cmdClose(ledger.CycleCloseID(1), 1), cmdPayout(ledger.PayoutID(1, "I1"), 1, "I1", 335, 5)},
		{cmdClose("settle/cycle/2", 2), cmdPayout(ledger.PayoutID(1, "I2"), 1, "I2", -1, 1)},
	} {
		b, err := proto.Marshal(&ledgerv1.Batch{Commands: cmds})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\x0a\x02\x0a\x00"))

	base := snapshotBytes(f, populatedLife(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		var batch ledgerv1.Batch
		if proto.Unmarshal(data, &batch) != nil {
			return
		}
		s, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(base))
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range batch.GetCommands() {
			if s.Apply(cmd) == nil {
				t.Fatalf("nil result for %v", cmd)
			}
			if err := s.Check(); err != nil {
				t.Fatalf("after %v: %v", cmd, err)
			}
		}
		// Everything stored is now replayed; stale charges may apply now,
		// so only the stored ones are compared.
		d := digest(s)
		seq := s.Sequence()
		for _, cmd := range batch.GetCommands() {
			res := s.Apply(cmd)
			if !res.GetReplayed() {
				continue
			}
			if s.Sequence() != seq || digest(s) != d {
				t.Fatalf("replaying %v changed the ledger", cmd)
			}
		}
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzRestore feeds arbitrary bytes to Restore: it must return an error or
// a ledger that passes Check and survives its own round trip; never panic,
// and never allocate past the record limit.
func FuzzRestore(f *testing.F) {
	valid := snapshotBytes(f, populated(f))
	f.Add(valid)
	f.Add(snapshotBytes(f, populatedLife(f)))
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:1])
	f.Add(append(append([]byte(nil), valid...), 0))
	f.Add(snapshotBytes(f, newState(f, ledger.DefaultConfig())))
	f.Add(snapshotBytes(f, settled(f)))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x80, 0x80, 0x80, 0x02}) // a 4 MiB record announced, nothing after
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(data))
		if err != nil {
			if s != nil {
				t.Fatal("a ledger with an error")
			}
			return
		}
		if err := s.Check(); err != nil {
			t.Fatalf("restored a ledger that fails Check: %v", err)
		}
		again, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(snapshotBytes(t, s)))
		if err != nil {
			t.Fatalf("a restored ledger's own snapshot: %v", err)
		}
		if digest(again) != digest(s) {
			t.Fatal("round trip changed the digest")
		}
	})
}
