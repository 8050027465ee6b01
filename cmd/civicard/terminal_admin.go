package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/terminals"
)

// runAdminTerminals runs `civicard admin terminals register|revoke`.
func runAdminTerminals(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "register" && args[0] != "revoke") {
		return usagef("admin terminals: want register or revoke")
	}
	fs := newFlags("admin terminals " + args[0])
	client := addClientFlags(fs)
	terminalID := fs.String("terminal", "", "terminal id (required)")
	publicKey := fs.String("public-key", "", "register: the terminal's ed25519 public key in hex (`civicard terminal keygen` prints it)")
	reason := fs.String("reason", "", "revoke: why, for the audit trail")
	requestID := fs.String("request-id", "", "idempotency key; reuse it to retry (default: random)")
	token := fs.String("token", "", "operator token (default: read from --data)")
	if _, err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	if *terminalID == "" {
		return usagef("admin terminals: --terminal is required")
	}
	if *requestID == "" {
		*requestID = newRequestID()
	}
	operator, err := client.operatorToken(*token)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	api := civicardv1connect.NewTerminalRegistryServiceClient(client.httpClient(), *client.addr, terminals.WithCredential(operator))
	var terminal *civicardv1.Terminal
	if args[0] == "register" {
		key, err := hex.DecodeString(*publicKey)
		if err != nil || len(key) != 32 {
			return usagef("admin terminals register: --public-key must be 32 bytes in hex")
		}
		res, err := api.RegisterTerminalKey(ctx, connect.NewRequest(&civicardv1.RegisterTerminalKeyRequest{TerminalId: *terminalID, PublicKey: key, RequestId: *requestID}))
		if err != nil {
			return err
		}
		terminal = res.Msg.GetTerminal()
	} else {
		res, err := api.RevokeTerminal(ctx, connect.NewRequest(&civicardv1.RevokeTerminalRequest{TerminalId: *terminalID, Reason: *reason, RequestId: *requestID}))
		if err != nil {
			return err
		}
		terminal = res.Msg.GetTerminal()
	}
	if done, err := client.printJSON(stdout, terminal); done {
		return err
	}
	state := "active"
	if terminal.GetRevoked() {
		state = "revoked"
	}
	fmt.Fprintf(stdout, "terminal %s of %s: %s, public key %x\n", terminal.GetTerminalId(), terminal.GetInstitutionId(), state, terminal.GetPublicKey())
	return nil
}
