package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"civicard/messages/civicard/v1/civicardv1connect"
)

// Role is what a person may do through the API. A role scoped to an
// institution or a card sees only that institution's or card's data.
type Role string

// The roles. The names are what `civicard admin users add --role` takes.
const (
	// RoleOperatorAdmin runs the system: every call, irreversible ones too.
	RoleOperatorAdmin Role = "operator-admin"
	// RoleOperatorSupport serves cardholders: reads, top-ups and the
	// reversible card changes.
	RoleOperatorSupport Role = "operator-support"
	// RoleAuditor reads everything and changes nothing.
	RoleAuditor Role = "auditor"
	// RoleInstitutionManager reads its own institution's tariff and
	// statements.
	RoleInstitutionManager Role = "institution-manager"
	// RoleInstitutionCashier reads its own institution's tariff.
	RoleInstitutionCashier Role = "institution-cashier"
	// RoleCardholder reads and blocks its own cards (the portal's user).
	RoleCardholder Role = "cardholder"
)

// Roles lists every role, in the order the table shows them.
func Roles() []Role {
	return []Role{RoleOperatorAdmin, RoleOperatorSupport, RoleAuditor, RoleInstitutionManager, RoleInstitutionCashier, RoleCardholder}
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(Roles(), r) {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want one of %v)", s, Roles())
}

// scopeField is the request field a scoped role's scope is compared with;
// "" for a role that sees everything.
func (r Role) scopeField() protoreflect.Name {
	switch r {
	case RoleInstitutionManager, RoleInstitutionCashier:
		return "institution_id"
	case RoleCardholder:
		return "card_id"
	}
	return ""
}

// Principal is who an authenticated request comes from.
type Principal struct {
	// Name is the user's name, unique among users.
	Name string
	Role Role
	// Scope is the institution id of an institution role, the card id of a
	// cardholder, "" for the operators' roles and the auditor.
	Scope string
}

// Actor is how the audit trail names the principal: its name and role,
// e.g. "jk:operator-admin".
func (p Principal) Actor() string { return p.Name + ":" + string(p.Role) }

// bootstrapName names the holder of the operator token file in the audit.
const bootstrapName = "operator-token"

// Authenticator finds the user a bearer token belongs to.
type Authenticator interface {
	// Authenticate returns the principal of token; ok is false for a token
	// that is unknown, expired or revoked. An error means the users could
	// not be read (the caller sees UNAVAILABLE).
	Authenticate(ctx context.Context, token string) (p Principal, ok bool, err error)
}

// rule says who may call one procedure.
type rule struct {
	// terminal: the caller is a terminal, authenticated by its own
	// credential or signature in the terminal's grain, not by a user token.
	terminal bool
	// roles allowed; a scoped role only within its scope.
	roles []Role
	// irreversible: the change cannot be undone, so the request's reason
	// is required, for the audit trail.
	irreversible bool
}

// procedureRules is the one table of who may call what: every procedure the
// gateway serves has a row, and a procedure without one is refused (the
// table test walks the service descriptors, so a new RPC without a row
// fails it). Irreversible changes (close a card, revoke a terminal, settle a
// cycle, change the registry or the tariff, change the cluster) are the
// operator admin's only.
func procedureRules() map[string]rule {
	terminal := rule{terminal: true}
	readers := []Role{RoleOperatorAdmin, RoleOperatorSupport, RoleAuditor}
	support := []Role{RoleOperatorAdmin, RoleOperatorSupport}
	adminOnly := []Role{RoleOperatorAdmin}
	return map[string]rule{
		civicardv1connect.TerminalServiceTapProcedure:               terminal,
		civicardv1connect.TerminalServiceUploadOfflineTapsProcedure: terminal,
		civicardv1connect.TerminalServiceGetDenylistProcedure:       terminal,
		civicardv1connect.TerminalServiceGetTariffProcedure:         terminal,

		civicardv1connect.TerminalRegistryServiceRegisterTerminalKeyProcedure: {roles: adminOnly},
		civicardv1connect.TerminalRegistryServiceRevokeTerminalProcedure:      {roles: adminOnly, irreversible: true},

		civicardv1connect.CardServiceGetCardProcedure:           {roles: append(slices.Clone(readers), RoleCardholder)},
		civicardv1connect.CardServiceListTransactionsProcedure:  {roles: append(slices.Clone(readers), RoleCardholder)},
		civicardv1connect.CardServiceTopUpProcedure:             {roles: support},
		civicardv1connect.CardServiceBlockProcedure:             {roles: append(slices.Clone(support), RoleCardholder), irreversible: true},
		civicardv1connect.CardServiceIssueCardProcedure:         {roles: support},
		civicardv1connect.CardServiceGrantEntitlementProcedure:  {roles: support},
		civicardv1connect.CardServiceRevokeEntitlementProcedure: {roles: support},
		civicardv1connect.CardServiceRequestCorrectionProcedure: {roles: support},
		civicardv1connect.CardServiceReplaceCardProcedure:       {roles: support, irreversible: true},
		civicardv1connect.CardServiceRenewCardProcedure:         {roles: support},
		civicardv1connect.CardServiceCloseCardProcedure:         {roles: adminOnly, irreversible: true},

		civicardv1connect.AdminServiceGetNodeProcedure:             {roles: readers},
		civicardv1connect.AdminServiceListNodesProcedure:           {roles: readers},
		civicardv1connect.AdminServiceAddNodeProcedure:             {roles: adminOnly},
		civicardv1connect.AdminServiceDrainNodeProcedure:           {roles: adminOnly},
		civicardv1connect.AdminServiceRemoveNodeProcedure:          {roles: adminOnly},
		civicardv1connect.AdminServiceRegisterInstitutionProcedure: {roles: adminOnly},
		civicardv1connect.AdminServiceRegisterTerminalProcedure:    {roles: adminOnly},
		civicardv1connect.AdminServiceSetRegionProcedure:           {roles: adminOnly},
		civicardv1connect.AdminServiceSetPriceListProcedure:        {roles: adminOnly},
		civicardv1connect.AdminServiceShowTariffProcedure:          {roles: append(slices.Clone(readers), RoleInstitutionManager, RoleInstitutionCashier)},
		civicardv1connect.AdminServiceAddUserProcedure:             {roles: adminOnly},
		civicardv1connect.AdminServiceRevokeUserProcedure:          {roles: adminOnly, irreversible: true},
		civicardv1connect.AdminServiceListUsersProcedure:           {roles: []Role{RoleOperatorAdmin, RoleAuditor}},

		civicardv1connect.SettlementServiceCloseCycleProcedure:    {roles: adminOnly},
		civicardv1connect.SettlementServiceListBatchesProcedure:   {roles: readers},
		civicardv1connect.SettlementServiceGetStatementProcedure:  {roles: append(slices.Clone(readers), RoleInstitutionManager)},
		civicardv1connect.SettlementServiceGetPayoutFileProcedure: {roles: []Role{RoleOperatorAdmin, RoleAuditor}},
		civicardv1connect.SettlementServiceReconcileProcedure:     {roles: readers},
	}
}

// principalKey keys the authenticated principal in a request's context.
type principalKey struct{}

// principalFrom returns the principal the authorisation put in ctx.
func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// authorizer authenticates every user call and checks it against the
// table; it is the only place the gateway decides who may do what.
type authorizer struct {
	rules     map[string]rule
	bootstrap string
	users     Authenticator
}

var _ connect.Interceptor = (*authorizer)(nil)

func (a *authorizer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		r, ok := a.rules[req.Spec().Procedure]
		if !ok {
			return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s has no access rule", req.Spec().Procedure))
		}
		if r.terminal {
			return next(ctx, req)
		}
		p, err := a.authenticate(ctx, req.Header().Get("Authorization"))
		if err != nil {
			return nil, err
		}
		msg, _ := req.Any().(proto.Message)
		if err := r.allows(p, msg); err != nil {
			return nil, connect.NewError(connect.CodePermissionDenied, err)
		}
		if r.irreversible && !hasReason(msg) {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("reason is required: this change cannot be undone"))
		}
		fillOperator(msg, p)
		return next(context.WithValue(ctx, principalKey{}, p), req)
	}
}

// WrapStreamingClient is not used: the gateway is a server.
func (a *authorizer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler refuses every stream: no procedure streams, and one
// that did would need rules that look at each message.
func (a *authorizer) WrapStreamingHandler(connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(_ context.Context, conn connect.StreamingHandlerConn) error {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s: streams are not authorised", conn.Spec().Procedure))
	}
}

func (a *authorizer) authenticate(ctx context.Context, header string) (Principal, error) {
	token, ok := bearer(header)
	if !ok {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("missing credential (Authorization: Bearer ...)"))
	}
	// The operator token file is the first operator admin: the way in
	// before any user exists.
	if subtle.ConstantTimeCompare([]byte(token), []byte(a.bootstrap)) == 1 {
		return Principal{Name: bootstrapName, Role: RoleOperatorAdmin}, nil
	}
	if a.users != nil {
		p, ok, err := a.users.Authenticate(ctx, token)
		if err != nil {
			return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("the users could not be read, retry: %w", err))
		}
		if ok {
			return p, nil
		}
	}
	return Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("unknown, expired or revoked credential"))
}

// allows reports why p may not make the call msg, or nil if it may.
func (r rule) allows(p Principal, msg proto.Message) error {
	if !slices.Contains(r.roles, p.Role) {
		return fmt.Errorf("role %s may not make this call", p.Role)
	}
	field := p.Role.scopeField()
	if field == "" {
		return nil
	}
	if p.Scope == "" || msg == nil {
		return fmt.Errorf("role %s has no scope", p.Role)
	}
	m := msg.ProtoReflect()
	fd := m.Descriptor().Fields().ByName(field)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
		return fmt.Errorf("role %s: the request names no %s", p.Role, field)
	}
	if got := m.Get(fd).String(); got != p.Scope {
		return fmt.Errorf("role %s may reach %s %q only, not %q", p.Role, field, p.Scope, got)
	}
	return nil
}

// fillOperator names the authenticated principal in a request's operator
// field, whatever the caller wrote there: the audit trail records who was
// authenticated, not who the caller said it was.
func fillOperator(msg proto.Message, p Principal) {
	if msg == nil {
		return
	}
	m := msg.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("operator")
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
		return
	}
	m.Set(fd, protoreflect.ValueOfString(p.Actor()))
}

// hasReason reports whether msg's reason field holds more than spaces.
func hasReason(msg proto.Message) bool {
	if msg == nil {
		return false
	}
	m := msg.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("reason")
	return fd != nil && fd.Kind() == protoreflect.StringKind && strings.TrimSpace(m.Get(fd).String()) != ""
}
