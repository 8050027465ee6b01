package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
)

// The API's users are registry records (ledger.User): a name, a role, its
// scope and the SHA-256 of an API token. The token is made and shown once
// by whoever adds the user (`civicard admin users add`); the registry keeps
// its hash only, so neither a snapshot nor a log line holds a working
// credential. Passwords (argon2id, lockout) belong to the cardholders'
// portal and are not here.

// UserRegistry reads the registry's users (cluster.Registry).
type UserRegistry interface {
	// Users lists every user, by name.
	Users(ctx context.Context) ([]*ledgerv1.User, error)
	// UserByToken finds the user whose token has the SHA-256 tokenSHA256.
	UserByToken(ctx context.Context, tokenSHA256 []byte) (user *ledgerv1.User, found bool, err error)
}

// registryUsers authenticates tokens against the registry's users: one
// read at the registry's leader per call, so a revocation holds from the
// moment it is committed.
type registryUsers struct {
	reg UserRegistry
	now func() time.Time
}

var _ Authenticator = registryUsers{}

func (u registryUsers) Authenticate(ctx context.Context, token string) (Principal, bool, error) {
	hash := sha256.Sum256([]byte(token))
	rec, found, err := u.reg.UserByToken(ctx, hash[:])
	if err != nil {
		return Principal{}, false, err
	}
	if !found || rec.GetRevoked() {
		return Principal{}, false, nil
	}
	if exp := rec.GetExpiresUnixMs(); exp != 0 && u.now().UnixMilli() >= exp {
		return Principal{}, false, nil
	}
	role, err := ParseRole(rec.GetRole())
	if err != nil {
		// A role this gateway does not know (a newer gateway added it)
		// grants nothing here.
		return Principal{}, false, nil
	}
	return Principal{Name: rec.GetName(), Role: role, Scope: rec.GetScope()}, true, nil
}

// Bounds of a user, within the ledger's.
const (
	userNameBytesMax  = 32
	userScopeBytesMax = 64
)

// users returns the registry to write users to and read them from.
func (s adminService) users() (RegistryAdmin, UserRegistry, error) {
	if s.gw.cfg.RegistryAdmin == nil || s.gw.cfg.UserRegistry == nil {
		return nil, nil, connect.NewError(connect.CodeUnimplemented, errors.New("this node has no ledger: ask a node that has one"))
	}
	return s.gw.cfg.RegistryAdmin, s.gw.cfg.UserRegistry, nil
}

// auditOf is the audit record of a change the authenticated principal in
// ctx asks for: who comes from the credential, never from the request.
func (s adminService) auditOf(ctx context.Context, requestID, reason string) (*civicardv1.Audit, error) {
	p, ok := principalFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("no authenticated principal"))
	}
	if err := validateRequestID(requestID); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, invalid("reason is required, for the audit trail")
	}
	if err := validateText("reason", reason, registryTextBytesMax); err != nil {
		return nil, err
	}
	return &civicardv1.Audit{Actor: "operator/" + p.Actor(), Reason: reason, TimeUnixMs: s.gw.cfg.Now().UnixMilli()}, nil
}

func (s adminService) AddUser(ctx context.Context, req *connect.Request[civicardv1.AddUserRequest]) (*connect.Response[civicardv1.AddUserResponse], error) {
	registry, _, err := s.users()
	if err != nil {
		return nil, err
	}
	m := req.Msg
	a, err := s.auditOf(ctx, m.GetRequestId(), m.GetReason())
	if err != nil {
		return nil, err
	}
	if err := validateID("name", m.GetName()); err != nil {
		return nil, err
	}
	if len(m.GetName()) > userNameBytesMax {
		return nil, invalid("name longer than %d bytes", userNameBytesMax)
	}
	role, err := ParseRole(m.GetRole())
	if err != nil {
		return nil, invalid("role: %v", err)
	}
	switch scoped := role.scopeField() != ""; {
	case scoped && m.GetScope() == "":
		return nil, invalid("role %s needs a scope: its %s", role, role.scopeField())
	case !scoped && m.GetScope() != "":
		return nil, invalid("role %s takes no scope", role)
	case scoped:
		if err := validateID("scope", m.GetScope()); err != nil {
			return nil, err
		}
		if len(m.GetScope()) > userScopeBytesMax {
			return nil, invalid("scope longer than %d bytes", userScopeBytesMax)
		}
	}
	if n := len(m.GetTokenSha256()); n != sha256.Size {
		return nil, invalid("token_sha256 is %d bytes, a SHA-256 %d", n, sha256.Size)
	}
	if exp := m.GetExpiresUnixMs(); exp < 0 || (exp != 0 && exp <= s.gw.cfg.Now().UnixMilli()) {
		return nil, invalid("expires_unix_ms %d is not in the future (0: never)", exp)
	}
	rec := &ledgerv1.User{
		Name: m.GetName(), Role: string(role), Scope: m.GetScope(), TokenSha256: m.GetTokenSha256(),
		ExpiresUnixMs: m.GetExpiresUnixMs(), Added: a,
	}
	res, err := registry.Propose(ctx, &ledgerv1.Command{
		Id:   "user/" + m.GetRequestId(),
		Kind: &ledgerv1.Command_AddUser{AddUser: &ledgerv1.AddUser{User: rec}},
	})
	if err := proposed(res, err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.AddUserResponse{User: userInfo(rec), Replayed: res.GetReplayed()}), nil
}

func (s adminService) RevokeUser(ctx context.Context, req *connect.Request[civicardv1.RevokeUserRequest]) (*connect.Response[civicardv1.RevokeUserResponse], error) {
	registry, _, err := s.users()
	if err != nil {
		return nil, err
	}
	m := req.Msg
	a, err := s.auditOf(ctx, m.GetRequestId(), m.GetReason())
	if err != nil {
		return nil, err
	}
	if err := validateID("name", m.GetName()); err != nil {
		return nil, err
	}
	res, err := registry.Propose(ctx, &ledgerv1.Command{
		Id:   "user-revoke/" + m.GetRequestId(),
		Kind: &ledgerv1.Command_RevokeUser{RevokeUser: &ledgerv1.RevokeUser{Name: m.GetName(), Audit: a}},
	})
	if err := proposed(res, err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&civicardv1.RevokeUserResponse{Replayed: res.GetReplayed()}), nil
}

func (s adminService) ListUsers(ctx context.Context, _ *connect.Request[civicardv1.ListUsersRequest]) (*connect.Response[civicardv1.ListUsersResponse], error) {
	_, users, err := s.users()
	if err != nil {
		return nil, err
	}
	list, err := users.Users(ctx)
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("the registry did not answer, retry: %w", err))
	}
	out := &civicardv1.ListUsersResponse{Users: make([]*civicardv1.UserInfo, 0, len(list))}
	for _, u := range list {
		out.Users = append(out.Users, userInfo(u))
	}
	return connect.NewResponse(out), nil
}

func userInfo(u *ledgerv1.User) *civicardv1.UserInfo {
	return &civicardv1.UserInfo{
		Name: u.GetName(), Role: u.GetRole(), Scope: u.GetScope(), ExpiresUnixMs: u.GetExpiresUnixMs(),
		Revoked: u.GetRevoked(), Added: u.GetAdded(), RevokedBy: u.GetRevokedBy(),
	}
}
