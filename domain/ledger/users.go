package ledger

import (
	"cmp"
	"fmt"
	"slices"

	ledgerv1 "civicard/messages/ledger/v1"

	"google.golang.org/protobuf/proto"
)

// The API's users live in the registry: a name, a role and its scope, and
// the SHA-256 of an API token. The ledger keeps them to their bounds and
// keeps names and token hashes unique; what a role may do is the gateway's
// (gateway/roles.go). A revoked user stays, so that its name is never
// given to someone else and the audit trail's names stay unambiguous.

// Bounds of a user record.
const (
	usersMax          = 10_000
	userNameBytesMax  = 32
	userRoleBytesMax  = 32
	userScopeBytesMax = 64
	tokenSHA256Bytes  = 32
)

// userState is the registry's users. The zero value is empty.
type userState struct {
	// byName holds each user; a record is replaced, never mutated.
	byName map[string]*ledgerv1.User
	// byToken maps a token hash (as a string) to its user's name.
	// Invariant: byToken[string(u.TokenSha256)] == u.Name for every user.
	byToken map[string]string
}

func (u *userState) put(rec *ledgerv1.User) {
	if u.byName == nil {
		u.byName, u.byToken = make(map[string]*ledgerv1.User), make(map[string]string)
	}
	u.byName[rec.GetName()] = rec
	u.byToken[string(rec.GetTokenSha256())] = rec.GetName()
}

// checkUser checks a user record's bounds (not its uniqueness).
func checkUser(rec *ledgerv1.User) error {
	if rec == nil {
		return fmt.Errorf("user is missing")
	}
	if err := checkID("user name", rec.GetName(), userNameBytesMax); err != nil {
		return err
	}
	if err := checkID("user role", rec.GetRole(), userRoleBytesMax); err != nil {
		return err
	}
	if err := checkText("user scope", rec.GetScope(), userScopeBytesMax, false); err != nil {
		return err
	}
	if n := len(rec.GetTokenSha256()); n != tokenSHA256Bytes {
		return fmt.Errorf("user %s: token hash is %d bytes, not %d", clip(rec.GetName()), n, tokenSHA256Bytes)
	}
	if rec.GetExpiresUnixMs() < 0 {
		return fmt.Errorf("user %s: expiry before 1970", clip(rec.GetName()))
	}
	if err := checkAudit(rec.GetAdded(), true); err != nil {
		return err
	}
	if rec.GetRevoked() {
		return checkAudit(rec.GetRevokedBy(), true)
	}
	if rec.GetRevokedBy() != nil {
		return fmt.Errorf("user %s: revoked by someone but not revoked", clip(rec.GetName()))
	}
	return nil
}

// checkID accepts printable ASCII without spaces, 1 to bytesMax bytes.
func checkID(field, s string, bytesMax int) error {
	if err := checkText(field, s, bytesMax, true); err != nil {
		return err
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("%s %s: printable ASCII without spaces only", field, clip(s))
		}
	}
	return nil
}

func (s *State) addUser(cmd *ledgerv1.AddUser) *ledgerv1.Result {
	rec := cmd.GetUser()
	if err := checkUser(rec); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if rec.GetRevoked() {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "user %s: a new user cannot be revoked", clip(rec.GetName()))
	}
	if _, ok := s.users.byName[rec.GetName()]; ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "user %s already exists", clip(rec.GetName()))
	}
	if _, ok := s.users.byToken[string(rec.GetTokenSha256())]; ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_ALREADY_EXISTS, "user %s: another user holds this token", clip(rec.GetName()))
	}
	if len(s.users.byName) >= usersMax {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "already %d users, the most the registry keeps", usersMax)
	}
	s.users.put(proto.CloneOf(rec))
	return okResult()
}

// revokeUser refuses a user's token from now on. Revoking a revoked user
// is fine and changes nothing.
func (s *State) revokeUser(cmd *ledgerv1.RevokeUser) *ledgerv1.Result {
	name := cmd.GetName()
	if err := checkID("user name", name, userNameBytesMax); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	if err := checkAudit(cmd.GetAudit(), true); err != nil {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_INVALID, "%v", err)
	}
	u, ok := s.users.byName[name]
	if !ok {
		return rejected(ledgerv1.RejectReason_REJECT_REASON_NOT_FOUND, "user %s not found", clip(name))
	}
	if u.GetRevoked() {
		return okResult()
	}
	next := proto.CloneOf(u)
	next.Revoked = true
	next.RevokedBy = proto.CloneOf(cmd.GetAudit())
	s.users.put(next)
	return okResult()
}

// Users returns every user, by name. The records are shared with the
// ledger: never mutate them.
func (s *State) Users() []*ledgerv1.User {
	return s.users.sorted()
}

func (u *userState) sorted() []*ledgerv1.User {
	out := make([]*ledgerv1.User, 0, len(u.byName))
	for _, rec := range u.byName {
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b *ledgerv1.User) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out
}

// UserByToken returns the user whose token has the SHA-256 tokenSHA256,
// revoked or not (the caller decides: it also knows the time). The record
// is shared with the ledger: never mutate it.
func (s *State) UserByToken(tokenSHA256 []byte) (*ledgerv1.User, bool) {
	name, ok := s.users.byToken[string(tokenSHA256)]
	if !ok {
		return nil, false
	}
	return s.users.byName[name], true
}

func (s *State) restoreUser(rec *ledgerv1.User) error {
	if err := checkUser(rec); err != nil {
		return err
	}
	if _, ok := s.users.byToken[string(rec.GetTokenSha256())]; ok {
		return fmt.Errorf("user %s: another user holds its token", clip(rec.GetName()))
	}
	if len(s.users.byName) >= usersMax {
		return fmt.Errorf("more than %d users", usersMax)
	}
	s.users.put(rec)
	return nil
}
