package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"civicard/domain/money"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/terminals"
)

func runTap(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("tap")
	client := addClientFlags(fs)
	terminalID := fs.String("terminal", "", "terminal id (required)")
	cardID := fs.String("card", "", "card number (required)")
	service := fs.String("service", "", "service code from the institution's price list (default: its first)")
	quantity := fs.Uint("quantity", 1, "units bought")
	sequence := fs.Uint64("seq", 0, "the terminal's sequence number; reuse it to retry (default: the current time in µs)")
	credential := fs.String("credential", "", "terminal credential (default: derived from --data)")
	line := fs.String("line", "", "the vehicle's line, e.g. T6 (check-in/check-out)")
	stop := fs.String("stop", "", "the stop the vehicle is at, e.g. KAT-RYNEK")
	direction := fs.Int("direction", 0, "the vehicle's direction: 1 towards the line's last stop, -1 its first, 0 unknown")
	pin := fs.Bool("pin", false, "the holder entered the PIN (payments over the no-PIN limit)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *terminalID == "" || *cardID == "" {
		return usagef("tap: --terminal and --card are required")
	}
	if *quantity > 1<<16 {
		return usagef("tap: --quantity %d is absurd", *quantity)
	}
	if *direction < -1 || *direction > 1 {
		return usagef("tap: --direction %d: want -1, 0 or 1", *direction)
	}
	cred, err := client.terminalCredential(*credential, *terminalID)
	if err != nil {
		return err
	}
	now := time.Now()
	seq := *sequence
	if seq == 0 {
		// A one-shot command has no counter of its own; time in µs only grows.
		seq = uint64(now.UnixMicro())
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	terminal := terminals.NewClient(client.httpClient(), *client.addr, *terminalID, cred)
	res, err := terminal.Tap(ctx, seq, *cardID, terminals.Purchase{
		ServiceCode: *service, Quantity: uint32(*quantity), Line: *line, Stop: *stop, Direction: int32(*direction), PINVerified: *pin,
	}, now)
	if err != nil {
		return err
	}
	if done, err := client.printJSON(stdout, res); done {
		return err
	}
	if res.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED {
		paid := "charged " + formatMoney(res.GetCharged())
		if res.GetCharged().GetMinorUnits() < 0 {
			paid = "refunded " + money.Format(-res.GetCharged().GetMinorUnits(), res.GetCharged().GetCurrency())
		}
		fmt.Fprintf(stdout, "GREEN  accepted: %s, balance %s (tap %s%s)\n",
			paid, formatMoney(res.GetBalance()), res.GetTransactionId(), replayed(res.GetReplayed()))
		for _, line := range res.GetBreakdown() {
			fmt.Fprintf(stdout, "       %s\n", line)
		}
		return nil
	}
	fmt.Fprintf(stdout, "RED    declined: %s, balance %s (tap %s%s)\n",
		enumName(res.GetDeclineReason().String(), "DECLINE_REASON_"), formatMoney(res.GetBalance()), res.GetTransactionId(), replayed(res.GetReplayed()))
	if d := res.GetDeclineDetail(); d != "" {
		fmt.Fprintf(stdout, "       %s\n", d)
	}
	return nil
}
