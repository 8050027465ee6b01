package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"civicard/sim"
)

// TestSimDay plays a short day of a small city against `civicard up`,
// with terminals going offline, and checks the run ends with every
// invariant green and a report a person can read.
func TestSimDay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts civicard up")
	}
	c := startCity(t)
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, civicardBin, "sim", "--addr", c.node.BaseURL, "--secrets", c.node.DataDir,
		"--riders", "300", "--lost", "5", "--speed", "14400",
		"--chaos", "--offline-terminals", "150", "--json", jsonPath, "--html", htmlPath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("civicard sim: %v", err)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var report sim.DayReport
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatal(err)
	}
	if !report.OK || len(report.Invariants) != 4 {
		t.Fatalf("report ok %v with %d invariants, want all 4 green: %+v", report.OK, len(report.Invariants), report.Invariants)
	}
	results := map[string]int{}
	for _, r := range report.Results {
		results[r.Name] = r.Count
	}
	if n := results["refused: invalid_argument"]; n > 0 {
		t.Errorf("%d operations refused as invalid: the day's taps (check-ins, passes ...) must all be well formed", n)
	}
	if results[sim.ResultAccepted] == 0 || results[sim.ResultOffline] == 0 || results["declined: card blocked"] == 0 {
		t.Errorf("results %v: want accepted taps, offline taps settled later and a lost card declined", results)
	}
	if len(report.ByKind) != 6 || report.Money.TopUpsMinor <= 0 || report.Money.PaidByCardsMinor <= 0 || report.TapLatency.Count == 0 || len(report.Series) < 3 {
		t.Errorf("report %+v: want taps at all six kinds of service, money in and out, latencies and a series per second", report)
	}
	if moved := report.Ledger.After.ReceivablesMinor - report.Ledger.Before.ReceivablesMinor; moved != report.Money.ToInstitutionsMinor() {
		t.Errorf("institutions are owed %d more, the report says %d", moved, report.Money.ToInstitutionsMinor())
	}
	var charged int64
	for _, k := range report.ByKind {
		charged += k.ChargedMinor
	}
	if charged != report.Money.PaidByCardsMinor {
		t.Errorf("the terminals were answered %d charged, the ledger says the cards paid %d", charged, report.Money.PaidByCardsMinor)
	}
	html, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(html), "<svg") != 2 || !strings.Contains(string(html), "All invariants hold") {
		t.Errorf("HTML report without its two plots or its verdict")
	}
	if !strings.Contains(stdout.String(), "all invariants hold") || !strings.Contains(stderr.String(), "ops") {
		t.Errorf("no verdict on stdout or no progress line on stderr")
	}
}
