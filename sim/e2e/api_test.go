package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/cardno"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/terminals"
)

// TestTapTopUpBlockRestart walks one card through the life the foundation
// supports, over the real API, and checks what a cardholder would see.
func TestTapTopUpBlockRestart(t *testing.T) {
	c := startCity(t)
	ctx := context.Background()
	cardID := c.fundedCard(t, 0, 2000)
	before := c.card(t, cardID)
	terminal, terminalID := c.terminal(0)
	now := time.Now()

	tap, err := terminal.Tap(ctx, 1, cardID, terminals.Purchase{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if tap.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED || tap.GetCharged().GetMinorUnits() <= 0 {
		t.Fatalf("tap = %v, want accepted with a charge", tap)
	}
	balance := before.GetBalance().GetMinorUnits() - tap.GetCharged().GetMinorUnits()
	if got := tap.GetBalance().GetMinorUnits(); got != balance {
		t.Fatalf("balance after tap = %d, want %d", got, balance)
	}

	retry, err := terminal.Tap(ctx, 1, cardID, terminals.Purchase{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !retry.GetReplayed() || retry.GetTransactionId() != tap.GetTransactionId() || retry.GetCharged().GetMinorUnits() != tap.GetCharged().GetMinorUnits() {
		t.Fatalf("retried tap = %v, want the first answer %v replayed", retry, tap)
	}
	if got := c.card(t, cardID).GetBalance().GetMinorUnits(); got != balance {
		t.Fatalf("balance after retried tap = %d, want %d (charged once)", got, balance)
	}
	// The same sequence for another card is another tap: refused, naming
	// the key; the second card pays nothing and learns no balance.
	otherCard := c.fundedCard(t, 1, 500)
	otherBefore := c.card(t, otherCard).GetBalance().GetMinorUnits()
	if other, err := terminal.Tap(ctx, 1, otherCard, terminals.Purchase{}, now); connect.CodeOf(err) != connect.CodeAlreadyExists || other != nil {
		t.Fatalf("the same sequence for another card = %v, %v; want already_exists", other, err)
	}
	if got := c.card(t, otherCard).GetBalance().GetMinorUnits(); got != otherBefore {
		t.Fatalf("the other card holds %d after a refused tap, want %d", got, otherBefore)
	}

	topUp := c.topUp(t, cardID, 2000, "e2e-topup-1")
	balance += 2000
	if got := topUp.GetTransaction().GetBalanceAfter().GetMinorUnits(); got != balance {
		t.Fatalf("balance after top-up = %d, want %d", got, balance)
	}
	if again := c.topUp(t, cardID, 2000, "e2e-topup-1"); !again.GetReplayed() {
		t.Fatalf("retried top-up not replayed: %v", again)
	}
	if _, err := c.cards.TopUp(ctx, connect.NewRequest(&civicardv1.TopUpRequest{
		CardId: cardID, Amount: &civicardv1.Money{Currency: "PLN", MinorUnits: 5000}, RequestId: "e2e-topup-1",
	})); connect.CodeOf(err) != connect.CodeAlreadyExists || !strings.Contains(err.Error(), "e2e-topup-1") {
		t.Fatalf("the same top-up id with another amount: %v, want already_exists naming the id", err)
	}
	if got := c.card(t, cardID).GetBalance().GetMinorUnits(); got != balance {
		t.Fatalf("balance after retried top-up = %d, want %d", got, balance)
	}
	kinds := map[civicardv1.TransactionKind]int{}
	for _, txn := range c.transactions(t, cardID) {
		kinds[txn.GetKind()]++
	}
	if kinds[civicardv1.TransactionKind_TRANSACTION_KIND_CHARGE] != 1 || kinds[civicardv1.TransactionKind_TRANSACTION_KIND_TOP_UP] < 1 {
		t.Fatalf("transactions by kind = %v, want one charge and the top-ups", kinds)
	}

	if _, err := c.cards.Block(ctx, connect.NewRequest(&civicardv1.BlockRequest{CardId: cardID, Reason: "lost", RequestId: "e2e-block-1"})); err != nil {
		t.Fatal(err)
	}
	declined, err := terminal.Tap(ctx, 2, cardID, terminals.Purchase{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if declined.GetResult() != civicardv1.TapResult_TAP_RESULT_DECLINED || declined.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_CARD_BLOCKED {
		t.Fatalf("tap on blocked card = %v, want declined CARD_BLOCKED", declined)
	}
	// What the taps did shows in the metrics, without whose card it was.
	metrics := c.metrics(t)
	if !strings.Contains(metrics, "civicard_taps_total") {
		t.Fatalf("/metrics shows no taps:\n%s", metrics)
	}
	for _, secret := range []string{cardID, otherCard, c.card(t, cardID).GetHolderName()} {
		if secret != "" && strings.Contains(metrics, secret) {
			t.Errorf("/metrics shows %q", secret)
		}
	}
	if _, err := c.cards.TopUp(ctx, connect.NewRequest(&civicardv1.TopUpRequest{
		CardId: cardID, Amount: &civicardv1.Money{Currency: "PLN", MinorUnits: 100}, RequestId: "e2e-topup-blocked",
	})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("top-up of blocked card: %v, want failed_precondition", err)
	}

	// A restart on the same data resumes with every balance as it was.
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.node.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	after := c.card(t, cardID)
	if after.GetBalance().GetMinorUnits() != balance || after.GetStatus() != civicardv1.CardStatus_CARD_STATUS_BLOCKED {
		t.Fatalf("after restart card = %v, want balance %d and blocked", after, balance)
	}
	terminal, _ = c.terminal(0)
	replay, err := terminal.Tap(ctx, 1, cardID, terminals.Purchase{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !replay.GetReplayed() || replay.GetTransactionId() != fmt.Sprintf("tap/%s/1", terminalID) {
		t.Fatalf("tap retried after restart = %v, want the first answer replayed", replay)
	}
}

// TestWelcomeCommandsWork runs the three commands `civicard up` prints.
func TestWelcomeCommandsWork(t *testing.T) {
	c := startCity(t)
	// The commands follow the "Try" line, up to the next empty one.
	var commands []string
	_, try, _ := strings.Cut(c.node.Output(), "\nTry")
	for _, line := range strings.Split(try, "\n")[1:] {
		if strings.TrimSpace(line) == "" {
			break
		}
		commands = append(commands, strings.TrimSpace(line))
	}
	if len(commands) != 3 {
		t.Fatalf("welcome shows %d commands, want 3:\n%s", len(commands), c.node.Output())
	}
	wants := []string{"balance", "topped up", "GREEN"}
	for i, command := range commands {
		args := strings.Fields(command)[1:]
		out, err := exec.Command(civicardBin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", command, err, out)
		}
		if !strings.Contains(string(out), wants[i]) {
			t.Errorf("%s printed %q, want it to mention %q", command, out, wants[i])
		}
	}

	// The same API speaks gRPC and gRPC-Web too.
	cardID := c.fundedCard(t, 0, 1)
	for name, protocol := range map[string]connect.ClientOption{"gRPC": connect.WithGRPC(), "gRPC-Web": connect.WithGRPCWeb()} {
		client := civicardv1connect.NewCardServiceClient(c.http, c.node.BaseURL, protocol, terminals.WithCredential(c.operator))
		res, err := client.GetCard(context.Background(), connect.NewRequest(&civicardv1.GetCardRequest{CardId: cardID}))
		if err != nil || res.Msg.GetCard().GetCardId() != cardID {
			t.Errorf("GetCard over %s: %v, %v", name, res, err)
		}
	}

	// What the commands did shows in the metrics.
	metrics := c.metrics(t)
	for _, want := range []string{
		`civicard_taps_total{result="accepted"} 1`,
		`civicard_tap_duration_seconds_count 1`,
		`civicard_grain_activations_total{kind="card"}`,
		`civicard_replication_commit_latency_seconds_count`,
		`civicard_replication_batch_commands_count`,
		`civicard_http_requests_total{code="200",route="terminal"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestBadInputChangesNothing sends what a broken or hostile client would and
// checks each gets a clear error and the card is untouched.
func TestBadInputChangesNothing(t *testing.T) {
	c := startCity(t)
	cardID := c.fundedCard(t, 0, 100)
	blockedID := c.fundedCard(t, 1, 100)
	if _, err := c.cards.Block(context.Background(), connect.NewRequest(&civicardv1.BlockRequest{CardId: blockedID, RequestId: "bad-input-block", Reason: "stolen"})); err != nil {
		t.Fatal(err)
	}
	seed := c.data.Terminals[0]
	terminalID, credential := seed.Terminal.GetTerminalId(), seed.Credential
	unissued := unissuedCard(t, c)
	before := c.card(t, cardID)
	txnsBefore := len(c.transactions(t, cardID))
	now := time.Now().UnixMilli()

	tapJSON := func(card string, seq int) string {
		return fmt.Sprintf(`{"terminalId":%q,"sequence":%d,"cardId":%q,"timeUnixMs":%d}`, terminalID, seq, card, now)
	}
	topUpJSON := func(card string, amount string) string {
		return fmt.Sprintf(`{"cardId":%q,"amount":{"currency":"PLN","minorUnits":%s},"requestId":"bad-%s"}`, card, amount, amount)
	}
	const (
		tapPath   = "/civicard.v1.TerminalService/Tap"
		topUpPath = "/civicard.v1.CardService/TopUp"
		getPath   = "/civicard.v1.CardService/GetCard"
	)
	tests := []struct {
		name        string
		path        string
		contentType string
		auth        string
		body        string
		wantCode    string
	}{
		{"malformed JSON", topUpPath, "application/json", c.operator, `{"cardId":`, "invalid_argument"},
		{"malformed protobuf", topUpPath, "application/proto", c.operator, "\xff\xff\xff\xff\x0f", "invalid_argument"},
		{"unknown field type", topUpPath, "application/json", c.operator, `{"cardId":42}`, "invalid_argument"},
		{"no operator credential", topUpPath, "application/json", "", topUpJSON(cardID, "100"), "unauthenticated"},
		{"wrong operator credential", topUpPath, "application/json", "not-the-token", topUpJSON(cardID, "100"), "unauthenticated"},
		{"card number with bad check digit", getPath, "application/json", c.operator, `{"cardId":"100000000000"}`, "invalid_argument"},
		{"card number not digits", getPath, "application/json", c.operator, `{"cardId":"DROP TABLE"}`, "invalid_argument"},
		{"unknown card", topUpPath, "application/json", c.operator, topUpJSON(unissued, "100"), "not_found"},
		{"negative amount", topUpPath, "application/json", c.operator, topUpJSON(cardID, "-100"), "invalid_argument"},
		{"zero amount", topUpPath, "application/json", c.operator, topUpJSON(cardID, "0"), "invalid_argument"},
		{"absurd amount", topUpPath, "application/json", c.operator, topUpJSON(cardID, "100000000000"), "invalid_argument"},
		{"amount overflowing int64", topUpPath, "application/json", c.operator, topUpJSON(cardID, "\"9223372036854775808\""), "invalid_argument"},
		{"largest int64 amount", topUpPath, "application/json", c.operator, topUpJSON(cardID, fmt.Sprint(int64(math.MaxInt64))), "invalid_argument"},
		{"top-up over the maximum balance", topUpPath, "application/json", c.operator, topUpJSON(cardID, "19999"), "failed_precondition"},
		{"wrong currency", topUpPath, "application/json", c.operator, `{"cardId":"` + cardID + `","amount":{"currency":"EUR","minorUnits":"100"},"requestId":"bad-eur"}`, "invalid_argument"},
		{"no request id", topUpPath, "application/json", c.operator, `{"cardId":"` + cardID + `","amount":{"currency":"PLN","minorUnits":"100"}}`, "invalid_argument"},
		{"body over the size limit", topUpPath, "application/json", c.operator, `{"cardId":"` + strings.Repeat("1", 200<<10) + `"}`, "resource_exhausted"},
		{"tap without credential", tapPath, "application/json", "", tapJSON(cardID, 1), "unauthenticated"},
		{"tap with wrong credential", tapPath, "application/json", "0000", tapJSON(cardID, 1), "unauthenticated"},
		{"tap of another terminal's credential", tapPath, "application/json", c.data.Terminals[1].Credential, tapJSON(cardID, 1), "unauthenticated"},
		{"tap from unknown terminal", tapPath, "application/json", credential, strings.Replace(tapJSON(cardID, 1), terminalID, "T-NOWHERE-99", 1), "unauthenticated"},
		{"tap of unknown card", tapPath, "application/json", credential, tapJSON(unissued, 1), "not_found"},
		{"tap without sequence", tapPath, "application/json", credential, tapJSON(cardID, 0), "invalid_argument"},
		{"tap of unknown service", tapPath, "application/json", credential, strings.Replace(tapJSON(cardID, 1), "}", `,"serviceCode":"CAVIAR"}`, 1), "invalid_argument"},
		{"unknown field", topUpPath, "application/json", c.operator, strings.Replace(topUpJSON(cardID, "100"), "}", `,"dryRun":true}`, 1), "invalid_argument"},
		{"unknown field closing a cycle", "/civicard.v1.SettlementService/CloseCycle", "application/json", c.operator, `{"cardId":12}`, "invalid_argument"},
		{"NUL in a block reason", "/civicard.v1.CardService/Block", "application/json", c.operator, `{"cardId":"` + cardID + `","requestId":"bad-nul","reason":"lost\u0000"}`, "invalid_argument"},
		{"escape in a request id", topUpPath, "application/json", c.operator, `{"cardId":"` + cardID + `","amount":{"currency":"PLN","minorUnits":"100"},"requestId":"r\u001b[2J"}`, "invalid_argument"},
		{"tap of absurd quantity", tapPath, "application/json", credential, strings.Replace(tapJSON(cardID, 1), "}", `,"quantity":1000000}`, 1), "invalid_argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, status := c.post(t, tt.path, tt.contentType, tt.auth, tt.body)
			if code != tt.wantCode {
				t.Errorf("code = %q (HTTP %d), want %q", code, status, tt.wantCode)
			}
			if status < 400 || status > 499 {
				t.Errorf("HTTP status %d, want 4xx", status)
			}
		})
	}

	// A tap on a blocked card is answered (red) and moves nothing.
	terminal, _ := c.terminal(0)
	blockedBefore := c.card(t, blockedID)
	res, err := terminal.Tap(context.Background(), 1, blockedID, terminals.Purchase{}, time.Now())
	if err != nil || res.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_CARD_BLOCKED {
		t.Fatalf("tap on blocked card = %v, %v; want declined CARD_BLOCKED", res, err)
	}
	if got := c.card(t, blockedID).GetBalance().GetMinorUnits(); got != blockedBefore.GetBalance().GetMinorUnits() {
		t.Fatalf("blocked card's balance moved: %d -> %d", blockedBefore.GetBalance().GetMinorUnits(), got)
	}

	after := c.card(t, cardID)
	if after.GetBalance().GetMinorUnits() != before.GetBalance().GetMinorUnits() || after.GetVersion() != before.GetVersion() {
		t.Fatalf("card changed by bad input: %v -> %v", before, after)
	}
	if n := len(c.transactions(t, cardID)); n != txnsBefore {
		t.Fatalf("bad input left %d transactions, want %d", n, txnsBefore)
	}
	metrics := c.metrics(t)
	if !regexp.MustCompile(`civicard_api_calls_total\{code="invalid_argument",procedure="/civicard.v1.CardService/TopUp"\} [1-9]`).MatchString(metrics) {
		t.Errorf("rejected top-ups not counted in /metrics")
	}
}

// post sends a raw Connect request and returns the error code and HTTP status.
func (c *city) post(t *testing.T, path, contentType, auth, body string) (string, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.node.BaseURL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var answer struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if res.StatusCode != http.StatusOK {
		if err := json.Unmarshal(raw, &answer); err != nil {
			t.Fatalf("error answer is not JSON: %q", raw)
		}
		if answer.Message == "" {
			t.Errorf("error %s without a reason", answer.Code)
		}
	}
	return answer.Code, res.StatusCode
}

// unissuedCard returns a well-formed card number that the demo city did not
// issue.
func unissuedCard(t *testing.T, c *city) string {
	t.Helper()
	issued := map[string]bool{}
	for _, card := range c.data.Cards {
		issued[card.CardID] = true
	}
	for _, candidate := range []string{"999999999999", "555555555555", "123456789012"} {
		digits := []byte(candidate[:11])
		for d := byte('0'); d <= '9'; d++ {
			id := string(append(append([]byte{}, digits...), d))
			if !issued[id] && cardno.Valid(id) == nil {
				return id
			}
		}
	}
	t.Fatal("no unissued card number found")
	return ""
}
