package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/cardno"
	"civicard/domain/money"
	"civicard/domain/tariff"
	"civicard/domain/tariff/tapline"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/sim/procnode"
	"civicard/terminals"
)

// scenariosEndToEndMin is how many of the fare engine's scenarios
// (domain/tariff/testdata) must run through the real API: at least a third.
const scenariosEndToEndMin = 25

// TestFareScenariosEndToEnd replays the fare engine's scenarios through a
// running `civicard up`: every card is issued, granted its concessions and
// topped up over the CardService API, every tap goes through the
// TerminalService API from a terminal of the institution, with the
// scenario's line, stop, direction and PIN, and the answers are written in
// the scenarios' own format and compared with their expected output. The
// engine is not called by the test: what it compares is what the system
// answered.
//
// Left out: scenarios that set a top-up's balance or ask for a correction
// at a given time (the system stamps both with its own clock), and the
// parts of a "state" line the API does not show (cap counters, stays, the
// time ticket); journeys, incomplete journeys and passes it does show are
// compared. A tap the engine refuses as bad input (a product not sold, a
// quantity, a place, a time) is answered as INVALID_ARGUMENT, not as a
// recorded decline: both are written "DECLINED bad input".
func TestFareScenariosEndToEnd(t *testing.T) {
	c := startCity(t)
	root, err := procnode.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(root, "domain", "tariff", "testdata", "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	r := &scenarioRunner{c: c, terminals: map[string]*scenarioTerminal{}}
	for i := range c.data.Terminals {
		seed := &c.data.Terminals[i]
		inst := seed.Terminal.GetInstitutionId()
		if r.terminals[inst] == nil {
			r.terminals[inst] = &scenarioTerminal{client: terminals.NewClient(c.http, c.node.BaseURL, seed.Terminal.GetTerminalId(), seed.Credential)}
		}
	}
	ran := 0
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, sc := range parseScenarios(string(data)) {
			name := fmt.Sprintf("%s/%d", strings.TrimSuffix(filepath.Base(path), ".txt"), i+1)
			if skip := sc.skipReason(); skip != "" {
				t.Logf("%s: not end to end (%s)", name, skip)
				continue
			}
			t.Run(name, func(t *testing.T) {
				got := r.run(t, sc)
				if want := sc.comparable(); got != want {
					t.Errorf("scenario at line %d\ninput:\n%s\ngot:\n%s\nwant:\n%s", sc.line, sc.input, got, want)
				}
			})
			ran++
		}
	}
	t.Logf("%d scenarios end to end", ran)
	if ran < scenariosEndToEndMin {
		t.Errorf("%d scenarios ran end to end, want at least %d", ran, scenariosEndToEndMin)
	}
}

type scenario struct {
	line          int
	input, output string
}

// parseScenarios reads the `run` blocks of a datadriven file.
func parseScenarios(text string) []scenario {
	var out []scenario
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] != "run" {
			continue
		}
		sc := scenario{line: i + 1}
		var in, exp []string
		j := i + 1
		for ; j < len(lines) && lines[j] != "----"; j++ {
			in = append(in, lines[j])
		}
		for j++; j < len(lines) && lines[j] != ""; j++ {
			exp = append(exp, lines[j])
		}
		sc.input, sc.output = strings.Join(in, "\n"), strings.Join(exp, "\n")
		out = append(out, sc)
		i = j
	}
	return out
}

func (sc scenario) skipReason() string {
	for _, l := range strings.Split(sc.input, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case f[0] == "topup" || f[0] == "correct":
			return f[0] + " at a scenario's time"
		case f[0] == "card" && f[1] == "bearer" && len(f) > 2:
			return "a concession on a bearer card, which the API refuses to grant"
		case f[0] == "tap":
			// A line that does not parse is run, and fails there with its error.
			if tap, err := tapline.ParseTap(f[1:]); err == nil && strings.HasPrefix(tap.Institution, "XXX-") {
				return "an institution the city does not have"
			}
		}
	}
	return ""
}

var inputDecline = regexp.MustCompile(`DECLINED (where|no such product|quantity|time): `)

// comparable is the expected output in the form the API can show: input
// declines as "bad input", and of a state block the journey, incomplete
// journeys and passes.
func (sc scenario) comparable() string {
	var out []string
	inState := false
	for _, l := range strings.Split(sc.output, "\n") {
		if !strings.HasPrefix(l, "  ") {
			inState = strings.HasPrefix(l, "state:")
			if inState {
				out = append(out, "state:")
				continue
			}
		}
		if inState && !(strings.HasPrefix(l, "  journey ") || strings.HasPrefix(l, "  incomplete ") || strings.HasPrefix(l, "  pass ")) {
			continue
		}
		out = append(out, inputDecline.ReplaceAllString(l, "DECLINED bad input: "))
	}
	return strings.Join(out, "\n")
}

type scenarioTerminal struct {
	client   *terminals.Client
	sequence uint64
}

type scenarioRunner struct {
	c         *city
	terminals map[string]*scenarioTerminal
	cards     uint64 // card numbers issued so far
	requests  int
}

// run plays one scenario and writes what the system answered.
type scenarioRun struct {
	r    *scenarioRunner
	t    *testing.T
	card string
	day  time.Time
	taps int
	// names are the scenario's tap names by transaction id.
	names map[string]string
	out   []string
}

func (r *scenarioRunner) run(t *testing.T, sc scenario) string {
	run := &scenarioRun{r: r, t: t, names: map[string]string{}}
	for _, l := range strings.Split(sc.input, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "card":
			run.newCard(f[1:])
		case "day":
			d, err := time.Parse(time.DateOnly, f[1])
			if err != nil {
				t.Fatalf("bad day %q", f[1])
			}
			run.day = d
		case "tap":
			run.tap(f[1:])
		case "state":
			run.state()
		case "replace":
			run.replace()
		default:
			t.Fatalf("unknown line %q", l)
		}
	}
	return strings.Join(run.out, "\n")
}

func (r *scenarioRunner) requestID() string {
	r.requests++
	return fmt.Sprintf("fares-e2e-%d", r.requests)
}

// freshCardID returns a card number the demo city does not use.
func (r *scenarioRunner) freshCardID(t *testing.T) string {
	r.cards++
	id, err := cardno.Make(90_000_000_000 + r.cards)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (run *scenarioRun) newCard(args []string) {
	t, ctx, cards := run.t, context.Background(), run.r.c.cards
	run.card = run.r.freshCardID(t)
	issue := &civicardv1.IssueCardRequest{CardId: run.card, Kind: civicardv1.CardKind_CARD_KIND_BEARER, RequestId: run.r.requestID(), Reason: "scenario"}
	if args[0] == "personal" {
		issue.Kind, issue.HolderName = civicardv1.CardKind_CARD_KIND_PERSONAL, "Jan Testowy"
	}
	if _, err := cards.IssueCard(ctx, connect.NewRequest(issue)); err != nil {
		t.Fatalf("issue: %v", err)
	}
	for _, a := range args[1:] {
		code, span, _ := strings.Cut(a, ":")
		from, until, _ := strings.Cut(span, "..")
		if _, err := cards.GrantEntitlement(ctx, connect.NewRequest(&civicardv1.GrantEntitlementRequest{
			CardId: run.card, Entitlement: &civicardv1.Entitlement{Concession: code, FromDate: from, UntilDate: until, Issuer: "test"},
			RequestId: run.r.requestID(), Reason: "scenario",
		})); err != nil {
			t.Fatalf("grant %s: %v", a, err)
		}
	}
	run.fund()
}

// fund keeps the balance high enough that no tap of a scenario is declined
// for want of money (the scenarios test prices and limits, not balances).
func (run *scenarioRun) fund() {
	balance := run.r.c.card(run.t, run.card).GetBalance().GetMinorUnits()
	if balance >= 10_000 {
		return
	}
	run.r.c.topUp(run.t, run.card, 20_000-balance, run.r.requestID())
}

// at turns a local HH:MM of the scenario's day into a time (Polish time,
// as the engine's calendar has it).
func (run *scenarioRun) at(hhmm string) time.Time {
	h, m, _ := strings.Cut(hhmm, ":")
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	local := run.day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	for _, offset := range []time.Duration{time.Hour, 2 * time.Hour} {
		ms := local.Add(-offset).UnixMilli()
		if w := tariff.When(ms); w.Day == int32(run.day.Unix()/86400) && int(w.MinuteOfDay) == hh*60+mm {
			return time.UnixMilli(ms)
		}
	}
	run.t.Fatalf("no moment is %s local on %s", hhmm, run.day.Format(time.DateOnly))
	return time.Time{}
}

func (run *scenarioRun) tap(args []string) {
	t := run.t
	line, err := tapline.ParseTap(args)
	if err != nil {
		t.Fatal(err)
	}
	run.taps++
	name := fmt.Sprintf("t%d", run.taps)
	head := line.Head(name)
	term := run.r.terminals[line.Institution]
	if term == nil {
		t.Fatalf("no terminal of %s in the demo city", line.Institution)
	}
	buy := terminals.Purchase{
		ServiceCode: line.Product,
		Quantity:    line.Quantity,
		Line:        line.Line,
		Stop:        line.Stop,
		Direction:   int32(line.Direction),
		PINVerified: line.PINVerified,
	}
	term.sequence++
	req := term.client.Build(term.sequence, run.card, buy, run.at(line.At))
	var res *civicardv1.TapResponse
	if line.Offline {
		var results []*civicardv1.TapResponse
		if results, err = term.client.UploadOfflineTaps(context.Background(), []*civicardv1.TapRequest{req}); err == nil {
			res = results[0]
		}
	} else {
		res, err = term.client.Send(context.Background(), req)
	}
	if err != nil {
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("%s: %v", head, err)
		}
		var ce *connect.Error
		msg := err.Error()
		if errors.As(err, &ce) {
			msg = ce.Message()
		}
		run.out = append(run.out, fmt.Sprintf("%s: DECLINED bad input: %s", head, msg))
		return
	}
	run.names[res.GetTransactionId()] = name
	if res.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED {
		run.out = append(run.out, fmt.Sprintf("%s: DECLINED %s: %s", head, engineDecline(res.GetDeclineReason()), res.GetDeclineDetail()))
		return
	}
	switch charged := res.GetCharged().GetMinorUnits(); {
	case charged > 0:
		run.out = append(run.out, fmt.Sprintf("%s: charge %s", head, money.Format(charged, "PLN")))
	case charged < 0:
		run.out = append(run.out, fmt.Sprintf("%s: refund %s", head, money.Format(-charged, "PLN")))
	default:
		run.out = append(run.out, head+": free, recorded")
	}
	for _, b := range res.GetBreakdown() {
		run.out = append(run.out, "  "+b)
	}
	run.fund()
}

// engineDecline names a decline as the scenarios do.
func engineDecline(d civicardv1.DeclineReason) string {
	switch d {
	case civicardv1.DeclineReason_DECLINE_REASON_AMOUNT:
		return "amount"
	case civicardv1.DeclineReason_DECLINE_REASON_CARD_FULL:
		return "card full"
	case civicardv1.DeclineReason_DECLINE_REASON_LIMIT_TRANSACTION_NO_PIN:
		return "limit (transaction limit without PIN)"
	case civicardv1.DeclineReason_DECLINE_REASON_LIMIT_TRANSACTION:
		return "limit (transaction limit)"
	case civicardv1.DeclineReason_DECLINE_REASON_LIMIT_BEARER_MONTH:
		return "limit (bearer card monthly limit)"
	}
	return d.String()
}

// state writes what GetCard shows of the tariff state.
func (run *scenarioRun) state() {
	card := run.r.c.card(run.t, run.card)
	run.out = append(run.out, "state:")
	journey := func(kind string, j *civicardv1.Journey) string {
		return fmt.Sprintf("  %s %s on %s from %s, charged %s", kind, run.names[j.GetJourneyId()], j.GetLine(), j.GetStop(), money.Format(j.GetCharged().GetMinorUnits(), j.GetCharged().GetCurrency()))
	}
	if j := card.GetJourney(); j != nil {
		run.out = append(run.out, journey("journey", j))
	}
	for _, j := range card.GetIncompleteJourneys() {
		run.out = append(run.out, journey("incomplete", j))
	}
	for _, p := range card.GetPasses() {
		from, _ := time.Parse(time.DateOnly, p.GetFromDate())
		until, _ := time.Parse(time.DateOnly, p.GetUntilDate())
		run.out = append(run.out, fmt.Sprintf("  pass %s days %d..%d", p.GetProduct(), from.Unix()/86400, until.Unix()/86400))
	}
}

// replace replaces the card with a fresh one, which the rest of the
// scenario uses.
func (run *scenarioRun) replace() {
	newID := run.r.freshCardID(run.t)
	res, err := run.r.c.cards.ReplaceCard(context.Background(), connect.NewRequest(&civicardv1.ReplaceCardRequest{
		CardId: run.card, NewCardId: newID, RequestId: run.r.requestID(), Reason: "scenario",
	}))
	if err != nil {
		run.t.Fatalf("replace: %v", err)
	}
	if res.Msg.GetNewCard().GetCardId() != newID || res.Msg.GetOldCard().GetStatus() != civicardv1.CardStatus_CARD_STATUS_BLOCKED {
		run.t.Fatalf("replace = %v", res.Msg)
	}
	run.card = newID
	run.out = append(run.out, "replaced: the new card carries the old one's tariff state")
}
