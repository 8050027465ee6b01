package station

import (
	"context"
	"slices"
	"testing"
	"time"

	civicardv1 "civicard/messages/civicard/v1"
)

// The terminal fetches its institution's price list once per version,
// keeps it across a restart, and risks offline only what the price list
// says a tap costs.
func TestTariffByVersionPricesOfflineTaps(t *testing.T) {
	dir := t.TempDir()
	st, g := newStation(t, dir)
	pln := func(minor int64) *civicardv1.Money { return &civicardv1.Money{Currency: "PLN", MinorUnits: minor} }
	g.tariff = &civicardv1.GetTariffResponse{Version: "v1", Tariff: &civicardv1.TerminalTariff{
		InstitutionId: "I-1", NoPinLimit: pln(5000),
		Products: []*civicardv1.TariffProduct{{Code: "RIDE", Name: "Ride", Rule: "unit", Price: pln(1500)}},
	}}
	ctx := context.Background()
	st.Sync(ctx)
	st.Sync(ctx)
	if want := []string{"", "v1"}; !slices.Equal(g.tariffKnown, want) {
		t.Fatalf("asked with versions %q, want %q", g.tariffKnown, want)
	}
	st.Close()
	st, g = newStation(t, dir)
	if st.tariff.Version() != "v1" || st.tariff.Products() != 1 {
		t.Fatalf("after restart: tariff %q with %d products", st.tariff.Version(), st.tariff.Products())
	}

	// Offline, 20.00 PLN of risk per card: one 15.00 ride, not two.
	g.down = true
	st.cfg.ServiceCode = "RIDE"
	if o := st.Transaction(ctx, "R 0", card(t, "320000002990", true), time.Now()); o.Result != Offline {
		t.Fatalf("first offline ride: %v", o)
	}
	if o := st.Transaction(ctx, "R 0", card(t, "320000002990", true), time.Now()); o.Result != Refused {
		t.Fatalf("second offline ride over the risk limit: %v", o)
	}
}
