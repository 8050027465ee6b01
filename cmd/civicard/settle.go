package main

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	"civicard/cluster"
	"civicard/domain/money"
	"civicard/domain/settlement/payout"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/terminals"
)

// Settlement calls may walk every posting of a cycle: they get longer than
// other client calls.
const (
	settleCallTimeout = 3 * time.Minute
	// replicaComparisonsMax bounds how often reconcile waits for the
	// replicas of a group to reach the same applied index.
	replicaComparisonsMax = 40
	replicaComparisonWait = 250 * time.Millisecond
)

// settleFlags are the settlement settings of a node (`up`, `node`): every
// node of a cluster must be given the same.
type settleFlags struct {
	cycle          *time.Duration
	feeBasisPoints *int64
	feeFixed       *string
	payoutCurrency *string
	operatorName   *string
	operatorIBAN   *string
	operatorBIC    *string
}

func addSettleFlags(fs *flag.FlagSet) settleFlags {
	d := cluster.DefaultSettlementConfig()
	return settleFlags{
		cycle:          fs.Duration("cycle", d.Cycle, "length of a clearing cycle (0: close cycles only with `admin settle`)"),
		feeBasisPoints: fs.Int64("fee-bp", d.Fee.GetBasisPoints(), "operator's fee in basis points of each transaction"),
		feeFixed:       fs.String("fee-fixed", "0.00", "operator's fixed fee per transaction"),
		payoutCurrency: fs.String("payout-currency", "", "currency of the payout files: always the ledger's (--currency); another is refused"),
		operatorName:   fs.String("operator-name", "", "the operator, debtor of the payout files (required with a --cycle; a demo city brings its own)"),
		operatorIBAN:   fs.String("operator-iban", "", "the operator's account the payouts are paid from"),
		operatorBIC:    fs.String("operator-bic", "", "BIC of the operator's bank"),
	}
}

// apply sets the settlement settings the flags give; cfg.Validate checks
// them.
func (f settleFlags) apply(cfg *config) error {
	fixed, err := money.Parse(*f.feeFixed)
	if err != nil {
		return usagef("--fee-fixed: %v", err)
	}
	cfg.Node.Settlement.Cycle = *f.cycle
	cfg.Node.Settlement.Fee = &civicardv1.CycleFeePolicy{BasisPoints: *f.feeBasisPoints, PerTransactionMinor: fixed}
	cfg.Node.Settlement.Operator = payout.Party{Name: *f.operatorName, IBAN: *f.operatorIBAN, BIC: *f.operatorBIC}
	cfg.PayoutCurrency = *f.payoutCurrency
	return nil
}

// runAdminSettlement runs the settlement commands: settle, batches,
// statement, payout-file, reconcile. It reports whether args named one.
func runAdminSettlement(ctx context.Context, args []string, stdout io.Writer) (bool, error) {
	if len(args) == 0 {
		return false, nil
	}
	var run func(context.Context, []string, io.Writer) error
	switch args[0] {
	case "settle":
		run = runSettle
	case "batches":
		run = runBatches
	case "statement":
		run = runStatement
	case "payout-file":
		run = runPayoutFile
	case "reconcile":
		run = runReconcile
	default:
		return false, nil
	}
	return true, run(ctx, args[1:], stdout)
}

// settlementFlags are the flags every settlement command shares.
type settlementFlags struct {
	client clientFlags
	token  *string
}

func newSettlementFlags(name string) (*flag.FlagSet, settlementFlags) {
	fs := newFlags(name)
	return fs, settlementFlags{client: addClientFlags(fs), token: fs.String("token", "", "operator token (default: read from --data)")}
}

// api returns the client of the first --addr, every --addr and the
// operator token.
func (f settlementFlags) api() (civicardv1connect.SettlementServiceClient, []string, string, error) {
	token, err := f.client.operatorToken(*f.token)
	if err != nil {
		return nil, nil, "", err
	}
	addrs := strings.Split(*f.client.addr, ",")
	httpClient := &http.Client{Timeout: settleCallTimeout}
	return civicardv1connect.NewSettlementServiceClient(httpClient, addrs[0], terminals.WithCredential(token)), addrs, token, nil
}

func runSettle(ctx context.Context, args []string, stdout io.Writer) error {
	fs, f := newSettlementFlags("admin settle")
	cycle := fs.Uint64("cycle", 0, "the cycle to settle (default: the one in flight, else the open one)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	api, _, _, err := f.api()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, settleCallTimeout)
	defer cancel()
	res, err := api.CloseCycle(ctx, connect.NewRequest(&civicardv1.CloseCycleRequest{Cycle: *cycle}))
	if err != nil {
		return err
	}
	if done, err := f.client.printJSON(stdout, res.Msg); done {
		return err
	}
	return printBatch(stdout, res.Msg.GetBatch())
}

func printBatch(w io.Writer, b *civicardv1.SettlementBatch) error {
	var payable, fee int64
	paid := 0
	for _, inst := range b.GetInstitutions() {
		payable += inst.GetPayableMinor()
		fee += inst.GetFeeMinor()
		if inst.GetPayableMinor() > 0 {
			paid++
		}
	}
	state := "recorded, not yet paid"
	if b.GetPaid() {
		state = "paid"
	}
	fmt.Fprintf(w, "cycle %d %s: %s to %d institutions, fees %s (%d basis points + %s per transaction)\n", b.GetCycle(), state,
		money.Format(payable, b.GetCurrency()), paid, money.Format(fee, b.GetCurrency()),
		b.GetFee().GetBasisPoints(), money.Format(b.GetFee().GetPerTransactionMinor(), b.GetCurrency()))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "INSTITUTION\tTRANSACTIONS\tCHARGED\tCORRECTIONS\tFEE\tNET\tCARRIED IN\tPAYABLE\tCARRIED OUT\t")
	for _, inst := range b.GetInstitutions() {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", inst.GetInstitutionId(), inst.GetTransactions(),
			decimal(inst.GetChargedMinor()), decimal(inst.GetCorrectionsMinor()), decimal(inst.GetFeeMinor()), decimal(inst.GetNetMinor()),
			decimal(inst.GetCarriedInMinor()), decimal(inst.GetPayableMinor()), decimal(inst.GetCarriedOutMinor()))
	}
	return tw.Flush()
}

// decimal prints minor units with two decimals and no currency.
func decimal(minor int64) string {
	s := money.Format(minor, "")
	return strings.TrimSuffix(s, " ")
}

func runBatches(ctx context.Context, args []string, stdout io.Writer) error {
	fs, f := newSettlementFlags("admin batches")
	limit := fs.Uint("limit", 20, "at most this many, newest first")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	api, _, _, err := f.api()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := api.ListBatches(ctx, connect.NewRequest(&civicardv1.ListBatchesRequest{Limit: uint32(*limit)}))
	if err != nil {
		return err
	}
	if done, err := f.client.printJSON(stdout, res.Msg); done {
		return err
	}
	fmt.Fprintf(stdout, "next cycle to settle: %d\n", res.Msg.GetOpenCycle())
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CYCLE\tCREATED\tPAID\tINSTITUTIONS\tPAYABLE\tFEES")
	for _, b := range res.Msg.GetBatches() {
		var payable, fee int64
		for _, inst := range b.GetInstitutions() {
			payable += inst.GetPayableMinor()
			fee += inst.GetFeeMinor()
		}
		fmt.Fprintf(tw, "%d\t%s\t%v\t%d\t%s\t%s\n", b.GetCycle(), time.UnixMilli(b.GetCreatedUnixMs()).UTC().Format(time.RFC3339),
			b.GetPaid(), len(b.GetInstitutions()), money.Format(payable, b.GetCurrency()), money.Format(fee, b.GetCurrency()))
	}
	return tw.Flush()
}

func runStatement(ctx context.Context, args []string, stdout io.Writer) error {
	fs, f := newSettlementFlags("admin statement")
	format := fs.String("format", "csv", "csv or json")
	rest, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	cycle, err := strconv.ParseUint(rest[1], 10, 64)
	if err != nil || cycle == 0 {
		return usagef("admin statement INSTITUTION CYCLE: cycle %q is not a number from 1", rest[1])
	}
	if *format != "csv" && *format != "json" {
		return usagef("--format: csv or json, not %q", *format)
	}
	api, _, _, err := f.api()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, settleCallTimeout)
	defer cancel()
	res, err := api.GetStatement(ctx, connect.NewRequest(&civicardv1.GetStatementRequest{InstitutionId: rest[0], Cycle: cycle}))
	if err != nil {
		return err
	}
	if *format == "json" || *f.client.json {
		out, err := protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(res.Msg)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(out))
		return err
	}
	return writeStatementCSV(stdout, res.Msg)
}

// writeStatementCSV writes one row per transaction, then a TOTAL row and
// the rows that take the net to what was paid.
func writeStatementCSV(w io.Writer, st *civicardv1.GetStatementResponse) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"time", "transaction_id", "group", "ledger_sequence", "terminal", "service", "card", "offline",
		"gross", "concessions", "corrections", "fee", "net", "currency"})
	row := func(time, id, group, seq, terminal, service, card, offline string, l *civicardv1.SettlementStatementLine) {
		_ = cw.Write([]string{time, id, group, seq, terminal, service, card, offline,
			decimal(l.GetGrossMinor()), decimal(l.GetConcessionMinor()), decimal(l.GetCorrectionMinor()),
			decimal(l.GetFeeMinor()), decimal(l.GetNetMinor()), st.GetCurrency()})
	}
	for _, l := range st.GetLines() {
		row(time.UnixMilli(l.GetTimeUnixMs()).UTC().Format("2006-01-02T15:04:05.000Z"), l.GetTransactionId(), l.GetGroup(),
			strconv.FormatUint(l.GetLedgerSequence(), 10), l.GetTerminalId(), l.GetServiceCode(), l.GetCardId(), strconv.FormatBool(l.GetOffline()), l)
	}
	row("", "TOTAL", "", "", "", "", "", "", st.GetTotals())
	for _, extra := range []struct {
		name  string
		minor int64
	}{{"CARRIED IN", st.GetCarriedInMinor()}, {"PAYABLE", st.GetPayableMinor()}, {"CARRIED OUT", st.GetCarriedOutMinor()}} {
		row("", extra.name, "", "", "", "", "", "", &civicardv1.SettlementStatementLine{NetMinor: extra.minor})
	}
	cw.Flush()
	return cw.Error()
}

func runPayoutFile(ctx context.Context, args []string, stdout io.Writer) error {
	fs, f := newSettlementFlags("admin payout-file")
	out := fs.String("out", "", "write the file here (default: standard output)")
	rest, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	cycle, err := strconv.ParseUint(rest[0], 10, 64)
	if err != nil || cycle == 0 {
		return usagef("admin payout-file CYCLE: cycle %q is not a number from 1", rest[0])
	}
	api, _, _, err := f.api()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := api.GetPayoutFile(ctx, connect.NewRequest(&civicardv1.GetPayoutFileRequest{Cycle: cycle}))
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(res.Msg.GetXml())
		return err
	}
	return os.WriteFile(*out, res.Msg.GetXml(), 0o644)
}

// runReconcile asks the first node to reconcile the books and every node
// given for its replicas' digests: replicas of a group at the same applied
// index must be equal. Any mismatch fails the command.
func runReconcile(ctx context.Context, args []string, stdout io.Writer) error {
	fs, f := newSettlementFlags("admin reconcile")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	api, addrs, token, err := f.api()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, settleCallTimeout)
	defer cancel()
	res, err := api.Reconcile(ctx, connect.NewRequest(&civicardv1.ReconcileRequest{}))
	if err != nil {
		return err
	}
	rep := res.Msg
	replicaChecks, replicaMismatches, err := compareReplicas(ctx, addrs, token)
	if err != nil {
		return err
	}
	rep.Checks = append(rep.Checks, replicaChecks...)
	rep.Mismatches = append(rep.Mismatches, replicaMismatches...)
	rep.Ok = len(rep.Mismatches) == 0
	if done, err := f.client.printJSON(stdout, rep); !done {
		for _, c := range rep.GetChecks() {
			fmt.Fprintln(stdout, "check:", c)
		}
		for _, m := range rep.GetMismatches() {
			fmt.Fprintln(stdout, "MISMATCH:", m)
		}
	} else if err != nil {
		return err
	}
	if !rep.GetOk() {
		return fmt.Errorf("reconciliation found %d mismatches", len(rep.GetMismatches()))
	}
	fmt.Fprintln(stdout, "reconciled: the books balance")
	return nil
}

// compareReplicas reads every node's replicas with digests until, for every
// group, the replicas stand at one applied index (or it gave up waiting),
// and requires the digests of replicas at one index to be equal.
func compareReplicas(ctx context.Context, addrs []string, token string) (checks, mismatches []string, err error) {
	httpClient := &http.Client{Timeout: callTimeout}
	type replica struct {
		node    string
		applied uint64
		digest  string
	}
	for attempt := 1; ; attempt++ {
		var silent []string
		byGroup := map[string][]replica{}
		for _, addr := range addrs {
			api := civicardv1connect.NewAdminServiceClient(httpClient, addr, terminals.WithCredential(token))
			res, err := api.GetNode(ctx, connect.NewRequest(&civicardv1.GetNodeRequest{WithDigests: true}))
			if err != nil {
				silent = append(silent, fmt.Sprintf("node %s did not answer: %v", addr, err))
				continue
			}
			for _, g := range res.Msg.GetGroups() {
				byGroup[g.GetGroup()] = append(byGroup[g.GetGroup()], replica{node: res.Msg.GetName() + "@" + addr, applied: g.GetAppliedIndex(), digest: hex.EncodeToString(g.GetDigest())})
			}
		}
		groups := make([]string, 0, len(byGroup))
		moving := false
		for group, reps := range byGroup {
			groups = append(groups, group)
			for _, r := range reps[1:] {
				moving = moving || r.applied != reps[0].applied
			}
		}
		if moving && attempt < replicaComparisonsMax {
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(replicaComparisonWait):
			}
			continue
		}
		slices.Sort(groups)
		checks = silent
		for _, group := range groups {
			reps := byGroup[group]
			agree := true
			for _, r := range reps[1:] {
				switch {
				case r.applied != reps[0].applied:
					checks = append(checks, fmt.Sprintf("%s: %s at applied index %d, %s at %d (taps flowing): not compared",
						group, reps[0].node, reps[0].applied, r.node, r.applied))
					agree = false
				case r.digest != reps[0].digest:
					mismatches = append(mismatches, fmt.Sprintf("%s: replicas at applied index %d differ: %s has %.12s, %s has %.12s",
						group, r.applied, reps[0].node, reps[0].digest, r.node, r.digest))
					agree = false
				}
			}
			if agree {
				checks = append(checks, fmt.Sprintf("%s: %d replicas agree at applied index %d", group, len(reps), reps[0].applied))
			}
		}
		return checks, mismatches, nil
	}
}
