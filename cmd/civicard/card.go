package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/money"
	civicardv1 "civicard/messages/civicard/v1"
)

func runCard(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("card: want show, transactions, topup, block, issue, entitle, correct, replace, renew or close")
	}
	fs := newFlags("card " + args[0])
	client := addClientFlags(fs)
	token := fs.String("token", "", "operator token (default: read from --data)")
	var positional []string
	var err error
	want := 1
	var limit *uint
	var requestID, reason, operator *string
	switch args[0] {
	case "show":
	case "transactions":
		limit = fs.Uint("limit", 20, "how many, newest first")
	case "topup":
		want = 2
		requestID = fs.String("request-id", "", "idempotency key; reuse it to retry safely (default: a new one)")
	case "block":
		requestID = fs.String("request-id", "", "idempotency key (default: a new one)")
		reason = fs.String("reason", "blocked by operator", "why, for the audit trail")
		operator = fs.String("operator", os.Getenv("USER"), "ignored: the audit trail names the user whose token the call carries")
	case "issue", "entitle", "correct", "replace", "renew", "close":
		return runCardChange(ctx, args[0], args[1:], stdout)
	default:
		return usagef("card: unknown subcommand %q", args[0])
	}
	if positional, err = parse(fs, args[1:], want); err != nil {
		return err
	}
	api, err := client.cardService(*token)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	cardID := positional[0]

	switch args[0] {
	case "show":
		res, err := api.GetCard(ctx, connect.NewRequest(&civicardv1.GetCardRequest{CardId: cardID}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		printCard(stdout, res.Msg.GetCard())
	case "transactions":
		res, err := api.ListTransactions(ctx, connect.NewRequest(&civicardv1.ListTransactionsRequest{CardId: cardID, PageSize: uint32(*limit)}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		for _, txn := range res.Msg.GetTransactions() {
			printTransaction(stdout, txn)
		}
	case "topup":
		amount, err := money.Parse(positional[1])
		if err != nil {
			return usagef("amount: %v", err)
		}
		id := *requestID
		if id == "" {
			id = newRequestID()
		}
		res, err := api.TopUp(ctx, connect.NewRequest(&civicardv1.TopUpRequest{
			CardId:    cardID,
			Amount:    &civicardv1.Money{Currency: money.DefaultCurrency, MinorUnits: amount},
			RequestId: id,
		}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		txn := res.Msg.GetTransaction()
		fmt.Fprintf(stdout, "topped up %s with %s: balance %s (request %s%s)\n", cardID,
			formatMoney(txn.GetAmount()), formatMoney(txn.GetBalanceAfter()), id, replayed(res.Msg.GetReplayed()))
	case "block":
		id := *requestID
		if id == "" {
			id = newRequestID()
		}
		res, err := api.Block(ctx, connect.NewRequest(&civicardv1.BlockRequest{CardId: cardID, Reason: *reason, RequestId: id, Operator: *operator}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		printCard(stdout, res.Msg.GetCard())
	}
	return nil
}

func printCard(w io.Writer, card *civicardv1.Card) {
	fmt.Fprintf(w, "card     %s\n", card.GetCardId())
	fmt.Fprintf(w, "kind     %s\n", enumName(card.GetKind().String(), "CARD_KIND_"))
	if card.GetHolderName() != "" {
		fmt.Fprintf(w, "holder   %s\n", card.GetHolderName())
	}
	fmt.Fprintf(w, "status   %s\n", enumName(card.GetStatus().String(), "CARD_STATUS_"))
	fmt.Fprintf(w, "balance  %s\n", formatMoney(card.GetBalance()))
	if card.GetDebt() != nil {
		fmt.Fprintf(w, "debt     %s\n", formatMoney(card.GetDebt()))
	}
	if ms := card.GetExpiresUnixMs(); ms > 0 {
		fmt.Fprintf(w, "valid    until %s\n", time.UnixMilli(ms).Local().Format(time.DateOnly))
	}
	for _, e := range card.GetEntitlements() {
		fmt.Fprintf(w, "concession %s %s..%s (%s)\n", e.GetConcession(), e.GetFromDate(), e.GetUntilDate(), e.GetIssuer())
	}
	for _, p := range card.GetPasses() {
		fmt.Fprintf(w, "pass     %s of %s %s..%s\n", p.GetProduct(), p.GetInstitutionId(), p.GetFromDate(), p.GetUntilDate())
	}
	if j := card.GetJourney(); j != nil {
		fmt.Fprintf(w, "journey  %s on %s from %s, charged %s\n", j.GetJourneyId(), j.GetLine(), j.GetStop(), formatMoney(j.GetCharged()))
	}
	for _, j := range card.GetIncompleteJourneys() {
		fmt.Fprintf(w, "incomplete %s on %s from %s at %s, charged %s\n", j.GetJourneyId(), j.GetLine(), j.GetStop(),
			time.UnixMilli(j.GetStartUnixMs()).Local().Format("2006-01-02 15:04"), formatMoney(j.GetCharged()))
	}
	if card.GetReplacedBy() != "" {
		fmt.Fprintf(w, "replaced by %s\n", card.GetReplacedBy())
	}
	if card.GetReplaces() != "" {
		fmt.Fprintf(w, "replaces %s\n", card.GetReplaces())
	}
	fmt.Fprintf(w, "version  %d\n", card.GetVersion())
}

func printTransaction(w io.Writer, txn *civicardv1.Transaction) {
	when := "-"
	if txn.GetTimeUnixMs() > 0 {
		when = time.UnixMilli(txn.GetTimeUnixMs()).Local().Format("2006-01-02 15:04:05")
	}
	what := enumName(txn.GetKind().String(), "TRANSACTION_KIND_")
	if txn.GetDeclineReason() != civicardv1.DeclineReason_DECLINE_REASON_UNSPECIFIED {
		what += " (" + enumName(txn.GetDeclineReason().String(), "DECLINE_REASON_") + ")"
	}
	where := txn.GetTerminalId()
	if txn.GetServiceCode() != "" {
		where += " " + txn.GetServiceCode()
	}
	if txn.GetNote() != "" {
		where += " " + txn.GetNote()
	}
	if a := txn.GetAudit(); a != nil {
		where += fmt.Sprintf(" [by %s: %s]", a.GetActor(), a.GetReason())
	}
	fmt.Fprintf(w, "#%-8d %s  %-28s %12s  balance %12s  %s\n", txn.GetLedgerSequence(), when, what,
		formatMoney(txn.GetAmount()), formatMoney(txn.GetBalanceAfter()), where)
	for _, e := range txn.GetEntries() {
		fmt.Fprintf(w, "          %-10s %-12s %12s  %s\n", e.GetInstitutionId(), e.GetProduct(), formatMoney(e.GetAmount()), e.GetWhat())
	}
}

func formatMoney(m *civicardv1.Money) string {
	return money.Format(m.GetMinorUnits(), m.GetCurrency())
}

func enumName(name, prefix string) string {
	if len(name) > len(prefix) && name[:len(prefix)] == prefix {
		return name[len(prefix):]
	}
	return name
}

func replayed(yes bool) string {
	if yes {
		return ", answered before: not applied again"
	}
	return ""
}
