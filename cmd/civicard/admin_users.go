package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"

	"civicard/gateway"
	civicardv1 "civicard/messages/civicard/v1"
)

// The users of the API: `civicard admin users add|revoke|list`. The token
// of a new user is made here and printed once; the registry keeps its
// SHA-256 only, so a lost token is replaced by revoking the user and
// adding a new one.

// tokenBytes is the randomness of an API token.
const tokenBytes = 32

func runAdminUsers(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("admin users: want add, revoke or list")
	}
	switch args[0] {
	case "add":
		return runAdminUsersAdd(ctx, args[1:], stdout)
	case "revoke":
		return runAdminUsersRevoke(ctx, args[1:], stdout)
	case "list":
		return runAdminUsersList(ctx, args[1:], stdout)
	}
	return usagef("admin users: want add, revoke or list, not %q", args[0])
}

func runAdminUsersAdd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, reg := addRegistryFlags("admin users add")
	name := fs.String("name", "", "the user's name, unique and never reused (required)")
	role := fs.String("role", "", fmt.Sprintf("the user's role, one of %v (required)", gateway.Roles()))
	institution := fs.String("institution", "", "the institution an institution role is held to")
	card := fs.String("card", "", "the card a cardholder is held to")
	expiresIn := fs.Duration("expires-in", 365*24*time.Hour, "how long the token works (0: until revoked)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	r, err := gateway.ParseRole(*role)
	if *name == "" || err != nil {
		return usagef("admin users add: --name and --role (%v) are required", gateway.Roles())
	}
	scope := *institution
	switch r {
	case gateway.RoleCardholder:
		scope = *card
	case gateway.RoleInstitutionManager, gateway.RoleInstitutionCashier:
	default:
		if *institution != "" || *card != "" {
			return usagef("admin users add: role %s takes no --institution or --card", r)
		}
	}
	if *expiresIn < 0 {
		return usagef("admin users add: --expires-in must not be negative")
	}
	if *reg.reason == "" {
		*reg.reason = "new user " + *name
	}
	buf := make([]byte, tokenBytes)
	_, _ = rand.Read(buf) // never fails (crypto/rand)
	token := base64.RawURLEncoding.EncodeToString(buf)
	hash := sha256.Sum256([]byte(token))
	var expires int64
	if *expiresIn > 0 {
		expires = time.Now().Add(*expiresIn).UnixMilli()
	}
	api, err := reg.api()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := api.AddUser(ctx, connect.NewRequest(&civicardv1.AddUserRequest{
		Name: *name, Role: string(r), Scope: scope, TokenSha256: hash[:], ExpiresUnixMs: expires,
		RequestId: reg.id(), Reason: *reg.reason,
	}))
	if err != nil {
		return err
	}
	if res.Msg.GetReplayed() {
		// A retry under an earlier request id: the token printed then is
		// the one the registry holds, not this one.
		fmt.Fprintf(stdout, "user %s was already added under this request id: its token is the one printed then\n", *name)
		return nil
	}
	fmt.Fprintf(stdout, "user %s added (%s%s); its token, shown this once (send it as Authorization: Bearer, or --token):\n%s\n",
		*name, r, scopeNote(scope), token)
	return nil
}

func scopeNote(scope string) string {
	if scope == "" {
		return ""
	}
	return " of " + scope
}

func runAdminUsersRevoke(ctx context.Context, args []string, stdout io.Writer) error {
	fs, reg := addRegistryFlags("admin users revoke")
	positional, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *reg.reason == "" {
		return usagef("admin users revoke NAME: --reason is required (a revocation cannot be undone)")
	}
	api, err := reg.api()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := api.RevokeUser(ctx, connect.NewRequest(&civicardv1.RevokeUserRequest{Name: positional[0], RequestId: reg.id(), Reason: *reg.reason}))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s revoked%s: its token is refused from now on\n", positional[0], replayedNote(res.Msg.GetReplayed()))
	return nil
}

func runAdminUsersList(ctx context.Context, args []string, stdout io.Writer) error {
	fs, reg := addRegistryFlags("admin users list")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	api, err := reg.api()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := api.ListUsers(ctx, connect.NewRequest(&civicardv1.ListUsersRequest{}))
	if err != nil {
		return err
	}
	if done, err := reg.client.printJSON(stdout, res.Msg); done {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSCOPE\tEXPIRES\tSTATE\tADDED BY")
	for _, u := range res.Msg.GetUsers() {
		expires, state := "never", "active"
		if ms := u.GetExpiresUnixMs(); ms != 0 {
			expires = time.UnixMilli(ms).UTC().Format(time.RFC3339)
		}
		if u.GetRevoked() {
			state = "revoked by " + u.GetRevokedBy().GetActor()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.GetName(), u.GetRole(), u.GetScope(), expires, state, u.GetAdded().GetActor())
	}
	return tw.Flush()
}
