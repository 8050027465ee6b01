package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/tariff/tariffpb"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	"civicard/sim/demo"
)

// fakeRegistry holds one library and the demo city's region, records what
// is proposed and answers with answer (OK with version 2 when nil) or err.
type fakeRegistry struct {
	region   *ledgerv1.RegionRecord
	proposed []*ledgerv1.Command
	answer   *ledgerv1.Result
	err      error
}

func (f *fakeRegistry) Propose(_ context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.proposed = append(f.proposed, cmd)
	if f.answer != nil {
		return f.answer, nil
	}
	return &ledgerv1.Result{Status: ledgerv1.Status_STATUS_OK, TariffVersion: 2}, nil
}

func (f *fakeRegistry) Tariff(context.Context, string) (*ledgerv1.TariffRecords, error) {
	return &ledgerv1.TariffRecords{Region: f.region}, nil
}

func (f *fakeRegistry) Institution(_ context.Context, id string) (*civicardv1.Institution, bool, error) {
	if id != "KAT-LIB-01" {
		return nil, false, nil
	}
	return &civicardv1.Institution{InstitutionId: id, Kind: civicardv1.ServiceKind_SERVICE_KIND_LIBRARY}, true, nil
}

// SetPriceList decodes the file and has the fare engine validate it
// against the region in force before anything is proposed: a bad file is
// refused with its line, or the product and field at fault, and nothing
// reaches the ledger. A good one is proposed once, with the operator's
// audit, the institution's kind filled in.
func TestAdminSetPriceListRefusesABadFile(t *testing.T) {
	const token = "operator-token-0123456789"
	region, _ := demo.Tariff()
	good := `{
  "Products": [
    {"Code": "PRINT", "Name": "Wydruk A4", "Rule": "unit", "PriceMinor": 50},
    {"Code": "FINE-DAY", "Rule": "unit", "PriceMinor": 50, "CeilingMinor": 2000, "Concessions": ["PUPIL"]}
  ]
}`
	for _, tc := range []struct {
		name        string
		institution string
		file        string
		noRegion    bool
		answer      *ledgerv1.Result
		ledgerErr   error
		code        connect.Code // 0: accepted
		want        string
	}{
		{name: "good", file: good},
		{name: "the institution's id and kind given", file: `{"InstitutionID": "KAT-LIB-01", "Kind": "SERVICE_KIND_LIBRARY", "Products": [{"Code": "PRINT", "Rule": "unit", "PriceMinor": 50}]}`},
		{name: "a missing comma", file: "{\n  \"Products\": [\n    {\"Code\": \"PRINT\" \"Rule\": \"unit\"}\n  ]\n}",
			code: connect.CodeInvalidArgument, want: "price list: line 3: invalid character"},
		{name: "a misspelt field", file: strings.Replace(good, `"CeilingMinor"`, "\n     \"CeilingMinr\"", 1),
			code: connect.CodeInvalidArgument, want: `price list: line 5: Products[1]: unknown field "CeilingMinr"`},
		{name: "an unknown rule", file: strings.Replace(good, `"Rule": "unit", "PriceMinor": 50}`, `"Rule": "per-page", "PriceMinor": 50}`, 1),
			code: connect.CodeInvalidArgument, want: `price list: line 3: Products[0].Rule: rule "per-page"`},
		{name: "a concession the region lacks", file: strings.Replace(good, `"PUPIL"`, `"NOPE"`, 1),
			code: connect.CodeInvalidArgument, want: `product FINE-DAY: no concession "NOPE" in the region`},
		{name: "a price of nothing", file: strings.Replace(good, `"PriceMinor": 50}`, `"PriceMinor": 0}`, 1),
			code: connect.CodeInvalidArgument, want: "product PRINT: price 0 outside"},
		{name: "a transport rule at a library", file: strings.Replace(good, `"Rule": "unit", "PriceMinor": 50}`, `"Rule": "time-ticket", "PriceMinor": 50, "Minutes": 20}`, 1),
			code: connect.CodeInvalidArgument, want: "product PRINT: a time-ticket product outside public transport"},
		{name: "another institution's file", file: `{"InstitutionID": "KAT-POOL-01", "Products": []}`,
			code: connect.CodeInvalidArgument, want: "the file is the price list of KAT-POOL-01, not of KAT-LIB-01"},
		{name: "another kind", file: `{"Kind": "SERVICE_KIND_SPORT", "Products": [{"Code": "E", "Rule": "unit", "PriceMinor": 5}]}`,
			code: connect.CodeInvalidArgument, want: "the file is for SERVICE_KIND_SPORT"},
		{name: "an institution not registered", institution: "NOWHERE", file: good, code: connect.CodeNotFound, want: "not registered"},
		{name: "no region yet", file: good, noRegion: true, code: connect.CodeFailedPrecondition, want: "no region is set"},
		{name: "the request id reused for another list", file: good,
			answer: &ledgerv1.Result{Status: ledgerv1.Status_STATUS_REJECTED, RejectReason: ledgerv1.RejectReason_REJECT_REASON_CONFLICT, Error: "applied with another request"},
			code:   connect.CodeAlreadyExists, want: "another request"},
		{name: "the ledger does not answer", file: good, ledgerErr: errors.New("no leader"), code: connect.CodeUnavailable, want: "retry with the same request id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			registry := &fakeRegistry{answer: tc.answer, err: tc.ledgerErr}
			if !tc.noRegion {
				registry.region = &ledgerv1.RegionRecord{Region: tariffpb.RegionToProto(region), Version: 1}
			}
			now := time.UnixMilli(1_800_000_000_000)
			svc := adminService{gw: &Gateway{cfg: Config{OperatorToken: token, RegistryAdmin: registry, Now: func() time.Time { return now }}}}
			institution := tc.institution
			if institution == "" {
				institution = "KAT-LIB-01"
			}
			res, err := svc.SetPriceList(context.Background(), withOperator(&civicardv1.SetPriceListRequest{
				InstitutionId: institution, PriceListJson: []byte(tc.file), RequestId: "r1", Reason: "new prices", Operator: "ewa",
			}, token))
			if tc.code != 0 {
				if connect.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("SetPriceList = %v, want %v with %q", err, tc.code, tc.want)
				}
				if tc.answer == nil && len(registry.proposed) > 0 {
					t.Fatalf("a refused file was proposed: %v", registry.proposed)
				}
				return
			}
			if err != nil || res.Msg.GetVersion() != 2 || res.Msg.GetInstitutionId() != "KAT-LIB-01" {
				t.Fatalf("SetPriceList = %v, %v; want version 2 of KAT-LIB-01", res, err)
			}
			if len(registry.proposed) != 1 {
				t.Fatalf("%d commands proposed, want 1", len(registry.proposed))
			}
			cmd := registry.proposed[0]
			set := cmd.GetSetPriceList()
			if cmd.GetId() != "tariff-list/r1" || set.GetPriceList().GetInstitutionId() != "KAT-LIB-01" ||
				set.GetPriceList().GetKind() != civicardv1.ServiceKind_SERVICE_KIND_LIBRARY || set.GetVersion() != 0 {
				t.Fatalf("proposed %v", cmd)
			}
			if a := set.GetAudit(); a.GetActor() != "operator/ewa" || a.GetReason() != "new prices" || a.GetTimeUnixMs() != now.UnixMilli() {
				t.Fatalf("audit %v", a)
			}
		})
	}
}

// SetRegion refuses a region under which a price list in force would not
// price, and a region file that does not validate, proposing nothing.
func TestAdminSetRegionRefuses(t *testing.T) {
	const token = "operator-token-0123456789"
	svc := adminService{gw: &Gateway{cfg: Config{OperatorToken: token, RegistryAdmin: &fakeRegistry{}, Now: time.Now}}}
	for _, tc := range []struct{ name, file, want string }{
		{"a misspelt field", "{\n  \"Concesions\": []\n}", `line 2: unknown field "Concesions"`},
		{"no fare band", `{"Limits": {"QuantityMax": 20, "AmountMaxMinor": 20000}}`, "0 fare bands"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.SetRegion(context.Background(), withOperator(&civicardv1.SetRegionRequest{RegionJson: []byte(tc.file), RequestId: "r1"}, token))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SetRegion = %v, want INVALID_ARGUMENT with %q", err, tc.want)
			}
		})
	}
}
