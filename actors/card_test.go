package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	"civicard/sim/demo"
)

// memLedger is the real ledger state machine behind a lock, without Raft:
// the grains' decisions are tested against the same rules that guard the
// money in production.
type memLedger struct {
	mu    sync.Mutex
	state *ledger.State
	// loseNextAnswer applies the next proposal but reports an error, as a
	// leader that commits and dies before answering would.
	loseNextAnswer bool
}

var _ Ledger = (*memLedger)(nil)

func (l *memLedger) Propose(_ context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res := l.state.Apply(cmd)
	if l.loseNextAnswer {
		l.loseNextAnswer = false
		return nil, errors.New("connection lost after commit")
	}
	return res, nil
}

func (l *memLedger) Card(_ context.Context, id string) (*ledgerv1.CardState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	card, ok := l.state.Card(id)
	if !ok {
		return nil, ErrNotFound
	}
	return card, nil
}

func (l *memLedger) Transactions(_ context.Context, id string, before uint64, limit int) ([]*civicardv1.Transaction, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.Transactions(id, before, limit), nil
}

func (l *memLedger) Institution(_ context.Context, id string) (*civicardv1.Institution, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	inst, ok := l.state.Institution(id)
	if !ok {
		return nil, ErrNotFound
	}
	return inst, nil
}

func (l *memLedger) Tariff(_ context.Context, _, institutionID string) (*ledgerv1.TariffRecords, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.Tariff(institutionID, false), nil
}

func (l *memLedger) Terminal(_ context.Context, id string) (*civicardv1.Terminal, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	terminal, ok := l.state.Terminal(id)
	if !ok {
		return nil, ErrNotFound
	}
	return terminal, nil
}

const (
	testCard        = "320000000018"
	testInstitution = "KAT-TRA-01"
	fareMinor       = 340
)

// newTestLedger holds one institution and one card with 10.00 PLN.
func newTestLedger(t *testing.T) *memLedger {
	t.Helper()
	state, err := ledger.New(ledger.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	l := &memLedger{state: state}
	for _, cmd := range []*ledgerv1.Command{
		{Id: "inst", Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{Institution: &civicardv1.Institution{
			InstitutionId: testInstitution, Name: "PKM Katowice", Kind: civicardv1.ServiceKind_SERVICE_KIND_PUBLIC_TRANSPORT,
			Services: []*civicardv1.Service{{Code: "RIDE-20MIN", Name: "20 minutes", UnitPriceMinor: fareMinor}},
		}}}},
		{Id: "card", Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{CardId: testCard, Kind: civicardv1.CardKind_CARD_KIND_BEARER}}},
		{Id: "topup", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: testCard, AmountMinor: 1000}}},
		demoTariff(t, "demo/1/region"),
		demoTariff(t, "demo/1/pricelist/"+testInstitution),
	} {
		if res := state.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
			t.Fatalf("setup %s: %v", cmd.GetId(), res)
		}
	}
	return l
}

// demoTariff is the demo city's tariff command of the given id: the region,
// or an institution's price list.
func demoTariff(t *testing.T, id string) *ledgerv1.Command {
	t.Helper()
	for _, cmd := range demo.TariffCommands(1) {
		if cmd.GetId() == id {
			return cmd
		}
	}
	t.Fatalf("the demo sets no %s", id)
	return nil
}

func newTestDeps(t *testing.T, l Ledger) *Deps {
	t.Helper()
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return &Deps{Config: DefaultConfig(), Ledger: l, Tariffs: NewTariffs(l), Context: context.Background(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics}
}

func tapOf(sequence uint64) *grainsv1.AuthorizeTap {
	return &grainsv1.AuthorizeTap{
		TransactionId:    fmt.Sprintf("tap/T-1/%d", sequence),
		CardId:           testCard,
		InstitutionId:    testInstitution,
		TerminalId:       "T-1",
		TerminalSequence: sequence,
		Product:          "RIDE-20MIN",
		// An hour apart: a 20-minute ticket does not cover the next tap.
		TimeUnixMs: 1_700_000_000_000 + int64(sequence)*3_600_000,
	}
}

// Two activations of one card (the cluster can briefly create a second) each
// decide on the version they loaded. The ledger refuses the stale one; that
// grain reloads, decides again, and the card pays for both taps exactly once.
func TestDuplicateActivationsChargeEachTapOnce(t *testing.T) {
	l := newTestLedger(t)
	deps := newTestDeps(t, l)
	first, second := &cardGrain{deps: deps, id: testCard}, &cardGrain{deps: deps, id: testCard}
	for _, g := range []*cardGrain{first, second} {
		if err := g.load(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := first.Authorize(tapOf(1), nil); err != nil {
		t.Fatal(err)
	}
	answer, err := second.Authorize(tapOf(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if answer.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED || answer.GetBalance().GetMinorUnits() != 1000-2*fareMinor {
		t.Fatalf("second tap = %v, want accepted with balance %d", answer, 1000-2*fareMinor)
	}
	if got := testutil.ToFloat64(deps.Metrics.versionRetries); got != 1 {
		t.Fatalf("version retries = %v, want 1", got)
	}
	// The second activation retrying the first one's tap gets its answer.
	replay, err := second.Authorize(tapOf(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !replay.GetReplayed() || replay.GetBalance().GetMinorUnits() != 1000-fareMinor {
		t.Fatalf("replay = %v, want the first answer", replay)
	}
	card, _ := l.Card(context.Background(), testCard)
	if card.GetBalanceMinor() != 1000-2*fareMinor {
		t.Fatalf("balance %d, want %d", card.GetBalanceMinor(), 1000-2*fareMinor)
	}
}

// When the ledger's answer is lost the grain says UNAVAILABLE and forgets
// its cache; the terminal's retry (same id) finds the charge already made.
func TestLostAnswerRetriedChargesOnce(t *testing.T) {
	l := newTestLedger(t)
	g := &cardGrain{deps: newTestDeps(t, l), id: testCard}
	l.loseNextAnswer = true
	if _, err := g.Authorize(tapOf(1), nil); !grainsv1.IsUnavailable(err) {
		t.Fatalf("tap with lost answer: %v, want UNAVAILABLE", err)
	}
	answer, err := g.Authorize(tapOf(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !answer.GetReplayed() || answer.GetCharged().GetMinorUnits() != fareMinor {
		t.Fatalf("retry = %v, want the first charge replayed", answer)
	}
	card, _ := l.Card(context.Background(), testCard)
	if card.GetBalanceMinor() != 1000-fareMinor {
		t.Fatalf("balance %d, want %d (charged once)", card.GetBalanceMinor(), 1000-fareMinor)
	}
}

func TestAuthorizeDeclinesAndRefuses(t *testing.T) {
	tests := []struct {
		name     string
		tap      func() *grainsv1.AuthorizeTap
		prepare  func(*memLedger)
		wantErr  func(error) bool
		wantNote civicardv1.DeclineReason
	}{
		{
			name: "insufficient funds",
			tap: func() *grainsv1.AuthorizeTap {
				tap := tapOf(1)
				tap.Quantity = 3 // 10.20 PLN on a card holding 10.00
				return tap
			},
			wantNote: civicardv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS,
		},
		{
			name: "blocked card",
			tap:  func() *grainsv1.AuthorizeTap { return tapOf(1) },
			prepare: func(l *memLedger) {
				l.state.Apply(&ledgerv1.Command{Id: "block", Kind: &ledgerv1.Command_BlockCard{BlockCard: &ledgerv1.BlockCard{CardId: testCard, Reason: "lost"}}})
			},
			wantNote: civicardv1.DeclineReason_DECLINE_REASON_CARD_BLOCKED,
		},
		{
			name:    "quantity beyond the tariff's limit",
			tap:     func() *grainsv1.AuthorizeTap { tap := tapOf(1); tap.Quantity = 1000; return tap },
			wantErr: grainsv1.IsInvalidArgument,
		},
		{
			name:    "institution without a price list",
			tap:     func() *grainsv1.AuthorizeTap { tap := tapOf(1); tap.InstitutionId = "NOWHERE"; return tap },
			wantErr: grainsv1.IsFailedPrecondition,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLedger(t)
			if tt.prepare != nil {
				tt.prepare(l)
			}
			g := &cardGrain{deps: newTestDeps(t, l), id: testCard}
			answer, err := g.Authorize(tt.tap(), nil)
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("err = %v, want a different reason", err)
				}
			} else if err != nil || answer.GetResult() != civicardv1.TapResult_TAP_RESULT_DECLINED || answer.GetDeclineReason() != tt.wantNote || answer.GetCharged().GetMinorUnits() != 0 {
				t.Fatalf("answer = %v, %v; want declined %v with nothing charged", answer, err, tt.wantNote)
			}
			if card, _ := l.Card(context.Background(), testCard); card.GetBalanceMinor() != 1000 {
				t.Fatalf("balance %d, want 1000 untouched", card.GetBalanceMinor())
			}
		})
	}
}

// The city office of the purse-limit tests, and two of its fees.
const (
	testOffice      = "KAT-OFF-01"
	marriageFee     = "AKT-MALZENSTWA"
	marriageMinor   = 8400
	drivingFee      = "PRAWO-JAZDY"
	drivingFeeMinor = 10050
)

// newOfficeLedger is newTestLedger with the city office registered and the
// card (a bearer card) filled to its 200.00 PLN maximum.
func newOfficeLedger(t *testing.T) *memLedger {
	t.Helper()
	l := newTestLedger(t)
	for _, cmd := range []*ledgerv1.Command{
		{Id: "office", Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{Institution: &civicardv1.Institution{
			InstitutionId: testOffice, Name: "Urząd Miasta Katowice", Kind: civicardv1.ServiceKind_SERVICE_KIND_CITY_OFFICE,
			Services: []*civicardv1.Service{
				{Code: marriageFee, Name: "Sporządzenie aktu małżeństwa", UnitPriceMinor: marriageMinor},
				{Code: drivingFee, Name: "Wydanie prawa jazdy", UnitPriceMinor: drivingFeeMinor},
			},
		}}}},
		{Id: "office/prices", Kind: &ledgerv1.Command_SetPriceList{SetPriceList: &ledgerv1.SetPriceList{
			PriceList: &ledgerv1.PriceList{InstitutionId: testOffice, Kind: civicardv1.ServiceKind_SERVICE_KIND_CITY_OFFICE, Products: []*ledgerv1.PriceProduct{
				{Code: marriageFee, Name: "Sporządzenie aktu małżeństwa", Rule: ledgerv1.TariffRule_TARIFF_RULE_UNIT, PriceMinor: marriageMinor},
				{Code: drivingFee, Name: "Wydanie prawa jazdy", Rule: ledgerv1.TariffRule_TARIFF_RULE_UNIT, PriceMinor: drivingFeeMinor},
			}},
			Audit: &civicardv1.Audit{Actor: "operator/test", TimeUnixMs: 1},
		}}},
		{Id: "fill", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: testCard, AmountMinor: 19_000}}},
	} {
		if res := l.state.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
			t.Fatalf("setup %s: %v", cmd.GetId(), res)
		}
	}
	return l
}

// officeFee is the tap of a fee at the office's desk.
func officeFee(sequence uint64, product string, pinVerified bool) *grainsv1.AuthorizeTap {
	return &grainsv1.AuthorizeTap{
		TransactionId:    fmt.Sprintf("tap/T-OFF/%d", sequence),
		CardId:           testCard,
		InstitutionId:    testOffice,
		TerminalId:       "T-OFF",
		TerminalSequence: sequence,
		Product:          product,
		TimeUnixMs:       1_700_000_000_000 + int64(sequence)*60_000,
		PinVerified:      pinVerified,
	}
}

// A payment above the e-purse's no-PIN limit (PLN 50) is declined unless
// the terminal verified the holder's PIN, and then paid: the grain hands
// the engine what the terminal said.
func TestNoPINLimitNeedsAVerifiedPIN(t *testing.T) {
	l := newOfficeLedger(t)
	g := &cardGrain{deps: newTestDeps(t, l), id: testCard}

	without, err := g.Authorize(officeFee(1, marriageFee, false), nil)
	if err != nil || without.GetResult() != civicardv1.TapResult_TAP_RESULT_DECLINED ||
		without.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_LIMIT_TRANSACTION_NO_PIN || without.GetCharged().GetMinorUnits() != 0 {
		t.Fatalf("84.00 PLN without a PIN = %v, %v; want declined LIMIT_TRANSACTION_NO_PIN with nothing charged", without, err)
	}
	if card, _ := l.Card(context.Background(), testCard); card.GetBalanceMinor() != 20_000 {
		t.Fatalf("balance %d after the declined fee, want 20000 untouched", card.GetBalanceMinor())
	}

	with, err := g.Authorize(officeFee(2, marriageFee, true), nil)
	if err != nil || with.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED || with.GetCharged().GetMinorUnits() != marriageMinor {
		t.Fatalf("84.00 PLN with the PIN verified = %v, %v; want accepted and charged %d", with, err, marriageMinor)
	}
	if card, _ := l.Card(context.Background(), testCard); card.GetBalanceMinor() != 20_000-marriageMinor {
		t.Fatalf("balance %d after the fee, want %d", card.GetBalanceMinor(), 20_000-marriageMinor)
	}
}

// A bearer card may spend at most PLN 150 a calendar month: the grain tells
// the engine the card is a bearer card. 100.50 fits, 84.00 more does not.
func TestBearerCardMonthlyLimit(t *testing.T) {
	l := newOfficeLedger(t)
	g := &cardGrain{deps: newTestDeps(t, l), id: testCard}
	first, err := g.Authorize(officeFee(1, drivingFee, true), nil)
	if err != nil || first.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED {
		t.Fatalf("100.50 PLN with the PIN = %v, %v; want accepted", first, err)
	}
	second, err := g.Authorize(officeFee(2, marriageFee, true), nil)
	if err != nil || second.GetResult() != civicardv1.TapResult_TAP_RESULT_DECLINED ||
		second.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_LIMIT_BEARER_MONTH {
		t.Fatalf("84.00 PLN more in the month = %v, %v; want declined LIMIT_BEARER_MONTH", second, err)
	}
	if card, _ := l.Card(context.Background(), testCard); card.GetBalanceMinor() != 20_000-drivingFeeMinor {
		t.Fatalf("balance %d, want %d (the first fee only)", card.GetBalanceMinor(), 20_000-drivingFeeMinor)
	}
}

func TestUnknownCardIsNotFound(t *testing.T) {
	g := &cardGrain{deps: newTestDeps(t, newTestLedger(t)), id: "320000000026"}
	if _, err := g.Authorize(tapOf(1), nil); !grainsv1.IsNotFound(err) {
		t.Fatalf("err = %v, want NOT_FOUND", err)
	}
}

// A top-up within the limits goes through; one over the balance limit is
// refused with the limit named and recorded, so that the retry of a top-up
// that went through gets the first answer, not a refusal computed on the
// balance it raised.
func TestTopUpLimitsAndRetries(t *testing.T) {
	l := newTestLedger(t)
	g := &cardGrain{deps: newTestDeps(t, l), id: testCard}
	topUp := func(requestID string, minor int64) (*civicardv1.TopUpResponse, error) {
		return g.TopUp(&grainsv1.TopUpCard{
			Request:    &civicardv1.TopUpRequest{CardId: testCard, RequestId: requestID, Amount: g.deps.money(minor)},
			TimeUnixMs: 1_700_000_000_000,
		}, nil)
	}
	first, err := topUp("fill", 19_000) // 10.00 + 190.00: the 200.00 maximum
	if err != nil || first.GetTransaction().GetBalanceAfter().GetMinorUnits() != 20_000 {
		t.Fatalf("top-up to the maximum = %v, %v", first, err)
	}
	again, err := topUp("fill", 19_000)
	if err != nil || !again.GetReplayed() {
		t.Fatalf("retried top-up = %v, %v; want the first answer", again, err)
	}
	if _, err := topUp("over", 100); !grainsv1.IsFailedPrecondition(err) {
		t.Fatalf("top-up over the maximum: %v, want FAILED_PRECONDITION", err)
	}
	card, _ := l.Card(context.Background(), testCard)
	if card.GetBalanceMinor() != 20_000 || card.GetTariff().GetPurse().GetYearTopUpMinor() != 19_000 {
		t.Fatalf("card = %v, want 200.00 with 190.00 counted as loaded this year", card)
	}
}

// An idempotency key names one request. The same terminal sequence sent for
// another card is refused, naming the key: the second card is not charged
// and gets nothing of the first card's answer. A top-up id reused with
// another amount, or for another card, is refused the same way.
func TestReusedKeyForAnotherRequestIsRefused(t *testing.T) {
	const otherCard = "320000000026"
	l := newTestLedger(t)
	for _, cmd := range []*ledgerv1.Command{
		{Id: "card2", Kind: &ledgerv1.Command_OpenCard{OpenCard: &ledgerv1.OpenCard{CardId: otherCard, Kind: civicardv1.CardKind_CARD_KIND_BEARER}}},
		{Id: "topup2", Kind: &ledgerv1.Command_TopUp{TopUp: &ledgerv1.TopUp{CardId: otherCard, AmountMinor: 500}}},
	} {
		if res := l.state.Apply(cmd); res.GetStatus() != ledgerv1.Status_STATUS_OK {
			t.Fatalf("setup %s: %v", cmd.GetId(), res)
		}
	}
	deps := newTestDeps(t, l)
	first := &cardGrain{deps: deps, id: testCard}
	second := &cardGrain{deps: deps, id: otherCard}
	if answer, err := first.Authorize(tapOf(1), nil); err != nil || answer.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED {
		t.Fatalf("first tap = %v, %v", answer, err)
	}

	tap := tapOf(1)
	tap.CardId = otherCard
	answer, err := second.Authorize(tap, nil)
	if !grainsv1.IsAlreadyExists(err) || !strings.Contains(err.Error(), "tap/T-1/1") || answer != nil {
		t.Fatalf("the same sequence for another card = %v, %v; want ALREADY_EXISTS naming tap/T-1/1", answer, err)
	}
	if card, _ := l.Card(context.Background(), otherCard); card.GetBalanceMinor() != 500 {
		t.Fatalf("the second card holds %d, want its 500 untouched", card.GetBalanceMinor())
	}
	if second.card.GetCardId() == testCard || (second.card != nil && second.card.GetBalanceMinor() != 500) {
		t.Fatalf("the second card's grain caches %v", second.card)
	}

	topUp := func(g *cardGrain, cardID, requestID string, minor int64) (*civicardv1.TopUpResponse, error) {
		return g.TopUp(&grainsv1.TopUpCard{
			Request:    &civicardv1.TopUpRequest{CardId: cardID, RequestId: requestID, Amount: deps.money(minor)},
			TimeUnixMs: 1_700_000_000_000,
		}, nil)
	}
	if _, err := topUp(first, testCard, "load-1", 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := topUp(first, testCard, "load-1", 5000); !grainsv1.IsAlreadyExists(err) || !strings.Contains(err.Error(), "topup/load-1") {
		t.Fatalf("the same top-up id with another amount: %v, want ALREADY_EXISTS naming topup/load-1", err)
	}
	if _, err := topUp(second, otherCard, "load-1", 1000); !grainsv1.IsAlreadyExists(err) {
		t.Fatalf("the same top-up id for another card: %v, want ALREADY_EXISTS", err)
	}
	want := map[string]int64{testCard: 1000 - fareMinor + 1000, otherCard: 500}
	for id, minor := range want {
		if card, _ := l.Card(context.Background(), id); card.GetBalanceMinor() != minor {
			t.Errorf("card %s holds %d, want %d", id, card.GetBalanceMinor(), minor)
		}
	}
}
