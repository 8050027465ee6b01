//go:build pcsc

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/sim/procnode"
	"civicard/terminals/cardapp"
	"civicard/terminals/pcsc"
	"civicard/terminals/vpcd"
)

// Real-stack tests of `civicard terminal`: pcscd with vpcd readers (started
// by scripts/pcscd.sh, which names them in vpcd.ReadersEnv), the Go
// virtual card, the terminal as its own process (built with -tags pcsc) and
// a running `civicard up`. `make pcsc` runs them.

func vpcdSlots(t *testing.T) []vpcd.Slot {
	t.Helper()
	env := os.Getenv(vpcd.ReadersEnv)
	if env == "" {
		unavailable(t, "no vpcd readers: run under scripts/pcscd.sh (make pcsc)")
	}
	slots, err := vpcd.ParseSlots(env)
	if err != nil {
		t.Fatal(err)
	}
	return slots
}

var pcscBin = sync.OnceValues(func() (string, error) {
	root, err := procnode.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "civicard-pcsc-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "civicard")
	cmd := exec.Command("go", "build", "-tags", "pcsc", "-o", bin, "./cmd/civicard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build civicard -tags pcsc: %w\n%s", err, out)
	}
	return bin, nil
})

// issuer is the card master key of the tests.
var issuer = []byte("civicard-e2e-iss")

func virtualCard(t *testing.T, id string, genuine bool) *cardapp.Card {
	t.Helper()
	var key [cardapp.KeySize]byte
	if genuine {
		var err error
		if key, err = cardapp.DiversifyKey(issuer, id); err != nil {
			t.Fatal(err)
		}
	} else {
		_, _ = rand.Read(key[:])
	}
	c, err := cardapp.NewCard(cardapp.CardConfig{CardID: id, Key: key, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// run runs a civicard client command and returns its stdout.
func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("civicard %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// terminalProc is a running `civicard terminal`.
type terminalProc struct {
	cmd     *exec.Cmd
	stdin   io.Writer // its keypad, with "pin_pad": "stdin"
	metrics string
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
	exited  chan struct{}
}

type terminalSetup struct {
	bin, dir, terminalID, configFile string
}

// newTerminal makes a key pair for the demo terminal i, registers it, and
// writes the terminal's configuration for readers.
func newTerminal(t *testing.T, c *city, i int, readers []string, extra map[string]any) terminalSetup {
	t.Helper()
	bin, err := pcscBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	id := c.data.Terminals[i].Terminal.GetTerminalId()
	pub := strings.TrimSpace(run(t, bin, "terminal", "keygen", "--out", filepath.Join(dir, "terminal.key")))
	run(t, bin, "admin", "terminals", "register", "--addr", c.node.BaseURL, "--data", c.node.DataDir, "--terminal", id, "--public-key", pub)
	if err := os.WriteFile(filepath.Join(dir, "issuer.key"), []byte(hex.EncodeToString(issuer)), 0o600); err != nil {
		t.Fatal(err)
	}
	ports, err := procnode.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]any{
		"gateway": c.node.BaseURL, "terminal_id": id, "private_key_file": "terminal.key",
		"issuer_key_file": "issuer.key", "readers": readers, "state_dir": "state",
		"metrics_addr": fmt.Sprintf("127.0.0.1:%d", ports[0]), "tap_budget_ms": 3000,
	}
	for k, v := range extra {
		settings[k] = v
	}
	cfg, _ := json.Marshal(settings)
	file := filepath.Join(dir, "terminal.json")
	if err := os.WriteFile(file, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return terminalSetup{bin: bin, dir: dir, terminalID: id, configFile: file}
}

func (s terminalSetup) start(t *testing.T) *terminalProc {
	t.Helper()
	var cfg struct {
		MetricsAddr string `json:"metrics_addr"`
	}
	raw, _ := os.ReadFile(s.configFile)
	_ = json.Unmarshal(raw, &cfg)
	p := &terminalProc{cmd: exec.Command(s.bin, "terminal", "--config", s.configFile), metrics: "http://" + cfg.MetricsAddr + "/metrics",
		changed: make(chan struct{}, 1), exited: make(chan struct{})}
	p.cmd.Stderr = processLog()
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.changed <- struct{}{}:
			default:
			}
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(p.stop)
	p.waitLine(t, 0, "READY")
	return p
}

func (p *terminalProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// mark is the number of lines printed so far.
func (p *terminalProc) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// waitLine waits for a line after the first `from` that contains every
// part, and returns it.
func (p *terminalProc) waitLine(t *testing.T, from int, parts ...string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		p.mu.Lock()
		for _, line := range p.lines[min(from, len(p.lines)):] {
			all := true
			for _, part := range parts {
				all = all && strings.Contains(line, part)
			}
			if all {
				p.mu.Unlock()
				return line
			}
		}
		lines := strings.Join(p.lines, "\n")
		p.mu.Unlock()
		select {
		case <-p.changed:
		case <-p.exited:
			t.Fatalf("terminal exited before printing %q; it printed:\n%s", parts, lines)
		case <-deadline:
			t.Fatalf("no line with %q in 15 s; the terminal printed:\n%s", parts, lines)
		}
	}
}

// metric scrapes the terminal's /metrics and returns the line of name.
func (p *terminalProc) metric(t *testing.T, name string) string {
	t.Helper()
	res, err := http.Get(p.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	return ""
}

// tapCard inserts card into s, waits for the terminal's answer to it, and
// removes the card.
func tapCard(t *testing.T, p *terminalProc, s vpcd.Slot, card *cardapp.Card, removeAfter int, parts ...string) string {
	t.Helper()
	from := p.mark()
	in, err := vpcd.Insert(context.Background(), vpcd.Config{Addr: s.Addr, Card: card, ATR: cardapp.ATR, RemoveAfterAPDUs: removeAfter})
	if err != nil {
		t.Fatal(err)
	}
	line := p.waitLine(t, from, append([]string{fmt.Sprintf("reader=%q", s.Name)}, parts...)...)
	removeCard(t, s, in)
	return line
}

// removeCard pulls the card out and waits until pcscd reports the reader
// empty (up to ~400 ms): a card inserted before that is never seen as new.
func removeCard(t *testing.T, s vpcd.Slot, in *vpcd.Inserted) {
	t.Helper()
	_ = in.Remove()
	w, err := pcsc.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Wait(ctx, s.Name, false); err != nil {
		t.Fatalf("card never left %q: %v", s.Name, err)
	}
}

func TestTerminalRealStack(t *testing.T) {
	slots := vpcdSlots(t)
	if len(slots) < 2 {
		unavailable(t, "needs two readers, has %d", len(slots))
	}
	c := startCity(t)
	setup := newTerminal(t, c, 0, []string{slots[0].Name, slots[1].Name}, nil)
	term := setup.start(t)

	// A genuine card: green, and the balance drops by what was charged.
	cardID := c.fundedCard(t, 0, 1000)
	before := c.card(t, cardID).GetBalance().GetMinorUnits()
	line := tapCard(t, term, slots[0], virtualCard(t, cardID, true), 0, "GREEN", "card="+cardID)
	t.Logf("genuine: %s", line)
	after := c.card(t, cardID).GetBalance().GetMinorUnits()
	if after >= before {
		t.Fatalf("balance %d -> %d, want it to drop", before, after)
	}

	// A clone (right number, wrong key): refused at the reader, counted, and
	// the gateway never hears of it.
	txns := len(c.transactions(t, cardID))
	line = tapCard(t, term, slots[0], virtualCard(t, cardID, false), 0, "RED", "refused", "not genuine")
	t.Logf("clone: %s", line)
	if got := term.metric(t, `civicard_terminal_cards_refused_total{reason="not_genuine"}`); !strings.HasSuffix(got, " 1") {
		t.Errorf("refused metric: %q", got)
	}
	if n := len(c.transactions(t, cardID)); n != txns {
		t.Errorf("a clone's tap reached the ledger: %d transactions, was %d", n, txns)
	}

	// Pulled mid-transaction (at GET CHALLENGE): fails cleanly, no charge.
	line = tapCard(t, term, slots[0], virtualCard(t, cardID, true), 3, "RED", "failed")
	t.Logf("pulled: %s", line)
	if n, b := len(c.transactions(t, cardID)), c.card(t, cardID).GetBalance().GetMinorUnits(); n != txns || b != after {
		t.Errorf("a pulled card was charged: %d transactions (was %d), balance %d (was %d)", n, txns, b, after)
	}

	// Two readers at once.
	other := c.fundedCard(t, 1, 1000)
	from := term.mark()
	var ins []*vpcd.Inserted
	for i, id := range []string{cardID, other} {
		in, err := vpcd.Insert(context.Background(), vpcd.Config{Addr: slots[i].Addr, Card: virtualCard(t, id, true), ATR: cardapp.ATR})
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	term.waitLine(t, from, "GREEN", "card="+cardID, fmt.Sprintf("reader=%q", slots[0].Name))
	term.waitLine(t, from, "GREEN", "card="+other, fmt.Sprintf("reader=%q", slots[1].Name))
	for i, in := range ins {
		removeCard(t, slots[i], in)
	}

	// Revoked: the gateway refuses the terminal's taps.
	run(t, setup.bin, "admin", "terminals", "revoke", "--addr", c.node.BaseURL, "--data", c.node.DataDir, "--terminal", setup.terminalID, "--reason", "stolen")
	line = tapCard(t, term, slots[1], virtualCard(t, other, true), 0, "RED", "revoked")
	t.Logf("revoked: %s", line)
}

// TestTerminalSurvivesPcscdRestart restarts pcscd under a running terminal,
// as an operator or a package upgrade does: the terminal re-establishes its
// PC/SC contexts by itself and the next card is served as before.
func TestTerminalSurvivesPcscdRestart(t *testing.T) {
	slots := vpcdSlots(t)
	restart := os.Getenv("CIVICARD_PCSCD_RESTART")
	if restart == "" {
		unavailable(t, "pcscd cannot be restarted: run under scripts/pcscd.sh (make pcsc)")
	}
	c := startCity(t)
	term := newTerminal(t, c, 0, []string{slots[0].Name}, nil).start(t)
	cardID := c.fundedCard(t, 0, 1000)
	tapCard(t, term, slots[0], virtualCard(t, cardID, true), 0, "GREEN", "card="+cardID)
	txns := len(c.transactions(t, cardID))

	if out, err := exec.Command(restart).CombinedOutput(); err != nil {
		t.Fatalf("restart pcscd: %v\n%s", err, out)
	}
	restarted := time.Now()

	// The new pcscd loads the vpcd driver again; a card can be inserted once
	// it listens, and the terminal must see it without being restarted.
	from := term.mark()
	var in *vpcd.Inserted
	waitFor(t, 10*time.Second, "the restarted pcscd's reader to listen", func() error {
		var err error
		in, err = vpcd.Insert(context.Background(), vpcd.Config{Addr: slots[0].Addr, Card: virtualCard(t, cardID, true), ATR: cardapp.ATR})
		return err
	})
	line := term.waitLine(t, from, fmt.Sprintf("reader=%q", slots[0].Name), "GREEN", "card="+cardID)
	t.Logf("after restart (%v): %s", time.Since(restarted).Round(time.Millisecond), line)
	removeCard(t, slots[0], in)
	if n := len(c.transactions(t, cardID)); n != txns+1 {
		t.Errorf("%d transactions after the tap following the restart, want %d", n, txns+1)
	}
}

// TestTerminalAsksForThePINOverTheNoPINLimit: at a city office desk, a fee
// over the e-purse's no-PIN limit (PLN 50) is declined until the holder
// types the card's PIN on the terminal's keypad; the card verifies it and
// the fee is paid, once.
func TestTerminalAsksForThePINOverTheNoPINLimit(t *testing.T) {
	slots := vpcdSlots(t)
	c := startCity(t)
	office := -1
	for i, seed := range c.data.Terminals {
		for _, inst := range c.data.Institutions {
			if inst.GetInstitutionId() == seed.Terminal.GetInstitutionId() && inst.GetKind() == civicardv1.ServiceKind_SERVICE_KIND_CITY_OFFICE {
				office = i
			}
		}
		if office >= 0 {
			break
		}
	}
	if office < 0 {
		t.Fatal("the demo city has no city office terminal")
	}
	const fee = 8400 // AKT-MALZENSTWA
	term := newTerminal(t, c, office, []string{slots[0].Name}, map[string]any{"service_code": "AKT-MALZENSTWA", "pin_pad": "stdin"}).start(t)
	cardID := c.fundedCard(t, 0, 0)
	if balance := c.card(t, cardID).GetBalance().GetMinorUnits(); balance < fee+100 {
		c.topUp(t, cardID, fee+100-balance, "pin-test-"+cardID)
	}
	before := c.card(t, cardID).GetBalance().GetMinorUnits()
	key, err := cardapp.DiversifyKey(issuer, cardID)
	if err != nil {
		t.Fatal(err)
	}
	card, err := cardapp.NewCard(cardapp.CardConfig{CardID: cardID, Key: key, PIN: "2468", Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}

	from := term.mark()
	in, err := vpcd.Insert(context.Background(), vpcd.Config{Addr: slots[0].Addr, Card: card, ATR: cardapp.ATR})
	if err != nil {
		t.Fatal(err)
	}
	term.waitLine(t, from, "PIN?", "card="+cardID)
	if _, err := io.WriteString(term.stdin, "2468\n"); err != nil {
		t.Fatal(err)
	}
	line := term.waitLine(t, from, "GREEN", "card="+cardID)
	removeCard(t, slots[0], in)
	t.Logf("with PIN: %s", line)
	if after := c.card(t, cardID).GetBalance().GetMinorUnits(); after != before-fee {
		t.Fatalf("balance %d -> %d, want %d less", before, after, fee)
	}
}

// TestTerminalChecksInAndOutAtStops: a validator on tram line T6 checks a
// passenger in at its first stop (charged the fare to the end of the
// line), the on-board computer announces the stops, and the check-out
// seven kilometres on refunds the difference to the fare of the ride.
func TestTerminalChecksInAndOutAtStops(t *testing.T) {
	slots := vpcdSlots(t)
	c := startCity(t)
	validator := -1
	for i, seed := range c.data.Terminals {
		if seed.Terminal.GetInstitutionId() == "CHO-TRA-01" { // operates T6
			validator = i
			break
		}
	}
	if validator < 0 {
		t.Fatal("no terminal of the operator of line T6")
	}
	term := newTerminal(t, c, validator, []string{slots[0].Name}, map[string]any{
		"service_code": "CICO", "line": "T6", "stop": "KAT-BRYNOW", "direction": 1,
	}).start(t)
	cardID := c.fundedCard(t, 0, 1000)
	before := c.card(t, cardID).GetBalance().GetMinorUnits()

	line := tapCard(t, term, slots[0], virtualCard(t, cardID, true), 0, "GREEN", "card="+cardID, "charged=6.00 PLN")
	t.Logf("check-in at Katowice Brynów: %s", line)
	for _, stop := range []string{"KAT-RYNEK", "KAT-PL-WOLNOSCI", "CHO-AKS"} {
		req, _ := http.NewRequest(http.MethodPut, strings.TrimSuffix(term.metrics, "/metrics")+"/position",
			strings.NewReader(fmt.Sprintf(`{"line":"T6","stop":%q,"direction":1}`, stop)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("PUT /position %s: %s", stop, res.Status)
		}
	}
	line = tapCard(t, term, slots[0], virtualCard(t, cardID, true), 0, "GREEN", "card="+cardID, "charged=-1.60 PLN")
	t.Logf("check-out at Chorzów AKS (7.1 km): %s", line)
	if after := c.card(t, cardID).GetBalance().GetMinorUnits(); after != before-440 {
		t.Fatalf("balance %d -> %d, want the 4.40 PLN fare of 7.1 km taken", before, after)
	}
}
