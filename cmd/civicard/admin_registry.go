package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/terminals"
)

// The operators' registry commands: institutions, terminals and the
// tariff (the region and each institution's price list), through the
// gateway's AdminService. Every write carries a request id (reuse it to
// retry), a reason and the operator's name, for the audit trail.

// registryFlags are the flags every registry write shares.
type registryFlags struct {
	client    clientFlags
	token     *string
	requestID *string
	reason    *string
	operator  *string
}

func addRegistryFlags(name string) (*flag.FlagSet, registryFlags) {
	fs := newFlags(name)
	return fs, registryFlags{
		client:    addClientFlags(fs),
		token:     fs.String("token", "", "operator token (default: read from --data)"),
		requestID: fs.String("request-id", "", "idempotency key; reuse it to retry safely (default: a new one)"),
		reason:    fs.String("reason", "", "why, for the audit trail"),
		operator:  fs.String("operator", os.Getenv("USER"), "ignored: the audit trail names the user whose token the call carries"),
	}
}

func (f registryFlags) api() (civicardv1connect.AdminServiceClient, error) {
	token, err := f.client.operatorToken(*f.token)
	if err != nil {
		return nil, err
	}
	return civicardv1connect.NewAdminServiceClient(f.client.httpClient(), *f.client.addr, terminals.WithCredential(token)), nil
}

func (f registryFlags) id() string {
	if *f.requestID == "" {
		return newRequestID()
	}
	return *f.requestID
}

func replayedNote(replayed bool) string {
	if replayed {
		return " (a retry: the first answer)"
	}
	return ""
}

// runAdminInstitutions runs `civicard admin institutions add`.
func runAdminInstitutions(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usagef("admin institutions: want add")
	}
	fs, reg := addRegistryFlags("admin institutions add")
	id := fs.String("institution", "", "the institution's id, e.g. KAT-LIB-01 (required)")
	name := fs.String("name", "", "its name")
	town := fs.String("town", "", "its town")
	kind := fs.String("kind", "", "what it is: "+strings.Join(serviceKinds(), ", ")+" (required)")
	iban := fs.String("iban", "", "the account its payouts go to (default: none yet, its takings accrue)")
	if _, err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	k, ok := civicardv1.ServiceKind_value["SERVICE_KIND_"+strings.ToUpper(strings.ReplaceAll(*kind, "-", "_"))]
	if *id == "" || !ok || k == 0 {
		return usagef("admin institutions add: --institution and --kind (%s) are required", strings.Join(serviceKinds(), ", "))
	}
	api, err := reg.api()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := api.RegisterInstitution(ctx, connect.NewRequest(&civicardv1.RegisterInstitutionRequest{
		Institution: &civicardv1.Institution{InstitutionId: *id, Name: *name, Town: *town, Kind: civicardv1.ServiceKind(k), Iban: *iban},
		RequestId:   reg.id(), Reason: *reg.reason, Operator: *reg.operator,
	}))
	if err != nil {
		return err
	}
	if done, err := reg.client.printJSON(stdout, res.Msg); done {
		return err
	}
	inst := res.Msg.GetInstitution()
	fmt.Fprintf(stdout, "institution %s registered (%s)%s: it takes taps once it has a terminal and a price list\n",
		inst.GetInstitutionId(), enumName(inst.GetKind().String(), "SERVICE_KIND_"), replayedNote(res.Msg.GetReplayed()))
	return nil
}

// serviceKinds are the kinds an institution may be, as --kind takes them.
func serviceKinds() []string {
	var out []string
	for i := int32(1); i < int32(len(civicardv1.ServiceKind_name)); i++ {
		out = append(out, strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(civicardv1.ServiceKind_name[i], "SERVICE_KIND_"), "_", "-")))
	}
	return out
}

// runAdminTerminalAdd runs `civicard admin terminals add`.
func runAdminTerminalAdd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, reg := addRegistryFlags("admin terminals add")
	id := fs.String("terminal", "", "the terminal's id (required)")
	institution := fs.String("institution", "", "the institution it belongs to (required)")
	location := fs.String("location", "", "where it stands")
	credential := fs.String("credential", "", "its bearer credential, at least 16 characters (default: a new one, printed once)")
	publicKey := fs.String("public-key", "", "its ed25519 public key in hex (`civicard terminal keygen`): every tap must then be signed")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *id == "" || *institution == "" {
		return usagef("admin terminals add: --terminal and --institution are required")
	}
	var key []byte
	if *publicKey != "" {
		var err error
		if key, err = hex.DecodeString(*publicKey); err != nil || len(key) != 32 {
			return usagef("admin terminals add: --public-key must be 32 bytes in hex")
		}
	}
	secret, generated := *credential, false
	if secret == "" {
		buf := make([]byte, 24)
		_, _ = rand.Read(buf) // never fails (crypto/rand)
		secret, generated = hex.EncodeToString(buf), true
	}
	api, err := reg.api()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := api.RegisterTerminal(ctx, connect.NewRequest(&civicardv1.RegisterTerminalRequest{
		TerminalId: *id, InstitutionId: *institution, Location: *location, Credential: secret, PublicKey: key,
		RequestId: reg.id(), Reason: *reg.reason, Operator: *reg.operator,
	}))
	if err != nil {
		return err
	}
	if done, err := reg.client.printJSON(stdout, res.Msg); done {
		return err
	}
	fmt.Fprintf(stdout, "terminal %s of %s registered%s\n", res.Msg.GetTerminal().GetTerminalId(), res.Msg.GetTerminal().GetInstitutionId(), replayedNote(res.Msg.GetReplayed()))
	if generated {
		fmt.Fprintf(stdout, "credential %s   (give it to the terminal; it is not stored and not shown again)\n", secret)
	}
	return nil
}

// runAdminTariff runs `civicard admin tariff set|show|region set|region show`.
func runAdminTariff(ctx context.Context, args []string, stdout io.Writer) error {
	switch {
	case len(args) >= 2 && args[0] == "region" && args[1] == "set":
		return runTariffSet(ctx, true, args[2:], stdout)
	case len(args) >= 2 && args[0] == "region" && args[1] == "show":
		return runTariffShow(ctx, true, args[2:], stdout)
	case len(args) >= 1 && args[0] == "set":
		return runTariffSet(ctx, false, args[1:], stdout)
	case len(args) >= 1 && args[0] == "show":
		return runTariffShow(ctx, false, args[1:], stdout)
	}
	return usagef("admin tariff: want set --institution ID FILE, show [--institution ID], region set FILE or region show")
}

// runTariffSet sets the region or an institution's price list from a file.
func runTariffSet(ctx context.Context, region bool, args []string, stdout io.Writer) error {
	name := "admin tariff set"
	if region {
		name = "admin tariff region set"
	}
	fs, reg := addRegistryFlags(name)
	var institution *string
	if !region {
		institution = fs.String("institution", "", "the institution whose price list FILE is (required)")
	}
	positional, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if institution != nil && *institution == "" {
		return usagef("%s: --institution is required", name)
	}
	file, err := os.ReadFile(positional[0])
	if err != nil {
		return err
	}
	api, err := reg.api()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var res *connect.Response[civicardv1.SetTariffResponse]
	if region {
		res, err = api.SetRegion(ctx, connect.NewRequest(&civicardv1.SetRegionRequest{
			RegionJson: file, RequestId: reg.id(), Reason: *reg.reason, Operator: *reg.operator,
		}))
	} else {
		res, err = api.SetPriceList(ctx, connect.NewRequest(&civicardv1.SetPriceListRequest{
			InstitutionId: *institution, PriceListJson: file, RequestId: reg.id(), Reason: *reg.reason, Operator: *reg.operator,
		}))
	}
	if err != nil {
		// The file's line or product is in the message.
		return fmt.Errorf("%s: %w", positional[0], err)
	}
	if done, err := reg.client.printJSON(stdout, res.Msg); done {
		return err
	}
	what := "the region"
	if !region {
		what = "the price list of " + res.Msg.GetInstitutionId()
	}
	fmt.Fprintf(stdout, "%s: version %d in force%s\n", what, res.Msg.GetVersion(), replayedNote(res.Msg.GetReplayed()))
	return nil
}

// runTariffShow prints the tariff in force: with --institution (or for the
// region) the file that sets it, which can be edited and set again; else
// the versions of the region and of every price list.
func runTariffShow(ctx context.Context, region bool, args []string, stdout io.Writer) error {
	name := "admin tariff show"
	if region {
		name = "admin tariff region show"
	}
	fs := newFlags(name)
	client := addClientFlags(fs)
	token := fs.String("token", "", "operator token (default: read from --data)")
	var institution *string
	if !region {
		institution = fs.String("institution", "", "print this institution's price list file")
	}
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	operatorToken, err := client.operatorToken(*token)
	if err != nil {
		return err
	}
	api := civicardv1connect.NewAdminServiceClient(client.httpClient(), *client.addr, terminals.WithCredential(operatorToken))
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	req := &civicardv1.ShowTariffRequest{}
	if institution != nil {
		req.InstitutionId = *institution
	}
	res, err := api.ShowTariff(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	if done, err := client.printJSON(stdout, res.Msg); done {
		return err
	}
	switch {
	case region:
		if res.Msg.GetRegion() == nil {
			return fmt.Errorf("no region is set")
		}
		_, err := stdout.Write(res.Msg.GetRegion().GetJson())
		return err
	case req.GetInstitutionId() != "":
		if len(res.Msg.GetPriceLists()) == 0 {
			return fmt.Errorf("%s has no price list", req.GetInstitutionId())
		}
		_, err := stdout.Write(res.Msg.GetPriceLists()[0].GetJson())
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WHAT\tVERSION\tSET BY\tAT\tWHY")
	row := func(what string, e *civicardv1.TariffEntry) {
		a := e.GetAudit()
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", what, e.GetVersion(), a.GetActor(), time.UnixMilli(a.GetTimeUnixMs()).UTC().Format(time.RFC3339), a.GetReason())
	}
	if r := res.Msg.GetRegion(); r != nil {
		row("region", r)
	} else {
		fmt.Fprintln(tw, "region\t-\t-\t-\tnot set")
	}
	for _, e := range res.Msg.GetPriceLists() {
		row(e.GetInstitutionId(), e)
	}
	return tw.Flush()
}
