package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/cardno"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/terminals"
)

// TestCardLifeEndToEnd walks a personalised card through its life over the
// real API: issued, a student concession granted, a check-in never checked
// out corrected on request, a payment over the no-PIN limit declined with
// its reason, a top-up over the balance limit refused, the card lost and
// replaced (balance, concession and journey move, the old card is
// declined), renewed, and closed with its balance paid back.
func TestCardLifeEndToEnd(t *testing.T) {
	c := startCity(t)
	ctx := context.Background()
	var tram *terminals.Client
	for i := range c.data.Terminals {
		if seed := c.data.Terminals[i]; seed.Terminal.GetInstitutionId() == "CHO-TRA-01" {
			tram = terminals.NewClient(c.http, c.node.BaseURL, seed.Terminal.GetTerminalId(), seed.Credential)
			break
		}
	}
	if tram == nil {
		t.Fatal("no terminal of CHO-TRA-01")
	}
	seq := uint64(0)
	tap := func(card string, buy terminals.Purchase, at time.Time) *civicardv1.TapResponse {
		t.Helper()
		seq++
		res, err := tram.Tap(ctx, seq, card, buy, at)
		if err != nil {
			t.Fatalf("tap %d: %v", seq, err)
		}
		return res
	}
	cardID, _ := cardno.Make(91_000_000_001)
	newID, _ := cardno.Make(91_000_000_002)

	issued, err := c.cards.IssueCard(ctx, connect.NewRequest(&civicardv1.IssueCardRequest{
		CardId: cardID, Kind: civicardv1.CardKind_CARD_KIND_PERSONAL, HolderName: "Ewa Nowak", RequestId: "life-issue", Reason: "new holder", Operator: "jk",
	}))
	if err != nil {
		t.Fatal(err)
	}
	expires := time.UnixMilli(issued.Msg.GetCard().GetExpiresUnixMs())
	if want := time.Now().AddDate(4, 0, 0); expires.Sub(want).Abs() > 48*time.Hour {
		t.Fatalf("a new personalised card expires %v, want about %v", expires, want)
	}
	if _, err := c.cards.IssueCard(ctx, connect.NewRequest(&civicardv1.IssueCardRequest{
		CardId: cardID, Kind: civicardv1.CardKind_CARD_KIND_PERSONAL, HolderName: "Someone Else", RequestId: "life-issue-2",
	})); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Fatalf("issuing a card number twice: %v, want ALREADY_EXISTS", err)
	}
	c.topUp(t, cardID, 10_000, "life-topup-1")

	// A check-in three hours ago, never checked out: a correction on
	// request prices it as the shortest ride (6.00 - 2.80 back).
	checkIn := tap(cardID, terminals.Purchase{ServiceCode: "CICO", Line: "T6", Stop: "KAT-BRYNOW", Direction: 1}, time.Now().Add(-3*time.Hour))
	if checkIn.GetCharged().GetMinorUnits() != 600 {
		t.Fatalf("check-in = %v, want 6.00 charged", checkIn)
	}
	correct := func(requestID string) (*connect.Response[civicardv1.RequestCorrectionResponse], error) {
		return c.cards.RequestCorrection(ctx, connect.NewRequest(&civicardv1.RequestCorrectionRequest{
			CardId: cardID, JourneyId: checkIn.GetTransactionId(), RequestId: requestID, Reason: "forgot to check out",
		}))
	}
	corrected, err := correct("life-correct-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := corrected.Msg.GetTransaction().GetAmount().GetMinorUnits(); got != 320 {
		t.Fatalf("correction refunded %d, want 320 (%v)", got, corrected.Msg)
	}
	if again, err := correct("life-correct-1"); err != nil || !again.Msg.GetReplayed() || again.Msg.GetTransaction().GetAmount().GetMinorUnits() != 320 {
		t.Fatalf("retried correction = %v, %v; want the first answer", again, err)
	}
	if _, err := correct("life-correct-2"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("a second correction of the same journey: %v, want NOT_FOUND", err)
	}

	// The student concession halves the fare.
	if _, err := c.cards.GrantEntitlement(ctx, connect.NewRequest(&civicardv1.GrantEntitlementRequest{
		CardId: cardID, RequestId: "life-grant", Reason: "student ID", Operator: "jk",
		Entitlement: &civicardv1.Entitlement{Concession: "STUDENT", FromDate: time.Now().AddDate(0, -1, 0).Format(time.DateOnly), UntilDate: time.Now().AddDate(0, 6, 0).Format(time.DateOnly), Issuer: "Uniwersytet Śląski"},
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cards.GrantEntitlement(ctx, connect.NewRequest(&civicardv1.GrantEntitlementRequest{
		CardId: cardID, RequestId: "life-grant-bad", Entitlement: &civicardv1.Entitlement{Concession: "ASTRONAUT", FromDate: "2026-01-01", UntilDate: "2026-12-31"},
	})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("an unknown concession: %v, want INVALID_ARGUMENT", err)
	}
	now := time.Now()
	student := tap(cardID, terminals.Purchase{ServiceCode: "CICO", Line: "T6", Stop: "KAT-BRYNOW", Direction: 1}, now)
	if student.GetCharged().GetMinorUnits() != 294 || !strings.Contains(strings.Join(student.GetBreakdown(), "\n"), "STUDENT") {
		t.Fatalf("student check-in = %v, want 2.94 with the concession in the breakdown", student)
	}

	// A 30-day pass (73.50 with the concession) without a PIN: over the
	// 50.00 PLN limit.
	over := tap(cardID, terminals.Purchase{ServiceCode: "PASS-30D"}, now)
	if over.GetResult() != civicardv1.TapResult_TAP_RESULT_DECLINED || over.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_LIMIT_TRANSACTION_NO_PIN || over.GetDeclineDetail() == "" {
		t.Fatalf("payment over the no-PIN limit = %v, want declined with the limit named", over)
	}
	// A top-up over the 200.00 PLN balance limit is refused with the reason.
	if _, err := c.cards.TopUp(ctx, connect.NewRequest(&civicardv1.TopUpRequest{
		CardId: cardID, Amount: &civicardv1.Money{Currency: "PLN", MinorUnits: 15_000}, RequestId: "life-topup-over",
	})); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "at most 200.00 PLN") {
		t.Fatalf("top-up over the balance limit: %v, want FAILED_PRECONDITION naming the limit", err)
	}

	// Lost: the replacement takes the balance, the concession and the
	// journey in progress; the old card is blocked.
	before := c.card(t, cardID)
	replaced, err := c.cards.ReplaceCard(ctx, connect.NewRequest(&civicardv1.ReplaceCardRequest{
		CardId: cardID, NewCardId: newID, RequestId: "life-replace", Reason: "lost", Operator: "jk",
	}))
	if err != nil {
		t.Fatal(err)
	}
	oldCard, newCard := replaced.Msg.GetOldCard(), replaced.Msg.GetNewCard()
	if oldCard.GetStatus() != civicardv1.CardStatus_CARD_STATUS_BLOCKED || oldCard.GetBalance().GetMinorUnits() != 0 || oldCard.GetReplacedBy() != newID {
		t.Fatalf("old card after replacement = %v", oldCard)
	}
	if newCard.GetBalance().GetMinorUnits() != before.GetBalance().GetMinorUnits() || len(newCard.GetEntitlements()) != 1 || newCard.GetJourney() == nil || newCard.GetReplaces() != cardID {
		t.Fatalf("new card = %v, want the balance %d, the concession and the journey", newCard, before.GetBalance().GetMinorUnits())
	}
	if res := tap(cardID, terminals.Purchase{}, now); res.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_CARD_BLOCKED {
		t.Fatalf("tap of the replaced card = %v, want declined as blocked", res)
	}
	// The journey begun with the lost card is checked out with the new one.
	checkOut := tap(newID, terminals.Purchase{ServiceCode: "CICO", Line: "T6", Stop: "CHO-AKS"}, now.Add(15*time.Minute))
	if checkOut.GetCharged().GetMinorUnits() >= 0 {
		t.Fatalf("check-out with the new card = %v, want a refund", checkOut)
	}

	renewed, err := c.cards.RenewCard(ctx, connect.NewRequest(&civicardv1.RenewCardRequest{CardId: newID, RequestId: "life-renew", Reason: "expiring"}))
	if err != nil || renewed.Msg.GetCard().GetExpiresUnixMs() < newCard.GetExpiresUnixMs() {
		t.Fatalf("renew = %v, %v", renewed, err)
	}

	balance := c.card(t, newID).GetBalance().GetMinorUnits()
	closed, err := c.cards.CloseCard(ctx, connect.NewRequest(&civicardv1.CloseCardRequest{CardId: newID, RequestId: "life-close", Reason: "moving away", Operator: "jk"}))
	if err != nil {
		t.Fatal(err)
	}
	if closed.Msg.GetCard().GetStatus() != civicardv1.CardStatus_CARD_STATUS_CLOSED || closed.Msg.GetTransaction().GetAmount().GetMinorUnits() != -balance {
		t.Fatalf("close = %v, want closed with %d paid back", closed.Msg, balance)
	}
	if res := tap(newID, terminals.Purchase{}, now.Add(time.Hour)); res.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_CARD_CLOSED {
		t.Fatalf("tap of a closed card = %v, want declined as closed", res)
	}

	// Every change is on the record with who and why.
	audited := 0
	for _, id := range []string{cardID, newID} {
		for _, txn := range c.transactions(t, id) {
			if a := txn.GetAudit(); a != nil {
				if a.GetActor() == "" || a.GetTimeUnixMs() == 0 {
					t.Errorf("audit of %s without who or when: %v", txn.GetTransactionId(), a)
				}
				audited++
			}
		}
	}
	// issue, the correction and the refused second request, grant,
	// replaced, replacement, renew, close
	if audited != 8 {
		t.Errorf("%d audited records, want 8", audited)
	}
}
