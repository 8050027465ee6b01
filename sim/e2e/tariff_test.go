package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"civicard/cluster"
	"civicard/domain/purse"
	"civicard/domain/tariff"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/sim/procnode"
	"civicard/terminals"
)

// A production cluster starts empty and is filled by operators: three
// `civicard node` processes without --demo hold no card and no
// institution; an institution registered through the admin CLI, with a
// terminal, a region and a price list, accepts taps; a second price list
// prices the next tap, whichever node it reaches, and the charge records
// the version it was priced by. A bad file is refused with its line and
// changes nothing.
func TestEndToEndTariffOfAnEmptyCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three civicard processes")
	}
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	nodeArgs := func(attempt string, peers []string, i int) []string {
		return []string{"node", "--name", fmt.Sprintf("n%d", i+1), "--peers", strings.Join(peers, ","),
			"--data", filepath.Join(dir, attempt, fmt.Sprintf("n%d", i+1)), "--secrets", secrets, "--http", "127.0.0.1:0", "--log-level", "warn"}
	}
	somePeers := []string{"n1=127.0.0.1:1=127.0.0.1:3", "n2=127.0.0.1:4=127.0.0.1:6", "n3=127.0.0.1:7=127.0.0.1:9"}

	// Closing cycles on a schedule needs a payout debtor: there is no
	// made-up default.
	out, err := exec.Command(civicardBin, nodeArgs("refused", somePeers, 0)...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no payout debtor is configured") {
		t.Fatalf("a node with daily cycles and no debtor: %v\n%s", err, out)
	}
	// Nor does --cards load anything without --demo: it is refused.
	out, err = exec.Command(civicardBin, append(nodeArgs("refused", somePeers, 0), "--cycle", "0", "--cards", "10")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "only with --demo") {
		t.Fatalf("--cards without --demo: %v\n%s", err, out)
	}

	// Free ports are free only until someone takes them (a node's own
	// outgoing connections included): a start that lost one to another
	// process is tried again on others, a few times.
	const startAttemptsMax = 3
	var nodes []*procnode.Node
	for attempt := 1; nodes == nil; attempt++ {
		ports, err := procnode.FreeNodePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		var peers []string
		for i, p := range ports {
			peers = append(peers, fmt.Sprintf("n%d=%s=%s", i+1, p.ActorAddr(), p.RaftAddr()))
		}
		started := make([]*procnode.Node, 3)
		for i := range started {
			started[i] = &procnode.Node{Bin: civicardBin, DataDir: filepath.Join(dir, fmt.Sprint(attempt), fmt.Sprintf("n%d", i+1)), Log: processLog(),
				Command: append(nodeArgs(fmt.Sprint(attempt), peers, i), "--cycle", "0")}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		errs := make([]error, len(started))
		var wg sync.WaitGroup
		for i, n := range started {
			wg.Go(func() { errs[i] = n.Start(ctx) })
		}
		wg.Wait()
		cancel()
		failed := errors.Join(errs...)
		for _, n := range started {
			t.Cleanup(n.Kill)
		}
		switch {
		case failed == nil:
			nodes = started
		case strings.Contains(failed.Error(), "address already in use") && attempt < startAttemptsMax:
			t.Logf("start attempt %d lost a port: %v", attempt, failed)
			for _, n := range started {
				n.Kill()
			}
		default:
			t.Fatalf("start the cluster: %v", failed)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli := func(node int, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(civicardBin, append(args, "--addr", nodes[node].URL(), "--data", secrets)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustCLI := func(node int, args ...string) string {
		t.Helper()
		out, err := cli(node, args...)
		if err != nil {
			t.Fatalf("civicard %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	// Empty: no card in any replica, no institution, no tariff.
	token, err := cluster.ReadSecret(secrets, cluster.OperatorTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		admin := civicardv1connect.NewAdminServiceClient(&http.Client{Timeout: 10 * time.Second}, n.URL(), terminals.WithCredential(token))
		res, err := admin.GetNode(ctx, connect.NewRequest(&civicardv1.GetNodeRequest{}))
		if err != nil {
			t.Fatalf("n%d: GetNode: %v", i+1, err)
		}
		for _, g := range res.Msg.GetGroups() {
			if g.GetTotals().GetCards() != 0 {
				t.Fatalf("n%d: group %s holds %d cards in a new cluster", i+1, g.GetGroup(), g.GetTotals().GetCards())
			}
		}
	}
	show := &civicardv1.ShowTariffResponse{}
	readJSON(t, mustCLI(0, "admin", "tariff", "show", "--json"), show)
	if show.GetRegion() != nil || len(show.GetPriceLists()) > 0 {
		t.Fatalf("a new cluster has a tariff: %v", show)
	}
	if out, err := cli(0, "admin", "terminals", "add", "--terminal", "T-CHO-TRA-01-001", "--institution", "CHO-TRA-01", "--credential", "0123456789abcdef0123"); err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("a terminal of the demo's institution in an empty cluster: %v\n%s", err, out)
	}

	// Operators fill it: an institution, the region, a terminal.
	mustCLI(0, "admin", "institutions", "add", "--institution", "TEST-LIB-01", "--kind", "library", "--name", "Biblioteka", "--reason", "opens")
	region := tariff.Region{
		Network:  tariff.Network{Bands: []tariff.Band{{UpToMetres: 10_000, PriceMinor: 300}}},
		Journeys: tariff.DefaultJourneyRules(),
		Purse:    purse.DefaultLimits(),
		Limits:   tariff.DefaultLimits(),
	}
	regionFile, err := tariff.FormatRegion(region)
	if err != nil {
		t.Fatal(err)
	}
	writeFile := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if out := mustCLI(1, "admin", "tariff", "region", "set", writeFile("region.json", regionFile), "--reason", "the city's limits"); !strings.Contains(out, "version 1 in force") {
		t.Fatalf("region set: %s", out)
	}
	const credential = "test-terminal-credential-0001"
	mustCLI(2, "admin", "terminals", "add", "--terminal", "T-TEST-LIB-01", "--institution", "TEST-LIB-01", "--credential", credential)
	const card = "390000000013"
	mustCLI(0, "card", "issue", card, "--kind", "bearer", "--reason", "test")
	mustCLI(0, "card", "topup", card, "10.00")
	tap := func(node int, seq int) (*civicardv1.TapResponse, error) {
		t.Helper()
		out, err := cli(node, "tap", "--terminal", "T-TEST-LIB-01", "--card", card, "--credential", credential,
			"--service", "PRINT", "--seq", fmt.Sprint(seq), "--json")
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, out)
		}
		res := &civicardv1.TapResponse{}
		readJSON(t, out, res)
		return res, nil
	}
	if _, err := tap(0, 1); err == nil || !strings.Contains(err.Error(), "has no price list") {
		t.Fatalf("a tap before the institution has a price list: %v", err)
	}

	// The price list, as a file; a bad one first.
	listFile := func(priceMinor int) []byte {
		return fmt.Appendf(nil, `{
  "InstitutionID": "TEST-LIB-01",
  "Kind": "SERVICE_KIND_LIBRARY",
  "Products": [
    {"Code": "PRINT", "Name": "Wydruk A4", "Rule": "unit", "PriceMinor": %d}
  ]
}
`, priceMinor)
	}
	bad := strings.Replace(string(listFile(50)), `"Rule": "unit"`, `"Rul": "unit"`, 1)
	if out, err := cli(0, "admin", "tariff", "set", "--institution", "TEST-LIB-01", writeFile("bad.json", []byte(bad))); err == nil ||
		!strings.Contains(out, `line 5: Products[0]: unknown field "Rul"`) {
		t.Fatalf("a bad price list: %v\n%s", err, out)
	}
	if out := mustCLI(1, "admin", "tariff", "set", "--institution", "TEST-LIB-01", writeFile("list1.json", listFile(50)), "--reason", "opening prices"); !strings.Contains(out, "version 1 in force") {
		t.Fatalf("tariff set: %s", out)
	}
	charged := func(node, seq int, wantMinor int64, wantVersion string) {
		t.Helper()
		res, err := tap(node, seq)
		if err != nil {
			t.Fatalf("tap %d at n%d: %v", seq, node+1, err)
		}
		if res.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED || res.GetCharged().GetMinorUnits() != wantMinor {
			t.Fatalf("tap %d at n%d: %v, want %d charged", seq, node+1, res, wantMinor)
		}
		txns := &civicardv1.ListTransactionsResponse{}
		readJSON(t, mustCLI(node, "card", "transactions", card, "--json"), txns)
		for _, tx := range txns.GetTransactions() {
			if tx.GetTransactionId() == res.GetTransactionId() {
				if tx.GetTariffVersion() != wantVersion {
					t.Fatalf("tap %d was priced under %q, want %q", seq, tx.GetTariffVersion(), wantVersion)
				}
				return
			}
		}
		t.Fatalf("tap %d (%s) is not among the card's transactions", seq, res.GetTransactionId())
	}
	charged(0, 2, 50, "r1.p1")
	charged(1, 3, 50, "r1.p1")

	// A new price: the next tap at every node is charged by it.
	if out := mustCLI(2, "admin", "tariff", "set", "--institution", "TEST-LIB-01", writeFile("list2.json", listFile(70)), "--reason", "paper costs more"); !strings.Contains(out, "version 2 in force") {
		t.Fatalf("tariff set again: %s", out)
	}
	charged(0, 4, 70, "r1.p2")
	charged(1, 5, 70, "r1.p2")
	charged(2, 6, 70, "r1.p2")

	readJSON(t, mustCLI(1, "admin", "tariff", "show", "--json"), show)
	if v := show.GetPriceLists(); len(v) != 1 || v[0].GetVersion() != 2 || v[0].GetAudit().GetReason() != "paper costs more" || show.GetRegion().GetVersion() != 1 {
		t.Fatalf("tariff show: %v", show)
	}
}

func readJSON(t *testing.T, out string, msg proto.Message) {
	t.Helper()
	if err := protojson.Unmarshal([]byte(out), msg); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
}
