package sim

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"civicard/cluster"
	"civicard/sim/demo"
)

// TestDriveAgainstSmallCity plays a short day, with terminals offline,
// against a real `civicard up` and checks it from outside: the path of
// `civicard sim`, here under the race detector.
func TestDriveAgainstSmallCity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts civicard up")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const cards = 1000
	node, city := smallCity(ctx, t, cards)
	token, err := cluster.ReadSecret(node.DataDir, cluster.OperatorTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	region, _ := demo.Tariff()
	day := DefaultDayConfig(cards)
	day.Riders, day.OfflineTerminals = 150, len(city.Terminals)/3
	events, err := Plan(city, region.Network, day)
	if err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{Timeout: 10 * time.Second}
	observer := &Observer{Gateways: []string{node.BaseURL}, HTTPClient: httpClient, OperatorToken: token}
	before, err := observer.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Cards != cards {
		t.Fatalf("the ledger holds %d cards, want %d", before.Cards, cards)
	}
	rec := NewRecorder(len(events))
	ops, err := Drive(ctx, DriveConfig{
		Gateways: []string{node.BaseURL}, HTTPClient: httpClient, OperatorToken: token, City: city, Events: events,
		Rate: 500, FirstSequence: 1, RequestPrefix: "drive-test", Midnight: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Recorder: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := observer.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var touched []string
	offline := 0
	for _, op := range ops {
		touched = append(touched, op.Card)
		if op.Outcome != OutcomeAcked {
			t.Errorf("operation %+v not acknowledged", op)
		}
	}
	for _, d := range rec.Done() {
		if d.Offline {
			offline++
		}
	}
	slices.Sort(touched)
	read, err := observer.Cards(ctx, slices.Compact(touched))
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range Check(ops, Observed{Before: before.Totals, After: after.Totals, Cards: read}) {
		if !inv.OK {
			t.Errorf("%s: %s %v", inv.Name, inv.Detail, inv.Failures)
		}
	}
	if offline == 0 || len(ops) < 2*day.Riders {
		t.Errorf("%d operations, %d of them offline; want a day's worth with some offline", len(ops), offline)
	}
	t.Logf("%d operations, %d offline, money %+v", len(ops), offline, Flows(ops, Observed{Before: before.Totals, After: after.Totals, Cards: read}))
}
