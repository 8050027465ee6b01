package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/money"
	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/sim/procnode"
	"civicard/terminals"
)

// statementRow is one row of `admin statement --format csv`.
type statementRow struct {
	time, id, terminal   string
	offline              bool
	grossMinor, netMinor int64
	concessionMinor      int64
}

// readStatement parses the CSV: the transaction rows, then TOTAL,
// CARRIED IN, PAYABLE, CARRIED OUT (their net column).
func readStatement(t *testing.T, text string) (rows []statementRow, total statementRow, payableMinor int64) {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("statement is not CSV: %v\n%s", err, text)
	}
	amount := func(s string) int64 {
		v, err := money.Parse(strings.TrimPrefix(s, "-"))
		if err != nil {
			t.Fatalf("amount %q: %v", s, err)
		}
		if strings.HasPrefix(s, "-") {
			return -v
		}
		return v
	}
	for _, r := range records[1:] {
		row := statementRow{time: r[0], id: r[1], terminal: r[4], offline: r[7] == "true",
			grossMinor: amount(r[8]), concessionMinor: amount(r[9]), netMinor: amount(r[12])}
		switch r[1] {
		case "TOTAL":
			total = row
		case "PAYABLE":
			payableMinor = row.netMinor
		case "CARRIED IN", "CARRIED OUT":
			if row.netMinor != 0 {
				t.Errorf("%s %d with no refunds and every institution paid", r[1], row.netMinor)
			}
		default:
			rows = append(rows, row)
		}
	}
	return rows, total, payableMinor
}

// settleFundMinor is what TestSettleEndToEnd adds to each card it taps
// with: more than any ticket of the institutions it taps at.
const settleFundMinor = 5000

var endToEndID = regexp.MustCompile(`<EndToEndId>([^<]+)</EndToEndId>`)

// TestSettleEndToEnd drives `civicard up` through a cycle: taps online and
// a late offline upload, `admin settle`, every institution's statement,
// the payout file and `admin reconcile`; then a restart, and the batch is
// still there and the books still reconcile.
func TestSettleEndToEnd(t *testing.T) {
	dir := t.TempDir()
	node := &procnode.Node{Bin: civicardBin, DataDir: filepath.Join(dir, "data"), Log: processLog(),
		Args: []string{"--cards", fmt.Sprint(testCards), "--cycle", "0", "--fee-bp", "200", "--fee-fixed", "0.01"}}
	c := &city{node: node, http: newHTTPClient()}
	c.start(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = node.Stop(ctx)
	})
	cli := func(args ...string) string {
		return runCLI(t, append(args, "--addr", node.BaseURL, "--data", node.DataDir)...)
	}

	charged := map[string]int64{} // institution -> what its taps charged
	taps := map[string]int{}
	offlineAt := time.Now().Add(-3 * time.Hour).UTC()
	var offlineID string
	// fund tops card k up by settleFundMinor, so that it pays any tap of
	// these terminals: every one must be accepted.
	fund := func(k int) string {
		card := c.fundedCard(t, k, 1000)
		c.topUp(t, card, settleFundMinor, "settle-fund-"+card)
		return card
	}
	for i := range 3 {
		client, terminalID := c.terminal(i)
		inst := c.data.Terminals[i].Terminal.GetInstitutionId()
		for seq := uint64(1); seq <= 8; seq++ {
			res, err := client.Tap(context.Background(), seq, fund(i*8+int(seq)), terminals.Purchase{}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if res.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED {
				t.Fatalf("tap %d at %s on a funded card: %v, want accepted", seq, terminalID, res)
			}
			charged[inst] += res.GetCharged().GetMinorUnits()
			taps[inst]++
		}
		if i == 0 { // a tap the terminal took offline hours ago, uploaded now
			req := client.Build(100, fund(30), terminals.Purchase{}, offlineAt)
			res, err := client.UploadOfflineTaps(context.Background(), []*civicardv1.TapRequest{req})
			if err != nil || res[0].GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED {
				t.Fatalf("offline upload: %v %v", res, err)
			}
			charged[inst] += res[0].GetCharged().GetMinorUnits()
			taps[inst]++
			offlineID = fmt.Sprintf("tap/%s/100", terminalID)
		}
	}

	out := cli("admin", "settle")
	if !strings.HasPrefix(out, "cycle 1 paid:") {
		t.Fatalf("admin settle:\n%s", out)
	}
	var payable int64
	for inst, want := range charged {
		rows, total, instPayable := readStatement(t, cli("admin", "statement", inst, "1"))
		var sumNet, sumCharged int64
		for _, r := range rows {
			sumNet += r.netMinor
			sumCharged += r.grossMinor - r.concessionMinor
			if r.id == offlineID && (!r.offline || r.time != offlineAt.Format("2006-01-02T15:04:05.000Z")) {
				t.Errorf("the offline tap's line: time %s offline %v, want its own time %s", r.time, r.offline, offlineAt.Format(time.RFC3339))
			}
		}
		if len(rows) != taps[inst] || sumCharged != want {
			t.Errorf("%s: %d lines charging %d, want %d taps charging %d", inst, len(rows), sumCharged, taps[inst], want)
		}
		if sumNet != total.netMinor || total.netMinor != instPayable || instPayable <= 0 {
			t.Errorf("%s: lines sum to %d, TOTAL says %d, PAYABLE %d", inst, sumNet, total.netMinor, instPayable)
		}
		payable += instPayable
	}

	file := filepath.Join(dir, "cycle1.xml")
	cli("admin", "payout-file", "1", "--out", file)
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := payout.Validate(doc); err != nil {
		t.Fatalf("payout file: %v\n%s", err, doc)
	}
	ids := endToEndID.FindAllStringSubmatch(string(doc), -1)
	if len(ids) != len(charged) {
		t.Errorf("payout file pays %d institutions, want %d", len(ids), len(charged))
	}
	for inst := range charged {
		if !strings.Contains(string(doc), "<EndToEndId>"+payout.EndToEndID(1, inst)+"</EndToEndId>") {
			t.Errorf("payout file lacks %s", inst)
		}
	}
	if !strings.Contains(string(doc), "<CtrlSum>"+payout.Decimal(payable)+"</CtrlSum>") {
		t.Errorf("payout file's control sum is not the statements' %s", payout.Decimal(payable))
	}

	if out := cli("admin", "reconcile"); !strings.Contains(out, "reconciled: the books balance") {
		t.Fatalf("admin reconcile:\n%s", out)
	}
	if m := c.metrics(t); !strings.Contains(m, "\ncivicard_reconcile_ok 1\n") {
		t.Errorf("civicard_reconcile_ok is not 1")
	}

	// Bad input: a clear error, nothing changed.
	for _, args := range [][]string{{"admin", "statement", "NO-SUCH", "1"}, {"admin", "statement", charged1(charged), "9"}, {"admin", "payout-file", "7"}} {
		cmd := exec.Command(civicardBin, append(args, "--addr", node.BaseURL, "--data", node.DataDir)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("civicard %s succeeded:\n%s", strings.Join(args, " "), out)
		}
	}

	// An empty cycle settles to an empty batch; a restart keeps both.
	if out := cli("admin", "settle"); !strings.HasPrefix(out, "cycle 2 paid: 0.00 PLN to 0 institutions") {
		t.Fatalf("second settle:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := node.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	if out := cli("admin", "batches"); !strings.Contains(out, "next cycle to settle: 3") || !strings.Contains(out, payout.Decimal(payable)+" PLN") {
		t.Fatalf("batches after a restart:\n%s", out)
	}
	if out := cli("admin", "reconcile"); !strings.Contains(out, "reconciled") {
		t.Fatalf("reconcile after a restart:\n%s", out)
	}
}

func charged1(m map[string]int64) string {
	for k := range m {
		return k
	}
	return ""
}

// TestSettleClusterLeaderKilled closes a cycle on a three-node cluster
// while taps flow, and kills -9 the node that leads the registry (the
// settlement coordinator) once the batch is recorded and before it is
// paid: the new leader finishes the same batch, and it is paid once.
func TestSettleClusterLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 civicard nodes")
	}
	// Cycles on request only: a cycle the clock closed at midnight would
	// take the number this test closes.
	c := startClusterAt(t, loopbackPlaces(t, 3), "--cycle", "0")
	// One tap at a terminal of each of many institutions, so that the
	// batch has many payouts to post and the kill lands among them.
	tapped := map[string]bool{}
	var funded []string
	for _, card := range c.data.Cards {
		if card.BalanceMinor >= 1000 {
			funded = append(funded, card.CardID)
		}
	}
	for _, seed := range c.data.Terminals {
		inst := seed.Terminal.GetInstitutionId()
		if tapped[inst] || len(tapped) == 80 {
			continue
		}
		client := terminals.NewClient(c.http, c.nodes[0].BaseURL, seed.Terminal.GetTerminalId(), seed.Credential)
		// A sequence number the load's terminals (counting from 1) never
		// reach: theirs must not be answered with this tap's result.
		res, err := client.Tap(context.Background(), 1_000_000, funded[len(tapped)%len(funded)], terminals.Purchase{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tapped[inst] = res.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED
	}
	// A declined tap (a fee over the no-PIN limit, a ticket dearer than
	// the card's balance) is tried again at the institution's next
	// terminal with the next card; still, most institutions must have
	// taken one.
	accepted := 0
	for _, ok := range tapped {
		if ok {
			accepted++
		}
	}
	if accepted < len(tapped)/2 {
		t.Fatalf("taps accepted at %d of %d institutions, want most", accepted, len(tapped))
	}
	l := startClusterLoad(t, c, 8, 2, 200, 0)
	l.waitAcked(t, 300)

	leaders := c.leaders(t, c.aliveWithout(-1))
	victim := -1
	for i, groups := range leaders {
		for _, g := range groups {
			if g == "registry" {
				victim = i
			}
		}
	}
	if victim < 0 {
		t.Fatalf("no node leads the registry: %v", leaders)
	}
	observer := (victim + 1) % 3
	settlementAPI := func(i int) civicardv1connect.SettlementServiceClient {
		return civicardv1connect.NewSettlementServiceClient(newHTTPClient(), c.nodes[i].BaseURL, terminals.WithCredential(c.operator))
	}
	closed := make(chan error, 1)
	go func() {
		_, err := settlementAPI(victim).CloseCycle(context.Background(), connect.NewRequest(&civicardv1.CloseCycleRequest{}))
		closed <- err
	}()
	// Kill the coordinator as soon as the batch is recorded: it looks
	// again at once (no pause), so that the kill lands before the batch is
	// paid.
	deadline := time.Now().Add(60 * time.Second)
	var atKill *civicardv1.SettlementBatch
	for atKill == nil {
		if time.Now().After(deadline) {
			t.Fatal("no batch recorded in 60 s")
		}
		res, err := settlementAPI(observer).ListBatches(context.Background(), connect.NewRequest(&civicardv1.ListBatchesRequest{}))
		if err == nil && len(res.Msg.GetBatches()) > 0 {
			atKill = res.Msg.GetBatches()[0]
		}
	}
	c.nodes[victim].Kill()
	killedAt := time.Now()
	if err := <-closed; err == nil {
		t.Log("the close answered before the kill")
	}
	t.Logf("n%d (registry leader) killed with batch %d recorded, paid %v", victim+1, atKill.GetCycle(), atKill.GetPaid())

	var paid *civicardv1.SettlementBatch
	waitFor(t, 60*time.Second, "the batch to be paid after the kill", func() error {
		res, err := settlementAPI(observer).ListBatches(context.Background(), connect.NewRequest(&civicardv1.ListBatchesRequest{}))
		switch {
		case err != nil:
			return err
		case len(res.Msg.GetBatches()) == 0 || !res.Msg.GetBatches()[0].GetPaid():
			return fmt.Errorf("batches %v", res.Msg.GetBatches())
		}
		if n := len(res.Msg.GetBatches()); n != 1 {
			t.Fatalf("%d batches, want 1", n)
		}
		paid = res.Msg.GetBatches()[0]
		return nil
	})
	t.Logf("batch %d paid %v after the kill: %d institutions", paid.GetCycle(), time.Since(killedAt).Round(time.Millisecond), len(paid.GetInstitutions()))
	// A survivor, not the victim, ran the batch to paid.
	finishedBy := 0
	for i, node := range c.nodes {
		if i == victim {
			continue
		}
		if m := regexp.MustCompile(`(?m)^civicard_settlement_batches_total (\d+)$`).FindStringSubmatch(c.metricsAt(t, node.URL())); m != nil && m[1] != "0" {
			finishedBy++
		}
	}
	if finishedBy != 1 || atKill.GetPaid() {
		t.Fatalf("%d survivors finished the batch (paid at the kill: %v), want the new leader alone", finishedBy, atKill.GetPaid())
	}
	if paid.GetCycle() != 1 || paid.GetCreatedUnixMs() != atKill.GetCreatedUnixMs() {
		t.Fatalf("paid batch %d created %d, the recorded one was %d created %d", paid.GetCycle(), paid.GetCreatedUnixMs(), atKill.GetCycle(), atKill.GetCreatedUnixMs())
	}

	file, err := settlementAPI(observer).GetPayoutFile(context.Background(), connect.NewRequest(&civicardv1.GetPayoutFileRequest{Cycle: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if err := payout.Validate(file.Msg.GetXml()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range endToEndID.FindAllStringSubmatch(string(file.Msg.GetXml()), -1) {
		if seen[m[1]] {
			t.Fatalf("%s is paid twice in the file", m[1])
		}
		seen[m[1]] = true
	}
	payees := 0
	for _, inst := range paid.GetInstitutions() {
		if inst.GetPayableMinor() > 0 {
			payees++
		}
	}
	if len(seen) != payees || payees == 0 {
		t.Fatalf("the file pays %d institutions, the batch %d", len(seen), payees)
	}

	l.finish()
	l.verify(t, observer)
	alive := c.aliveWithout(victim)
	c.checkReplicas(t, alive, l)
	var addrs []string
	for i, node := range c.nodes {
		if alive[i] {
			addrs = append(addrs, node.BaseURL)
		}
	}
	out := runCLI(t, "admin", "reconcile", "--addr", strings.Join(addrs, ","), "--data", c.secrets)
	if !strings.Contains(out, "reconciled: the books balance") || !strings.Contains(out, "paid batches pay") {
		t.Fatalf("admin reconcile:\n%s", out)
	}
	t.Logf("%d operations acknowledged while the cycle closed; reconcile:\n%s", len(l.acked), out)
}

// settleCallTimeout is how long `civicard admin settle` waits for a close:
// the test's own calls wait as long.
const settleCallTimeout = 3 * time.Minute

// newHTTPClient waits as long as a close may take.
func newHTTPClient() *http.Client { return &http.Client{Timeout: settleCallTimeout} }
