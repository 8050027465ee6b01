package sim

import (
	"context"
	"testing"
	"time"
)

// TestLoadAgainstSmallCity runs a short closed-loop load against a real
// `civicard up` and checks every tap got an answer a terminal can show.
func TestLoadAgainstSmallCity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts civicard up")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	node, city := smallCity(ctx, t, 2000)
	var terms []Terminal
	for _, seed := range city.Terminals[:16] {
		terms = append(terms, Terminal{ID: seed.Terminal.GetTerminalId(), Credential: seed.Credential})
	}
	tapper := NewGatewayTapper([]string{node.BaseURL}, terms)
	defer tapper.Close()
	cfg := LoadConfig{Tapper: tapper, Concurrency: len(terms), Taps: 800, FirstSequence: 1, Seed: 7, Now: time.Now}
	for _, card := range city.Cards {
		cfg.Cards = append(cfg.Cards, card.CardID)
	}
	report, err := Load(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := report.Summarize()
	if s.Taps != cfg.Taps || s.Errors != 0 || s.Accepted+s.Declined != cfg.Taps {
		t.Fatalf("summary %+v, want %d taps all answered", s, cfg.Taps)
	}
	// Cards without money are declined, funded ones accepted: both happen in
	// a city where 40% of the cards start with a balance.
	if s.Accepted == 0 || s.Declined == 0 {
		t.Fatalf("summary %+v: want both accepted and declined taps", s)
	}
	t.Logf("%d taps: %d accepted, %d declined, %.0f taps/s, p50 %v, p99 %v", s.Taps, s.Accepted, s.Declined, s.TapsPerSecond, s.LatencyP50, s.LatencyP99)
}
