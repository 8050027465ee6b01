package gateway

import (
	"context"
	"crypto/sha256"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	ledgerv1 "civicard/messages/ledger/v1"
)

// ledgerRegistry is a registry backed by the real ledger state machine.
type ledgerRegistry struct{ s *ledger.State }

func (r ledgerRegistry) Propose(_ context.Context, cmd *ledgerv1.Command) (*ledgerv1.Result, error) {
	return r.s.Apply(cmd), nil
}
func (r ledgerRegistry) Tariff(context.Context, string) (*ledgerv1.TariffRecords, error) {
	return &ledgerv1.TariffRecords{}, nil
}
func (r ledgerRegistry) Institution(context.Context, string) (*civicardv1.Institution, bool, error) {
	return nil, false, nil
}
func (r ledgerRegistry) Users(context.Context) ([]*ledgerv1.User, error) { return r.s.Users(), nil }
func (r ledgerRegistry) UserByToken(_ context.Context, h []byte) (*ledgerv1.User, bool, error) {
	u, ok := r.s.UserByToken(h)
	return u, ok, nil
}

func withToken[T any](msg *T, token string) *connect.Request[T] {
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+token)
	return req
}

func hashOf(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// A user added with the operator token authenticates with its own token,
// in its role only, until it is revoked or its token expires; the audit
// names who added and who revoked it from their credentials.
func TestUsersThroughTheRegistry(t *testing.T) {
	state, err := ledger.New(ledger.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	reg := ledgerRegistry{state}
	now := time.UnixMilli(1_700_000_000_000)
	cfg := DefaultConfig()
	cfg.OperatorToken = bootstrapToken
	cfg.Ready = func() error { return nil }
	cfg.Describe = func(bool) *civicardv1.GetNodeResponse { return &civicardv1.GetNodeResponse{} }
	cfg.Registry = nil
	cfg.RegistryAdmin, cfg.UserRegistry = reg, reg
	cfg.Now = func() time.Time { return now }
	g := testGatewayWith(t, cfg)
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	admin := civicardv1connect.NewAdminServiceClient(srv.Client(), srv.URL)
	ctx := context.Background()

	const auditorToken, adminToken = "auditor-token-0123456789abcdef", "admin-token-0123456789abcdef"
	if _, err := admin.AddUser(ctx, withToken(&civicardv1.AddUserRequest{
		Name: "ola", Role: "auditor", TokenSha256: hashOf(auditorToken), ExpiresUnixMs: now.Add(time.Hour).UnixMilli(), RequestId: "u1", Reason: "yearly audit",
	}, bootstrapToken)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddUser(ctx, withToken(&civicardv1.AddUserRequest{
		Name: "jk", Role: "operator-admin", TokenSha256: hashOf(adminToken), RequestId: "u2", Reason: "new admin",
	}, bootstrapToken)); err != nil {
		t.Fatal(err)
	}
	// Refused before the registry: a scoped role without its scope, an
	// unknown role, a missing reason.
	for _, bad := range []*civicardv1.AddUserRequest{
		{Name: "ewa", Role: "institution-manager", TokenSha256: hashOf("x"), RequestId: "u3", Reason: "r"},
		{Name: "ewa", Role: "mayor", TokenSha256: hashOf("x"), RequestId: "u4", Reason: "r"},
		{Name: "ewa", Role: "auditor", TokenSha256: hashOf("x"), RequestId: "u5"},
	} {
		if _, err := admin.AddUser(ctx, withToken(bad, bootstrapToken)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("AddUser %v: %v, want invalid", bad, err)
		}
	}

	// The auditor reads the users and may not add one.
	list, err := admin.ListUsers(ctx, withToken(&civicardv1.ListUsersRequest{}, auditorToken))
	if err != nil {
		t.Fatal(err)
	}
	if us := list.Msg.GetUsers(); len(us) != 2 || us[1].GetName() != "ola" || us[1].GetAdded().GetActor() != "operator/operator-token:operator-admin" {
		t.Fatalf("users %v", us)
	}
	if _, err := admin.AddUser(ctx, withToken(&civicardv1.AddUserRequest{Name: "x", Role: "auditor", TokenSha256: hashOf("y"), RequestId: "u6", Reason: "r"}, auditorToken)); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("auditor adds a user: %v", err)
	}

	// jk revokes the auditor; the audit names jk, and the token is dead.
	if _, err := admin.RevokeUser(ctx, withToken(&civicardv1.RevokeUserRequest{Name: "ola", RequestId: "r1"}, adminToken)); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("revoke without a reason: %v", err)
	}
	if _, err := admin.RevokeUser(ctx, withToken(&civicardv1.RevokeUserRequest{Name: "ola", RequestId: "r2", Reason: "audit done"}, adminToken)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ListUsers(ctx, withToken(&civicardv1.ListUsersRequest{}, auditorToken)); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("revoked token: %v", err)
	}
	u, _ := state.UserByToken(hashOf(auditorToken))
	if by := u.GetRevokedBy(); by.GetActor() != "operator/jk:operator-admin" || by.GetReason() != "audit done" {
		t.Fatalf("revoked by %v", by)
	}

	// An expired token is refused.
	if _, err := admin.AddUser(ctx, withToken(&civicardv1.AddUserRequest{
		Name: "tmp", Role: "auditor", TokenSha256: hashOf("tmp-token"), ExpiresUnixMs: now.Add(time.Minute).UnixMilli(), RequestId: "u7", Reason: "one minute",
	}, adminToken)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ListUsers(ctx, withToken(&civicardv1.ListUsersRequest{}, "tmp-token")); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := admin.ListUsers(ctx, withToken(&civicardv1.ListUsersRequest{}, "tmp-token")); connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
}
