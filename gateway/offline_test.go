package gateway

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
)

// UploadOfflineTaps refuses a malformed batch as a whole, before any tap
// reaches a grain (the service here has no cluster: reaching one would
// panic).
func TestUploadOfflineTapsRefusesABadBatch(t *testing.T) {
	tap := func(seq uint64) *civicardv1.TapRequest {
		return &civicardv1.TapRequest{TerminalId: "T-1", Sequence: seq, CardId: "320000002990", TimeUnixMs: 1, Signature: make([]byte, 64)}
	}
	many := make([]*civicardv1.TapRequest, offlineBatchMax+1)
	for i := range many {
		many[i] = tap(uint64(i + 1))
	}
	unsigned := tap(1)
	unsigned.Signature = nil
	shortSig := tap(1)
	shortSig.Signature = []byte{1}
	for _, tc := range []struct {
		name string
		req  *civicardv1.UploadOfflineTapsRequest
		code connect.Code
		want string
	}{
		{"empty", &civicardv1.UploadOfflineTapsRequest{TerminalId: "T-1"}, connect.CodeInvalidArgument, "none"},
		{"too many", &civicardv1.UploadOfflineTapsRequest{TerminalId: "T-1", Taps: many}, connect.CodeInvalidArgument, "at most"},
		{"other terminal", &civicardv1.UploadOfflineTapsRequest{TerminalId: "T-2", Taps: []*civicardv1.TapRequest{tap(1)}}, connect.CodeInvalidArgument, "terminal_id"},
		{"out of order", &civicardv1.UploadOfflineTapsRequest{TerminalId: "T-1", Taps: []*civicardv1.TapRequest{tap(2), tap(1)}}, connect.CodeInvalidArgument, "increasing"},
		{"repeated", &civicardv1.UploadOfflineTapsRequest{TerminalId: "T-1", Taps: []*civicardv1.TapRequest{tap(2), tap(2)}}, connect.CodeInvalidArgument, "increasing"},
		{"unsigned", &civicardv1.UploadOfflineTapsRequest{TerminalId: "T-1", Taps: []*civicardv1.TapRequest{unsigned}}, connect.CodeUnauthenticated, "signature"},
		{"short signature", &civicardv1.UploadOfflineTapsRequest{TerminalId: "T-1", Taps: []*civicardv1.TapRequest{shortSig}}, connect.CodeInvalidArgument, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := terminalService{}.UploadOfflineTaps(context.Background(), connect.NewRequest(tc.req))
			if connect.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.code, tc.want)
			}
		})
	}
}
