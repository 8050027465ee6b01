package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	civicardv1 "civicard/messages/civicard/v1"
)

const bootstrapToken = "operator-token-0123456789"

// fakeUsers authenticates the tokens it holds.
type fakeUsers map[string]Principal

func (f fakeUsers) Authenticate(_ context.Context, token string) (Principal, bool, error) {
	p, ok := f[token]
	return p, ok, nil
}

// The scopes the test's scoped users hold.
const (
	ownInstitution = "inst-own"
	ownCard        = "card-own"
)

// testUsers has one user per role, its token the role's name.
func testUsers() fakeUsers {
	users := fakeUsers{}
	for _, r := range Roles() {
		p := Principal{Name: "u-" + string(r), Role: r}
		switch r.scopeField() {
		case "institution_id":
			p.Scope = ownInstitution
		case "card_id":
			p.Scope = ownCard
		}
		users["token-"+string(r)] = p
	}
	return users
}

func testGateway(t *testing.T, users Authenticator) *Gateway {
	t.Helper()
	cfg := DefaultConfig()
	cfg.OperatorToken = bootstrapToken
	cfg.Users = users
	cfg.Ready = func() error { return nil }
	cfg.Describe = func(bool) *civicardv1.GetNodeResponse { return &civicardv1.GetNodeResponse{} }
	cfg.Registry = prometheus.NewRegistry()
	return testGatewayWith(t, cfg)
}

func testGatewayWith(t *testing.T, cfg Config) *Gateway {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	g, err := New(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// reached stops a call that passed the authorisation, before any service
// (there is no cluster behind the test's gateway), and keeps its request.
type reached struct{ last proto.Message }

func (s *reached) WrapUnary(connect.UnaryFunc) connect.UnaryFunc {
	return func(_ context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		s.last, _ = req.Any().(proto.Message)
		return nil, connect.NewError(connect.CodeAborted, errors.New("reached"))
	}
}
func (s *reached) WrapStreamingClient(n connect.StreamingClientFunc) connect.StreamingClientFunc {
	return n
}
func (s *reached) WrapStreamingHandler(n connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return n
}

// served lists every procedure of the gateway's services, from the
// generated descriptors.
func served(t *testing.T) []protoreflect.MethodDescriptor {
	t.Helper()
	var out []protoreflect.MethodDescriptor
	for _, f := range []protoreflect.FileDescriptor{civicardv1.File_civicard_v1_api_proto, civicardv1.File_civicard_v1_admin_proto, civicardv1.File_civicard_v1_settlement_proto} {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				out = append(out, s.Methods().Get(j))
			}
		}
	}
	if len(out) < 30 {
		t.Fatalf("found %d procedures: the walk of the descriptors is broken", len(out))
	}
	return out
}

func procedureOf(m protoreflect.MethodDescriptor) string {
	return "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
}

// readRoleTable reads testdata/roles.txt: procedure -> roles, or
// {"terminal"}.
func readRoleTable(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("testdata/roles.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		out["/"+fields[0]] = fields[1:]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// call posts msg to procedure with the token (none if "") over Connect/JSON
// and returns the Connect code of the answer ("" for success).
func call(t *testing.T, h http.Handler, procedure, token string, msg proto.Message) string {
	t.Helper()
	body, err := protojson.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, procedure, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connect-Protocol-Version", "1")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		return ""
	}
	raw, _ := io.ReadAll(rec.Body)
	var e struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%s: HTTP %d, body %q", procedure, rec.Code, raw)
	}
	return e.Code
}

// request returns an empty request of m with its scope field (if any) set
// to scope.
func request(t *testing.T, m protoreflect.MethodDescriptor, field protoreflect.Name, scope string) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(m.Input().FullName())
	if err != nil {
		t.Fatal(err)
	}
	msg := mt.New()
	if fd := msg.Descriptor().Fields().ByName("reason"); fd != nil && fd.Kind() == protoreflect.StringKind {
		msg.Set(fd, protoreflect.ValueOfString("a reason"))
	}
	if fd := msg.Descriptor().Fields().ByName(field); field != "" && fd != nil && fd.Kind() == protoreflect.StringKind {
		msg.Set(fd, protoreflect.ValueOfString(scope))
	}
	return msg.Interface()
}

// TestRoleTable walks every procedure of every service the gateway serves,
// checks that the gateway's table says what testdata/roles.txt says (a new
// procedure without a row in both fails), and calls each as every role,
// without a credential and with a wrong one, through the real HTTP handler:
// a role reaches the service only where the table allows it, a scoped role
// only within its scope.
func TestRoleTable(t *testing.T) {
	want := readRoleTable(t)
	rules := procedureRules()
	stop := &reached{}
	h := testGateway(t, testUsers()).handler(stop)
	seen := map[string]bool{}
	for _, m := range served(t) {
		procedure := procedureOf(m)
		seen[procedure] = true
		t.Run(strings.TrimPrefix(procedure, "/civicard.v1."), func(t *testing.T) {
			r, ok := rules[procedure]
			if !ok {
				t.Fatalf("%s has no row in procedureRules", procedure)
			}
			rows, ok := want[procedure]
			if !ok {
				t.Fatalf("%s has no row in testdata/roles.txt", procedure)
			}
			var got []string
			if r.terminal {
				got = append(got, "terminal")
			}
			for _, role := range r.roles {
				got = append(got, string(role))
			}
			if !slices.Equal(got, rows) {
				t.Fatalf("procedureRules says %v, testdata/roles.txt %v", got, rows)
			}
			if r.terminal {
				// A terminal's call goes to its grain, which checks the
				// terminal's own credential.
				if code := call(t, h, procedure, "", request(t, m, "", "")); code != "aborted" {
					t.Fatalf("terminal call: %q, want it to reach the service", code)
				}
				return
			}
			for token, wantCode := range map[string]string{"": "unauthenticated", "not-a-token-of-anyone": "unauthenticated"} {
				if code := call(t, h, procedure, token, request(t, m, "", "")); code != wantCode {
					t.Errorf("credential %q: %q, want %q", token, code, wantCode)
				}
			}
			for token, p := range testUsers() {
				field := p.Role.scopeField()
				allowed := slices.Contains(r.roles, p.Role)
				if field != "" && allowed && m.Input().Fields().ByName(field) == nil {
					t.Fatalf("%s is allowed to scoped role %s, but the request has no %s", procedure, p.Role, field)
				}
				wantCode := "permission_denied"
				if allowed {
					wantCode = "aborted"
				}
				if code := call(t, h, procedure, token, request(t, m, field, p.Scope)); code != wantCode {
					t.Errorf("as %s within its scope: %q, want %q", p.Role, code, wantCode)
				}
				if field != "" {
					if code := call(t, h, procedure, token, request(t, m, field, "someone-else")); code != "permission_denied" {
						t.Errorf("as %s outside its scope: %q, want permission_denied", p.Role, code)
					}
				}
			}
			// An irreversible change needs a reason.
			if r.irreversible {
				if m.Input().Fields().ByName("reason") == nil {
					t.Fatalf("%s is irreversible but its request has no reason", procedure)
				}
				if code := call(t, h, procedure, bootstrapToken, requestWithout(t, m, "reason")); code != "invalid_argument" {
					t.Errorf("without a reason: %q, want invalid_argument", code)
				}
			}
			// The bootstrap token is an operator admin.
			wantCode := "permission_denied"
			if slices.Contains(r.roles, RoleOperatorAdmin) {
				wantCode = "aborted"
			}
			if code := call(t, h, procedure, bootstrapToken, request(t, m, "", "")); code != wantCode {
				t.Errorf("with the operator token: %q, want %q", code, wantCode)
			}
		})
	}
	for procedure := range rules {
		if !seen[procedure] {
			t.Errorf("procedureRules has a row for %s, which no service serves", procedure)
		}
	}
	for procedure := range want {
		if !seen[procedure] {
			t.Errorf("testdata/roles.txt has a row for %s, which no service serves", procedure)
		}
	}
}

// requestWithout is an empty request of m, field cleared.
func requestWithout(t *testing.T, m protoreflect.MethodDescriptor, field protoreflect.Name) proto.Message {
	msg := request(t, m, "", "").ProtoReflect()
	if fd := msg.Descriptor().Fields().ByName(field); fd != nil {
		msg.Clear(fd)
	}
	return msg.Interface()
}

// TestRoleTableInvariants checks what the table must say whatever rows are
// added: the auditor only reads, and irreversible changes are the operator
// admin's only.
func TestRoleTableInvariants(t *testing.T) {
	reads := []string{"Get", "List", "Show", "Reconcile"}
	irreversible := []string{"CloseCard", "RevokeTerminal", "CloseCycle", "RemoveNode", "RegisterInstitution", "SetPriceList", "SetRegion", "AddUser", "RevokeUser"}
	for procedure, r := range procedureRules() {
		name := procedure[strings.LastIndex(procedure, "/")+1:]
		isRead := slices.ContainsFunc(reads, func(p string) bool { return strings.HasPrefix(name, p) })
		if slices.Contains(r.roles, RoleAuditor) && !isRead {
			t.Errorf("%s: the auditor may call a change", procedure)
		}
		if slices.Contains(irreversible, name) && !slices.Equal(r.roles, []Role{RoleOperatorAdmin}) {
			t.Errorf("%s is irreversible, allowed to %v", procedure, r.roles)
		}
		mustGiveReason := []string{"Block", "CloseCard", "ReplaceCard", "RevokeTerminal", "RevokeUser"}
		if slices.Contains(mustGiveReason, name) != r.irreversible {
			t.Errorf("%s: irreversible %v, want %v", procedure, r.irreversible, !r.irreversible)
		}
		if r.terminal && len(r.roles) > 0 {
			t.Errorf("%s: a terminal procedure names user roles %v", procedure, r.roles)
		}
	}
}

// The audit names the authenticated principal: whatever the request's
// operator field says, the service sees the principal's name and role.
func TestOperatorFieldIsThePrincipal(t *testing.T) {
	stop := &reached{}
	h := testGateway(t, testUsers()).handler(stop)
	for _, tc := range []struct {
		token string
		want  string
	}{
		{bootstrapToken, bootstrapName + ":operator-admin"},
		{"token-operator-support", "u-operator-support:operator-support"},
	} {
		msg := &civicardv1.BlockRequest{CardId: "card-1", RequestId: "r1", Reason: "lost", Operator: "mayor-of-katowice"}
		if code := call(t, h, "/civicard.v1.CardService/Block", tc.token, msg); code != "aborted" {
			t.Fatalf("Block: %q", code)
		}
		got, ok := stop.last.(*civicardv1.BlockRequest)
		if !ok || got.GetOperator() != tc.want {
			t.Fatalf("the service saw operator %q, want %q", got.GetOperator(), tc.want)
		}
	}
}

// A failure to read the users is UNAVAILABLE, not a refusal.
func TestUsersUnreadable(t *testing.T) {
	h := testGateway(t, brokenUsers{}).handler(&reached{})
	if code := call(t, h, "/civicard.v1.CardService/GetCard", "some-token", &civicardv1.GetCardRequest{CardId: "c"}); code != "unavailable" {
		t.Fatalf("code %q, want unavailable", code)
	}
	// The operator token works without the users.
	if code := call(t, h, "/civicard.v1.CardService/GetCard", bootstrapToken, &civicardv1.GetCardRequest{CardId: "c"}); code != "aborted" {
		t.Fatalf("operator token: code %q, want the call to reach the service", code)
	}
}

type brokenUsers struct{}

func (brokenUsers) Authenticate(context.Context, string) (Principal, bool, error) {
	return Principal{}, false, fmt.Errorf("no leader")
}
