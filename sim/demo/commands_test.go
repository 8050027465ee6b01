package demo

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ledgerv1 "civicard/messages/ledger/v1"
)

func TestCommands(t *testing.T) {
	d := generate(t, testConfig(2015, 5_000))
	cmds := d.Commands(2015)

	toppedUp := 0
	for _, c := range d.Cards {
		if c.BalanceMinor > 0 {
			toppedUp++
		}
	}
	if want := len(d.Institutions) + len(d.Terminals) + 1 + len(d.Institutions) + len(d.Cards) + toppedUp + 1; len(cmds) != want {
		t.Fatalf("%d commands, want %d", len(cmds), want)
	}

	// Phases in order: each command's phase is at least the one before.
	phase := func(c *ledgerv1.Command) int {
		switch c.GetKind().(type) {
		case *ledgerv1.Command_RegisterInstitution:
			return 1
		case *ledgerv1.Command_RegisterTerminal:
			return 2
		case *ledgerv1.Command_SetRegion:
			return 3
		case *ledgerv1.Command_SetPriceList:
			return 4
		case *ledgerv1.Command_OpenCard:
			return 5
		case *ledgerv1.Command_TopUp:
			return 6
		case *ledgerv1.Command_MarkSeeded:
			return 7
		}
		return 0
	}
	ids := make(map[string]bool)
	institutions := make(map[string]bool)
	cards := make(map[string]bool)
	prev := 1
	for i, c := range cmds {
		p := phase(c)
		if p == 0 {
			t.Fatalf("command %d %q has an unexpected kind", i, c.GetId())
		}
		if p < prev {
			t.Fatalf("command %d %q comes after a later phase", i, c.GetId())
		}
		prev = p
		if ids[c.GetId()] {
			t.Fatalf("id %q twice", c.GetId())
		}
		ids[c.GetId()] = true
		if !strings.HasPrefix(c.GetId(), "demo/2015/") {
			t.Fatalf("id %q does not start with demo/2015/", c.GetId())
		}
		switch k := c.GetKind().(type) {
		case *ledgerv1.Command_RegisterInstitution:
			id := k.RegisterInstitution.GetInstitution().GetInstitutionId()
			if c.GetId() != "demo/2015/inst/"+id {
				t.Errorf("institution %s registered under %q", id, c.GetId())
			}
			institutions[id] = true
		case *ledgerv1.Command_RegisterTerminal:
			term := k.RegisterTerminal.GetTerminal()
			if c.GetId() != "demo/2015/terminal/"+term.GetTerminalId() {
				t.Errorf("terminal %s registered under %q", term.GetTerminalId(), c.GetId())
			}
			if !institutions[term.GetInstitutionId()] {
				t.Errorf("terminal %s registered before its institution", term.GetTerminalId())
			}
		case *ledgerv1.Command_SetPriceList:
			id := k.SetPriceList.GetPriceList().GetInstitutionId()
			if c.GetId() != "demo/2015/pricelist/"+id || !institutions[id] {
				t.Errorf("price list of %s set under %q, or before its institution", id, c.GetId())
			}
		case *ledgerv1.Command_OpenCard:
			if c.GetId() != "demo/2015/card/"+k.OpenCard.GetCardId() {
				t.Errorf("card %s opened under %q", k.OpenCard.GetCardId(), c.GetId())
			}
			cards[k.OpenCard.GetCardId()] = true
		case *ledgerv1.Command_TopUp:
			if c.GetId() != "demo/2015/topup/"+k.TopUp.GetCardId() {
				t.Errorf("card %s topped up under %q", k.TopUp.GetCardId(), c.GetId())
			}
			if !cards[k.TopUp.GetCardId()] {
				t.Errorf("card %s topped up before it was opened", k.TopUp.GetCardId())
			}
			if k.TopUp.GetAmountMinor() <= 0 || k.TopUp.GetTimeUnixMs() != 0 {
				t.Errorf("top-up %q: %v", c.GetId(), k.TopUp)
			}
		}
	}
	last := cmds[len(cmds)-1]
	if last.GetId() != "demo/2015/seeded" || last.GetMarkSeeded().GetSeed() != 2015 {
		t.Errorf("last command = %v, want MarkSeeded 2015 under demo/2015/seeded", last)
	}

	// The commands carry the dataset, field for field.
	at := len(d.Institutions)
	for i, ts := range d.Terminals {
		if !proto.Equal(cmds[at+i].GetRegisterTerminal().GetTerminal(), ts.Terminal) {
			t.Fatalf("terminal command %d does not carry %s", i, ts.Terminal.GetTerminalId())
		}
	}
	at += len(d.Terminals) + 1 + len(d.Institutions)
	topups := at + len(d.Cards)
	for i, c := range d.Cards {
		open := cmds[at+i].GetOpenCard()
		if open.GetCardId() != c.CardID || open.GetKind() != c.Kind || open.GetHolderName() != c.HolderName {
			t.Fatalf("open command %v does not carry card %+v", open, c)
		}
		if c.BalanceMinor > 0 {
			top := cmds[topups].GetTopUp()
			if top.GetCardId() != c.CardID || top.GetAmountMinor() != c.BalanceMinor {
				t.Fatalf("top-up %v does not carry card %+v", top, c)
			}
			topups++
		}
	}
}

// TestCommandsRepeat: a loader that runs again sends the same ids with the
// same content, so the ledger can answer them from its record.
func TestCommandsRepeat(t *testing.T) {
	first := generate(t, testConfig(9, 2_000)).Commands(9)
	again := generate(t, testConfig(9, 2_000)).Commands(9)
	if len(first) != len(again) {
		t.Fatalf("%d commands, then %d", len(first), len(again))
	}
	for i := range first {
		if !proto.Equal(first[i], again[i]) {
			t.Fatalf("command %d: %v, then %v", i, first[i], again[i])
		}
	}
	other := generate(t, testConfig(10, 2_000)).Commands(10)
	if other[0].GetId() != "demo/10/inst/BED-CUL-01" {
		t.Errorf("first id of seed 10 = %q", other[0].GetId())
	}
}

func TestCommandsNil(t *testing.T) {
	var d *Dataset
	if cmds := d.Commands(1); cmds != nil {
		t.Errorf("nil dataset gave %d commands", len(cmds))
	}
}

func BenchmarkCommands(b *testing.B) {
	d := generate(b, testConfig(2015, 150_000))
	b.ReportAllocs()
	for b.Loop() {
		d.Commands(2015)
	}
}
