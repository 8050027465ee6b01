package replication

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"strconv"
	"testing"
	"time"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Fixture names shared by the tests and the benchmark.
const (
	testInstitution = "ZTM-KATOWICE"
	testTerminal    = "T-KAT-001"
	testService     = "RIDE"
	// testTimeUnixMs is the time every command carries: the ledger takes
	// time as data, so the tests fix it.
	testTimeUnixMs = 1_750_000_000_000
	// openTimeout bounds OpenSingle in tests: an election takes 0.5-1 s.
	openTimeout = 30 * time.Second
)

// testConfig is a group in dir that logs warnings to the test's output and
// registers its metrics on a registry of its own.
func testConfig(tb testing.TB, dir string) (Config, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.NodeID = "node-1"
	cfg.Logger = slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Registerer = reg
	return cfg, reg
}

// openGroup opens a group and closes it when the test ends.
func openGroup(tb testing.TB, cfg Config) *Group {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), openTimeout)
	defer cancel()
	g, err := OpenSingle(ctx, cfg)
	if err != nil {
		tb.Fatalf("OpenSingle: %v", err)
	}
	tb.Cleanup(func() {
		if err := g.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return g
}

// setupCommands registers the institution and its terminal and opens the
// cards.
func setupCommands(cardIDs ...string) []*ledgerv1.Command {
	credential := sha256.Sum256([]byte(testTerminal))
	cmds := []*ledgerv1.Command{
		{Id: "register/" + testInstitution, Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{
			Institution: &civicardv1.Institution{
				InstitutionId: testInstitution,
				Name:          "Zarząd Transportu Metropolitalnego",
				Town:          "Katowice",
				Kind:          civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT,
				Services:      []*civicardv1.Service{{Code: testService, Name: "Ride", UnitPriceMinor: 1}},
			},
		}}},
		{Id: "register/" + testTerminal, Kind: &ledgerv1.Command_RegisterTerminal{RegisterTerminal: &ledgerv1.RegisterTerminal{
			Terminal: &civicardv1.Terminal{
				TerminalId:       testTerminal,
				InstitutionId:    testInstitution,
				Location:         "Katowice Rynek, platform 2",
				CredentialSha256: credential[:],
			},
		}}},
	}
	for _, id := range cardIDs {
		cmds = append(cmds, openCard(id))
	}
	return cmds
}

func openCard(cardID string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: "open/" + cardID, Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{
		CardId: cardID,
		Kind:   civicardv1.CardKind_CARD_KIND_BEARER,
	}}}
}

func topUp(id, cardID string, amountMinor int64) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{
		CardId:      cardID,
		AmountMinor: amountMinor,
		TimeUnixMs:  testTimeUnixMs,
	}}}
}

// charge is a tap at the test terminal; its id is the terminal's sequence,
// as a real terminal's would be.
func charge(seq uint64, cardID string, version uint64, amountMinor int64) *ledgerv1.Command {
	return &ledgerv1.Command{
		Id: "tap/" + testTerminal + "/" + strconv.FormatUint(seq, 10),
		Kind: &ledgerv1.Command_Charge{Charge: &ledgerv1.Charge{
			CardId:           cardID,
			ExpectedVersion:  version,
			AmountMinor:      amountMinor,
			InstitutionId:    testInstitution,
			TerminalId:       testTerminal,
			TerminalSequence: seq,
			ServiceCode:      testService,
			Quantity:         1,
			TimeUnixMs:       testTimeUnixMs,
		}},
	}
}

// mustAllOK proposes cmds in one ProposeAll and fails unless each is OK.
func mustAllOK(tb testing.TB, g *Group, cmds []*ledgerv1.Command) []*ledgerv1.Result {
	tb.Helper()
	results, err := g.ProposeAll(tb.Context(), cmds)
	if err != nil {
		tb.Fatalf("ProposeAll: %v", err)
	}
	for i, r := range results {
		if r.GetStatus() != ledgerv1.Status_STATUS_OK {
			tb.Fatalf("command %s: %v %s", cmds[i].GetId(), r.GetStatus(), r.GetError())
		}
	}
	return results
}

func mustOK(tb testing.TB, g *Group, cmd *ledgerv1.Command) *ledgerv1.Result {
	tb.Helper()
	r, err := g.Propose(tb.Context(), cmd)
	if err != nil {
		tb.Fatalf("Propose %s: %v", cmd.GetId(), err)
	}
	if r.GetStatus() != ledgerv1.Status_STATUS_OK {
		tb.Fatalf("Propose %s: %v %s", cmd.GetId(), r.GetStatus(), r.GetError())
	}
	return r
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gathered returns the value of one metric sample from reg: a counter's or
// gauge's value, or a histogram's sample count. labels select the sample.
func gathered(tb testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	tb.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func hasLabels(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
