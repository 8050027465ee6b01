package actors

import (
	"context"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// countingLedger counts the tariff reads that reach the ledger.
type countingLedger struct {
	*memLedger
	tariffReads atomic.Int32
}

func (l *countingLedger) Tariff(ctx context.Context, cardID, institutionID string) (*ledgerv1.TariffRecords, error) {
	l.tariffReads.Add(1)
	return l.memLedger.Tariff(ctx, cardID, institutionID)
}

// setFare sets a new price list of the test institution in the ledger, as
// an operator on another node would, with the 20-minute ride at fareMinor.
func setFare(t *testing.T, l *memLedger, id string, fareMinor int64) {
	t.Helper()
	cmd := proto.CloneOf(demoTariff(t, "demo/1/pricelist/"+testInstitution))
	cmd.Id = id
	for _, p := range cmd.GetSetPriceList().GetPriceList().GetProducts() {
		if p.GetCode() == "RIDE-20MIN" {
			p.PriceMinor = fareMinor
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if res := l.state.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
		t.Fatalf("set the price list: %v", res)
	}
}

// A new price list set after this node read the old one prices the next
// tap: the ledger refuses the charge priced by the old list as stale, the
// grain reads the tariff again and prices again, and the charge records
// the new version. The tariff is read from the ledger once per change, not
// once per tap.
func TestNewPriceListPricesTheNextTap(t *testing.T) {
	l := &countingLedger{memLedger: newTestLedger(t)}
	l.state.Apply(&ledgerv1.Command{Id: "topup/more", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: testCard, AmountMinor: 2000}}})
	deps := newTestDeps(t, l)
	g := &cardGrain{deps: deps, id: testCard}
	tapAt := func(seq uint64) (int64, string) {
		t.Helper()
		answer, err := g.Authorize(tapOf(seq), nil)
		if err != nil || answer.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED {
			t.Fatalf("tap %d: %v, %v", seq, answer, err)
		}
		tx := l.state.Transactions(testCard, 0, 1)[0]
		return answer.GetCharged().GetMinorUnits(), tx.GetTariffVersion()
	}

	if charged, version := tapAt(1); charged != fareMinor || version != "r1.p1" {
		t.Fatalf("first tap charged %d under %s, want %d under r1.p1", charged, version, fareMinor)
	}
	if n := l.tariffReads.Load(); n != 1 {
		t.Fatalf("%d tariff reads for the first tap, want 1", n)
	}
	setFare(t, l.memLedger, "fare/up", 400)
	if charged, version := tapAt(2); charged != 400 || version != "r1.p2" {
		t.Fatalf("tap after the new list charged %d under %s, want 400 under r1.p2", charged, version)
	}
	if charged, _ := tapAt(3); charged != 400 {
		t.Fatalf("third tap charged %d, want 400", charged)
	}
	if n := l.tariffReads.Load(); n != 2 {
		t.Fatalf("%d tariff reads for three taps and one new list, want 2", n)
	}
	// Another grain of the node finds the new list in the cache.
	other := &cardGrain{deps: deps, id: testCard}
	if answer, err := other.Authorize(tapOf(4), nil); err != nil || answer.GetCharged().GetMinorUnits() != 400 {
		t.Fatalf("tap at another grain: %v, %v", answer, err)
	}
	if n := l.tariffReads.Load(); n != 2 {
		t.Fatalf("%d tariff reads after a tap at another grain, want still 2", n)
	}
}

// An institution without a price list refuses taps until one is set; then
// the same tap goes through.
func TestPriceListSetLaterAcceptsTaps(t *testing.T) {
	l := newTestLedger(t)
	l.state.Apply(&ledgerv1.Command{Id: "reg/lib", Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
		Institution: &civicardv1.Institution{InstitutionId: "NEW-LIB", Kind: civicardv1.ServiceKind_SERVICE_KIND_LIBRARY},
	}}})
	g := &cardGrain{deps: newTestDeps(t, l), id: testCard}
	tap := tapOf(1)
	tap.InstitutionId, tap.Product = "NEW-LIB", "PRINT"
	if _, err := g.Authorize(tap, nil); !grainsv1.IsFailedPrecondition(err) {
		t.Fatalf("tap at an institution without a price list: %v, want FAILED_PRECONDITION", err)
	}
	res := l.state.Apply(&ledgerv1.Command{Id: "list/lib", Kind: &ledgerv1.Command_SetPriceList{SetPriceList: &ledgerv1.SetPriceList{
		PriceList: &ledgerv1.PriceList{InstitutionId: "NEW-LIB", Kind: civicardv1.ServiceKind_SERVICE_KIND_LIBRARY, Products: []*ledgerv1.PriceProduct{
			{Code: "PRINT", Name: "A4", Rule: ledgerv1.TariffRule_TARIFF_RULE_UNIT, PriceMinor: 50},
		}},
		Audit: &civicardv1.Audit{Actor: "operator/test", TimeUnixMs: 1},
	}}})
	if res.GetStatus() != ledgerv1.Status_STATUS_OK {
		t.Fatalf("set the list: %v", res)
	}
	answer, err := g.Authorize(tap, nil)
	if err != nil || answer.GetCharged().GetMinorUnits() != 50 {
		t.Fatalf("tap after the list was set: %v, %v; want 0.50 charged", answer, err)
	}
}
