package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"connectrpc.com/connect"

	"civicard/domain/money"
	civicardv1 "civicard/messages/civicard/v1"
)

// runCardChange runs the card's life cycle: issue, entitle (grant or
// revoke a concession), correct (an incomplete journey), replace, renew,
// close. Every one carries a request id (reuse it to retry) and a reason,
// recorded with the operator's name.
func runCardChange(ctx context.Context, sub string, args []string, stdout io.Writer) error {
	fs := newFlags("card " + sub)
	client := addClientFlags(fs)
	token := fs.String("token", "", "operator token (default: read from --data)")
	requestID := fs.String("request-id", "", "idempotency key; reuse it to retry safely (default: a new one)")
	reason := fs.String("reason", "", "why, for the audit trail")
	operator := fs.String("operator", os.Getenv("USER"), "ignored: the audit trail names the user whose token the call carries")
	want := 1
	var kind, holder, from, until, issuer *string
	var revoke *bool
	switch sub {
	case "issue":
		kind = fs.String("kind", "personal", "personal or bearer")
		holder = fs.String("holder", "", "the holder's name (personal cards)")
	case "entitle":
		want = 2
		from = fs.String("from", "", "first day, YYYY-MM-DD (required to grant)")
		until = fs.String("until", "", "last day, YYYY-MM-DD (required to grant)")
		issuer = fs.String("issuer", "", "who certified it, e.g. a school")
		revoke = fs.Bool("revoke", false, "take the concession away instead")
	case "correct", "replace":
		want = 2
	}
	positional, err := parse(fs, args, want)
	if err != nil {
		return err
	}
	api, err := client.cardService(*token)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	id := *requestID
	if id == "" {
		id = newRequestID()
	}
	cardID := positional[0]
	var msg interface{ GetCard() *civicardv1.Card }
	switch sub {
	case "issue":
		k := civicardv1.CardKind_CARD_KIND_PERSONAL
		switch *kind {
		case "personal":
		case "bearer":
			k = civicardv1.CardKind_CARD_KIND_BEARER
		default:
			return usagef("card issue: --kind %q: want personal or bearer", *kind)
		}
		res, err := api.IssueCard(ctx, connect.NewRequest(&civicardv1.IssueCardRequest{
			CardId: cardID, Kind: k, HolderName: *holder, RequestId: id, Reason: *reason, Operator: *operator,
		}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		msg = res.Msg
	case "entitle":
		var res *connect.Response[civicardv1.EntitlementResponse]
		if *revoke {
			res, err = api.RevokeEntitlement(ctx, connect.NewRequest(&civicardv1.RevokeEntitlementRequest{
				CardId: cardID, Concession: positional[1], RequestId: id, Reason: *reason, Operator: *operator,
			}))
		} else {
			if *from == "" || *until == "" {
				return usagef("card entitle: --from and --until are required")
			}
			res, err = api.GrantEntitlement(ctx, connect.NewRequest(&civicardv1.GrantEntitlementRequest{
				CardId:      cardID,
				Entitlement: &civicardv1.Entitlement{Concession: positional[1], FromDate: *from, UntilDate: *until, Issuer: *issuer},
				RequestId:   id, Reason: *reason, Operator: *operator,
			}))
		}
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		msg = res.Msg
	case "correct":
		res, err := api.RequestCorrection(ctx, connect.NewRequest(&civicardv1.RequestCorrectionRequest{
			CardId: cardID, JourneyId: positional[1], RequestId: id, Reason: *reason, Operator: *operator,
		}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		txn := res.Msg.GetTransaction()
		fmt.Fprintf(stdout, "corrected: refund %s, balance %s (request %s%s)\n",
			formatMoney(txn.GetAmount()), formatMoney(txn.GetBalanceAfter()), id, replayed(res.Msg.GetReplayed()))
		for _, line := range res.Msg.GetBreakdown() {
			fmt.Fprintf(stdout, "  %s\n", line)
		}
		return nil
	case "replace":
		res, err := api.ReplaceCard(ctx, connect.NewRequest(&civicardv1.ReplaceCardRequest{
			CardId: cardID, NewCardId: positional[1], RequestId: id, Reason: *reason, Operator: *operator,
		}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		printCard(stdout, res.Msg.GetOldCard())
		fmt.Fprintln(stdout)
		printCard(stdout, res.Msg.GetNewCard())
		return nil
	case "renew":
		res, err := api.RenewCard(ctx, connect.NewRequest(&civicardv1.RenewCardRequest{CardId: cardID, RequestId: id, Reason: *reason, Operator: *operator}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		msg = res.Msg
	case "close":
		res, err := api.CloseCard(ctx, connect.NewRequest(&civicardv1.CloseCardRequest{CardId: cardID, RequestId: id, Reason: *reason, Operator: *operator}))
		if err != nil {
			return err
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			return err
		}
		paid := res.Msg.GetTransaction().GetAmount()
		fmt.Fprintf(stdout, "closed %s: %s paid back\n", cardID, money.Format(-paid.GetMinorUnits(), paid.GetCurrency()))
		msg = res.Msg
	}
	printCard(stdout, msg.GetCard())
	return nil
}
