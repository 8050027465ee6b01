package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"connectrpc.com/connect"

	"civicard/domain/settlement/payout"
	"civicard/domain/tariff"
	"civicard/domain/tariff/tariffpb"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// The operators' registry writes: institutions, terminals and the tariff
// (the region and each institution's price list). A region or price list
// comes as the file an operator wrote; it is decoded strictly and
// validated by the fare engine here, before anything is proposed, so a bad
// file is refused with its line or the product at fault and changes
// nothing.

// RegistryAdmin takes the operators' registry writes and reads
// (cluster.Node).
type RegistryAdmin interface {
	// Propose commits a registry command and answers with the ledger's
	// result; a region or price list reaches every ledger shard before it
	// returns. An error means the outcome is unknown: the same command
	// (the same request id) may be proposed again.
	Propose(ctx context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error)
	// Tariff reads the registry's region and the price list of
	// institutionID, or every price list when it is "".
	Tariff(ctx context.Context, institutionID string) (*ledgerv1.TariffRecords, error)
	// Institution reads an institution's record; found is false when it is
	// not registered.
	Institution(ctx context.Context, institutionID string) (inst *civicardv1.Institution, found bool, err error)
}

// Bounds of registry requests, within the ledger's.
const (
	registryIDBytesMax     = 64
	registryTextBytesMax   = 200
	credentialBytesMin     = 16
	credentialBytesMaxSent = 256
)

func (s adminService) registry(header http.Header) (RegistryAdmin, error) {
	if s.gw.cfg.RegistryAdmin == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this node has no ledger: ask a node that has one"))
	}
	return s.gw.cfg.RegistryAdmin, nil
}

// audited checks what every registry write carries (request id, reason,
// operator) and returns its audit record, stamped with the gateway's clock.
func (s adminService) audited(requestID, reason, operator string) (*civicardv1.Audit, error) {
	if err := validateRequestID(requestID); err != nil {
		return nil, err
	}
	if err := validateText("reason", reason, registryTextBytesMax); err != nil {
		return nil, err
	}
	if err := validateText("operator", operator, operatorBytesMax); err != nil {
		return nil, err
	}
	actor := "operator"
	if operator != "" {
		actor += "/" + operator
	}
	return &civicardv1.Audit{Actor: actor, Reason: reason, TimeUnixMs: s.gw.cfg.Now().UnixMilli()}, nil
}

// validateID accepts a registry id: printable ASCII without spaces.
func validateID(field, id string) error {
	if id == "" {
		return invalid("%s is required", field)
	}
	if len(id) > registryIDBytesMax {
		return invalid("%s longer than %d bytes", field, registryIDBytesMax)
	}
	for _, r := range id {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return invalid("%s may hold printable ASCII without spaces only", field)
		}
	}
	return nil
}

// proposed maps the ledger's answer to a registry command: nil for an
// applied one, else the error the caller sees.
func proposed(res *ledgerv1.Result, err error) error {
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("the registry did not answer, the outcome is unknown: retry with the same request id: %w", err))
	}
	switch res.GetStatus() {
	case ledgerv1.Status_STATUS_OK:
		return nil
	case ledgerv1.Status_STATUS_REJECTED:
	default:
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("the registry answered %s: retry with the same request id", res.GetStatus()))
	}
	why := errors.New(res.GetError())
	switch res.GetRejectReason() {
	case ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND:
		return connect.NewError(connect.CodeNotFound, why)
	case ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, ledgerv1.RejectReason_REJECT_REASON_CONFLICT:
		return connect.NewError(connect.CodeAlreadyExists, why)
	}
	return connect.NewError(connect.CodeInvalidArgument, why)
}

func (s adminService) RegisterInstitution(ctx context.Context, req *connect.Request[civicardv1.RegisterInstitutionRequest]) (*connect.Response[civicardv1.RegisterInstitutionResponse], error) {
	registry, err := s.registry(req.Header())
	if err != nil {
		return nil, err
	}
	m := req.Msg
	a, err := s.audited(m.GetRequestId(), m.GetReason(), m.GetOperator())
	if err != nil {
		return nil, err
	}
	in := m.GetInstitution()
	if err := validateID("institution.institution_id", in.GetInstitutionId()); err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, value string }{{"institution.name", in.GetName()}, {"institution.town", in.GetTown()}} {
		if err := validateText(f.name, f.value, registryTextBytesMax); err != nil {
			return nil, err
		}
	}
	if k := in.GetKind(); k == civicardv1.ServiceKind_SERVICE_KIND_UNSPECIFIED || civicardv1.ServiceKind_name[int32(k)] == "" {
		return nil, invalid("institution.kind must be one of the service kinds")
	}
	if len(in.GetServices()) > 0 {
		return nil, invalid("institution.services are not used: what an institution sells is its price list (SetPriceList)")
	}
	if iban := in.GetIban(); iban != "" {
		if err := payout.CheckIBAN(iban); err != nil {
			return nil, invalid("institution.iban: %v", err)
		}
	}
	rec := &civicardv1.Institution{InstitutionId: in.GetInstitutionId(), Name: in.GetName(), Town: in.GetTown(), Kind: in.GetKind(), Iban: in.GetIban()}
	res, err := registry.Propose(ctx, &ledgerv1.Command{
		Id:   "institution/" + m.GetRequestId(),
		Kind: &ledgerv1.Command_RegisterInstitution{RegisterInstitution: &ledgerv1.RegisterInstitution{Institution: rec, Audit: a}},
	})
	if err := proposed(res, err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.RegisterInstitutionResponse{Institution: rec, Replayed: res.GetReplayed()}), nil
}

func (s adminService) RegisterTerminal(ctx context.Context, req *connect.Request[civicardv1.RegisterTerminalRequest]) (*connect.Response[civicardv1.RegisterTerminalResponse], error) {
	registry, err := s.registry(req.Header())
	if err != nil {
		return nil, err
	}
	m := req.Msg
	a, err := s.audited(m.GetRequestId(), m.GetReason(), m.GetOperator())
	if err != nil {
		return nil, err
	}
	if err := validateID("terminal_id", m.GetTerminalId()); err != nil {
		return nil, err
	}
	if err := validateID("institution_id", m.GetInstitutionId()); err != nil {
		return nil, err
	}
	if err := validateText("location", m.GetLocation(), registryTextBytesMax); err != nil {
		return nil, err
	}
	if n := len(m.GetCredential()); n < credentialBytesMin || n > credentialBytesMaxSent {
		return nil, invalid("credential is %d bytes, want %d to %d", n, credentialBytesMin, credentialBytesMaxSent)
	}
	if n := len(m.GetPublicKey()); n != 0 && n != ed25519.PublicKeySize {
		return nil, invalid("public_key is %d bytes, an ed25519 key %d", n, ed25519.PublicKeySize)
	}
	credential := sha256.Sum256([]byte(m.GetCredential()))
	rec := &civicardv1.Terminal{
		TerminalId: m.GetTerminalId(), InstitutionId: m.GetInstitutionId(), Location: m.GetLocation(),
		CredentialSha256: credential[:], PublicKey: m.GetPublicKey(),
	}
	res, err := registry.Propose(ctx, &ledgerv1.Command{
		Id:   "terminal/" + m.GetRequestId(),
		Kind: &ledgerv1.Command_RegisterTerminal{RegisterTerminal: &ledgerv1.RegisterTerminal{Terminal: rec, Audit: a}},
	})
	if err := proposed(res, err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.RegisterTerminalResponse{Terminal: withoutCredential(rec), Replayed: res.GetReplayed()}), nil
}

// fileRefused is a region or price list file that does not decode or
// validate: INVALID_ARGUMENT with the line or the product at fault.
func fileRefused(what string, err error) error {
	var fe *tariff.FileError
	if errors.As(err, &fe) {
		return invalid("%s: line %d: %s", what, fe.Line, fe.Reason)
	}
	return invalid("%s: %v", what, err)
}

func (s adminService) SetRegion(ctx context.Context, req *connect.Request[civicardv1.SetRegionRequest]) (*connect.Response[civicardv1.SetTariffResponse], error) {
	registry, err := s.registry(req.Header())
	if err != nil {
		return nil, err
	}
	m := req.Msg
	a, err := s.audited(m.GetRequestId(), m.GetReason(), m.GetOperator())
	if err != nil {
		return nil, err
	}
	region, err := tariff.ParseRegion(m.GetRegionJson())
	if err != nil {
		return nil, fileRefused("region", err)
	}
	engine, err := tariff.NewEngine(region)
	if err != nil {
		return nil, fileRefused("region", err)
	}
	// Every price list in force must still price under the new region, and
	// every line's operator must be registered (its fares are paid to it).
	current, err := registry.Tariff(ctx, "")
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("read the tariff in force: %w", err))
	}
	var unfit []string
	for _, rec := range current.GetPriceLists() {
		list := tariffpb.PriceListFromProto(rec.GetPriceList())
		if err := list.Validate(engine.Region()); err != nil {
			unfit = append(unfit, err.Error())
		}
	}
	if len(unfit) > 0 {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("region: price lists in force would not price under it (set them anew first, or change the region): %s", strings.Join(unfit, "; ")))
	}
	operators := map[string]bool{}
	for _, l := range region.Network.Lines {
		if operators[l.InstitutionID] {
			continue
		}
		operators[l.InstitutionID] = true
		if _, found, err := registry.Institution(ctx, l.InstitutionID); err != nil {
			return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("read institution %s: %w", l.InstitutionID, err))
		} else if !found {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("region: line %s is operated by %s, which is not registered", l.ID, l.InstitutionID))
		}
	}
	res, err := registry.Propose(ctx, &ledgerv1.Command{
		Id:   "tariff-region/" + m.GetRequestId(),
		Kind: &ledgerv1.Command_SetRegion{SetRegion: &ledgerv1.SetRegion{Region: tariffpb.RegionToProto(region), Audit: a}},
	})
	if err := proposed(res, err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.SetTariffResponse{Version: res.GetTariffVersion(), Replayed: res.GetReplayed()}), nil
}

func (s adminService) SetPriceList(ctx context.Context, req *connect.Request[civicardv1.SetPriceListRequest]) (*connect.Response[civicardv1.SetTariffResponse], error) {
	registry, err := s.registry(req.Header())
	if err != nil {
		return nil, err
	}
	m := req.Msg
	a, err := s.audited(m.GetRequestId(), m.GetReason(), m.GetOperator())
	if err != nil {
		return nil, err
	}
	id := m.GetInstitutionId()
	if err := validateID("institution_id", id); err != nil {
		return nil, err
	}
	list, err := tariff.ParsePriceList(m.GetPriceListJson())
	if err != nil {
		return nil, fileRefused("price list", err)
	}
	switch list.InstitutionID {
	case "":
		list.InstitutionID = id
	case id:
	default:
		return nil, invalid("price list: the file is the price list of %s, not of %s", list.InstitutionID, id)
	}
	inst, found, err := registry.Institution(ctx, id)
	switch {
	case err != nil:
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("read institution %s: %w", id, err))
	case !found:
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("institution %s is not registered", id))
	case list.Kind == civicardv1.ServiceKind_SERVICE_KIND_UNSPECIFIED:
		list.Kind = inst.GetKind()
	case list.Kind != inst.GetKind():
		return nil, invalid("price list: the file is for %s, institution %s is %s", list.Kind, id, inst.GetKind())
	}
	current, err := registry.Tariff(ctx, id)
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("read the region in force: %w", err))
	}
	if current.GetRegion() == nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("no region is set: set it first (`civicard admin tariff region set`)"))
	}
	engine, err := tariff.NewEngine(tariffpb.RegionFromProto(current.GetRegion().GetRegion()))
	if err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the region in force (version %d) does not validate: %w", current.GetRegion().GetVersion(), err))
	}
	if err := list.Validate(engine.Region()); err != nil {
		return nil, invalid("price list does not validate under region version %d: %v", current.GetRegion().GetVersion(), err)
	}
	res, err := registry.Propose(ctx, &ledgerv1.Command{
		Id:   "tariff-list/" + m.GetRequestId(),
		Kind: &ledgerv1.Command_SetPriceList{SetPriceList: &ledgerv1.SetPriceList{PriceList: tariffpb.PriceListToProto(list), Audit: a}},
	})
	if err := proposed(res, err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.SetTariffResponse{InstitutionId: id, Version: res.GetTariffVersion(), Replayed: res.GetReplayed()}), nil
}

func (s adminService) ShowTariff(ctx context.Context, req *connect.Request[civicardv1.ShowTariffRequest]) (*connect.Response[civicardv1.ShowTariffResponse], error) {
	registry, err := s.registry(req.Header())
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetInstitutionId()
	if id != "" {
		if err := validateID("institution_id", id); err != nil {
			return nil, err
		}
	}
	recs, err := registry.Tariff(ctx, id)
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("read the tariff: %w", err))
	}
	out := &civicardv1.ShowTariffResponse{}
	if r := recs.GetRegion(); r != nil {
		file, err := tariff.FormatRegion(tariffpb.RegionFromProto(r.GetRegion()))
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		out.Region = &civicardv1.TariffEntry{Version: r.GetVersion(), Audit: r.GetAudit(), Json: file}
	}
	for _, rec := range recs.GetPriceLists() {
		file, err := tariff.FormatPriceList(tariffpb.PriceListFromProto(rec.GetPriceList()))
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		out.PriceLists = append(out.PriceLists, &civicardv1.TariffEntry{
			InstitutionId: rec.GetPriceList().GetInstitutionId(), Version: rec.GetVersion(), Audit: rec.GetAudit(), Json: file,
		})
	}
	return connect.NewResponse(out), nil
}
