package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"civicard/cluster"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/sim/demo"
	"civicard/terminals"
)

// callTimeout bounds one client command.
const callTimeout = 10 * time.Second

// clientFlags are the flags every client command shares.
type clientFlags struct {
	addr    *string
	dataDir *string
	json    *bool
}

func addClientFlags(fs *flag.FlagSet) clientFlags {
	return clientFlags{
		addr:    fs.String("addr", "http://127.0.0.1:8080", "the gateway"),
		dataDir: fs.String("data", "./data", "data directory of the local node, for its secrets"),
		json:    fs.Bool("json", false, "print the answer as JSON"),
	}
}

func (c clientFlags) httpClient() *http.Client {
	return &http.Client{Timeout: callTimeout}
}

// operatorToken returns the explicit token or the local node's.
func (c clientFlags) operatorToken(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	token, err := cluster.ReadSecret(*c.dataDir, cluster.OperatorTokenFile)
	if err != nil {
		return "", fmt.Errorf("operator token (give --token or --data): %w", err)
	}
	return token, nil
}

// terminalCredential returns the explicit credential or derives the demo
// terminal's from the local node's key.
func (c clientFlags) terminalCredential(explicit, terminalID string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	key, err := cluster.ReadSecret(*c.dataDir, cluster.CredentialKeyFile)
	if err != nil {
		return "", fmt.Errorf("terminal credential (give --credential or --data): %w", err)
	}
	return demo.Credential([]byte(key), terminalID), nil
}

// printJSON writes msg as indented JSON when --json was given and reports
// whether it did.
func (c clientFlags) printJSON(w io.Writer, msg proto.Message) (bool, error) {
	if !*c.json {
		return false, nil
	}
	out, err := protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(msg)
	if err != nil {
		return true, err
	}
	_, err = fmt.Fprintln(w, string(out))
	return true, err
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

// newRequestID returns a random idempotency key for an operation the user
// did not name.
func newRequestID() string {
	buf := make([]byte, 12)
	_, _ = rand.Read(buf) // never fails (crypto/rand)
	return "cli-" + hex.EncodeToString(buf)
}

// cardService is the CardService at --addr, called with the operator token
// (token, or the one in --data).
func (c clientFlags) cardService(token string) (civicardv1connect.CardServiceClient, error) {
	operatorToken, err := c.operatorToken(token)
	if err != nil {
		return nil, err
	}
	return civicardv1connect.NewCardServiceClient(c.httpClient(), *c.addr, terminals.WithCredential(operatorToken)), nil
}
