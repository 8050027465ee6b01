package ledger_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"google.golang.org/protobuf/proto"

	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"
)

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

var userAudit = &civicardv1.Audit{Actor: "operator/root:operator-admin", Reason: "new staff", TimeUnixMs: 1_700_000_000_000}

func cmdAddUser(id, name, role, scope, token string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_AddUser{AddUser: &ledgerv1.AddUser{User: &ledgerv1.User{
		Name: name, Role: role, Scope: scope, TokenSha256: tokenHash(token), Added: userAudit,
	}}}}
}

func cmdRevokeUser(id, name string) *ledgerv1.Command {
	return &ledgerv1.Command{Id: id, Kind: &ledgerv1.Command_RevokeUser{RevokeUser: &ledgerv1.RevokeUser{Name: name, Audit: userAudit}}}
}

// Users are added once by name and token, found by their token's hash,
// revoked for good, and kept across a snapshot.
func TestUsers(t *testing.T) {
	s := newState(t, ledger.DefaultConfig())
	mustApply(t, s,
		cmdAddUser("u/1", "jk", "operator-admin", "", "token-jk"),
		cmdAddUser("u/2", "ewa", "institution-manager", "MPK", "token-ewa"),
	)
	for _, tc := range []struct {
		name   string
		cmd    *ledgerv1.Command
		reason ledgerv1.RejectReason
	}{
		{"name taken", cmdAddUser("u/3", "jk", "auditor", "", "token-other"), ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS},
		{"token taken", cmdAddUser("u/4", "ola", "auditor", "", "token-jk"), ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS},
		{"name with a space", cmdAddUser("u/5", "j k", "auditor", "", "token-5"), ledgerv1.RejectReason_REJECT_REASON_INVALID},
		{"no role", cmdAddUser("u/6", "ola", "", "", "token-6"), ledgerv1.RejectReason_REJECT_REASON_INVALID},
		{"short hash", func() *ledgerv1.Command {
			c := cmdAddUser("u/7", "ola", "auditor", "", "token-7")
			c.GetAddUser().User.TokenSha256 = []byte{1, 2}
			return c
		}(), ledgerv1.RejectReason_REJECT_REASON_INVALID},
		{"no audit", func() *ledgerv1.Command {
			c := cmdAddUser("u/8", "ola", "auditor", "", "token-8")
			c.GetAddUser().User.Added = nil
			return c
		}(), ledgerv1.RejectReason_REJECT_REASON_INVALID},
		{"revoke unknown", cmdRevokeUser("r/1", "nobody"), ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND},
	} {
		res := s.Apply(tc.cmd)
		if res.GetStatus() != ledgerv1.Status_STATUS_REJECTED || res.GetRejectReason() != tc.reason {
			t.Errorf("%s: %v %v %s, want rejected %v", tc.name, res.GetStatus(), res.GetRejectReason(), res.GetError(), tc.reason)
		}
	}
	u, ok := s.UserByToken(tokenHash("token-ewa"))
	if !ok || u.GetName() != "ewa" || u.GetScope() != "MPK" || u.GetRevoked() {
		t.Fatalf("by token: %v, %v", u, ok)
	}
	if _, ok := s.UserByToken(tokenHash("token-nobody")); ok {
		t.Fatal("an unknown token found a user")
	}
	mustApply(t, s, cmdRevokeUser("r/2", "ewa"), cmdRevokeUser("r/3", "ewa"))
	if u, _ := s.UserByToken(tokenHash("token-ewa")); !u.GetRevoked() || u.GetRevokedBy().GetReason() != "new staff" {
		t.Fatalf("revoked: %v", u)
	}
	// A revoked user keeps its name.
	if res := s.Apply(cmdAddUser("u/9", "ewa", "auditor", "", "token-ewa2")); res.GetRejectReason() != ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS {
		t.Fatalf("re-adding a revoked name: %v", res)
	}

	list, err := s.Answer(&replicationv1.Query{Kind: &replicationv1.Query_Users{Users: true}})
	if err != nil || len(list.GetUsers().GetUsers()) != 2 || list.GetUsers().GetUsers()[0].GetName() != "ewa" {
		t.Fatalf("users query: %v, %v", list, err)
	}
	one, err := s.Answer(&replicationv1.Query{Kind: &replicationv1.Query_UserTokenSha256{UserTokenSha256: tokenHash("token-jk")}})
	if err != nil || !one.GetFound() || one.GetUser().GetName() != "jk" {
		t.Fatalf("user by token query: %v, %v", one, err)
	}

	data := snapshotBytes(t, s)
	r, err := ledger.Restore(ledger.DefaultConfig(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if digest(r) != digest(s) || !bytes.Equal(snapshotBytes(t, r), data) {
		t.Fatal("the restored ledger writes other bytes")
	}
	if len(r.Users()) != len(s.Users()) {
		t.Fatalf("restored %d users, want %d", len(r.Users()), len(s.Users()))
	}
	for i, u := range s.Users() {
		if !proto.Equal(u, r.Users()[i]) {
			t.Fatalf("restored user %v, want %v", r.Users()[i], u)
		}
	}
	if u, ok := r.UserByToken(tokenHash("token-jk")); !ok || u.GetName() != "jk" {
		t.Fatalf("restored by token: %v, %v", u, ok)
	}
}
