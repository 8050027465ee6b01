package gateway

import (
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"
	protocluster "github.com/asynkron/protoactor-go/cluster"

	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
)

func TestValidateTap(t *testing.T) {
	valid := func() *civicardv1.TapRequest {
		return &civicardv1.TapRequest{TerminalId: "T-KAT-TRA-01-001", Sequence: 1, CardId: "320000002990", TimeUnixMs: 1}
	}
	tests := []struct {
		name   string
		mutate func(*civicardv1.TapRequest)
		want   string // part of the reason; empty for a valid tap
	}{
		{"valid", func(*civicardv1.TapRequest) {}, ""},
		{"no terminal", func(r *civicardv1.TapRequest) { r.TerminalId = "" }, "terminal_id is required"},
		{"long terminal", func(r *civicardv1.TapRequest) { r.TerminalId = strings.Repeat("T", 65) }, "terminal_id longer"},
		{"no sequence", func(r *civicardv1.TapRequest) { r.Sequence = 0 }, "sequence"},
		{"bad card", func(r *civicardv1.TapRequest) { r.CardId = "320000002991" }, "card_id"},
		{"no time", func(r *civicardv1.TapRequest) { r.TimeUnixMs = 0 }, "time_unix_ms"},
		{"negative time", func(r *civicardv1.TapRequest) { r.TimeUnixMs = -5 }, "time_unix_ms"},
		{"long service", func(r *civicardv1.TapRequest) { r.ServiceCode = strings.Repeat("S", 33) }, "service_code"},
		{"where and how", func(r *civicardv1.TapRequest) {
			r.Line, r.Stop, r.Direction, r.PinVerified = "T6", "KAT-RYNEK", -1, true
		}, ""},
		{"long line", func(r *civicardv1.TapRequest) { r.Line = strings.Repeat("L", 33) }, "line longer"},
		{"long stop", func(r *civicardv1.TapRequest) { r.Stop = strings.Repeat("S", 65) }, "stop longer"},
		{"direction 2", func(r *civicardv1.TapRequest) { r.Direction = 2 }, "direction 2"},
		{"direction -2", func(r *civicardv1.TapRequest) { r.Direction = -2 }, "direction -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tap := valid()
			tt.mutate(tap)
			err := validateTap(tap)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid tap refused: %v", err)
				}
				return
			}
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want invalid_argument mentioning %q", err, tt.want)
			}
		})
	}
}

func TestValidateRequestID(t *testing.T) {
	for id, ok := range map[string]bool{
		"cli-0a1b":              true,
		"":                      false,
		"has space":             false,
		"żółw":                  false,
		"tab\there":             false,
		strings.Repeat("r", 64): true,
		strings.Repeat("r", 65): false,
	} {
		if err := validateRequestID(id); (err == nil) != ok {
			t.Errorf("validateRequestID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestFromGrain(t *testing.T) {
	tests := []struct {
		err  error
		want connect.Code
	}{
		{grainsv1.ErrNotFound("card %s", "x"), connect.CodeNotFound},
		{grainsv1.ErrUnauthenticated("no"), connect.CodeUnauthenticated},
		{grainsv1.ErrFailedPrecondition("full"), connect.CodeFailedPrecondition},
		{grainsv1.ErrInvalidArgument("bad"), connect.CodeInvalidArgument},
		{grainsv1.ErrAlreadyExists("dup"), connect.CodeAlreadyExists},
		{grainsv1.ErrUnavailable("ledger"), connect.CodeUnavailable},
		{protocluster.NewGrainErrorResponse("SOMETHING_ELSE", "?"), connect.CodeUnavailable},
		{errors.New("request failed: context deadline exceeded"), connect.CodeUnavailable},
	}
	for _, tt := range tests {
		if got := connect.CodeOf(fromGrain(tt.err)); got != tt.want {
			t.Errorf("fromGrain(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	// The caller sees the grain's reason, not the library's wrapping.
	if msg := fromGrain(grainsv1.ErrNotFound("card 32 does not exist")).Error(); !strings.HasSuffix(msg, "card 32 does not exist") || strings.Contains(msg, "grain error response") {
		t.Errorf("message %q", msg)
	}
}

func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x ", "Basic abc", "", "Bearer", "Bearer "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		credential, ok := bearer(header)
		if ok && (credential == "" || credential != strings.TrimSpace(credential)) {
			t.Fatalf("bearer(%q) = %q", header, credential)
		}
		if !ok && credential != "" {
			t.Fatalf("bearer(%q) refused but returned %q", header, credential)
		}
	})
}

func FuzzValidateTap(f *testing.F) {
	f.Add("T-1", uint64(1), "320000002990", int64(1), "RIDE")
	f.Add("", uint64(0), "", int64(0), "")
	f.Fuzz(func(t *testing.T, terminal string, seq uint64, card string, at int64, service string) {
		err := validateTap(&civicardv1.TapRequest{TerminalId: terminal, Sequence: seq, CardId: card, TimeUnixMs: at, ServiceCode: service})
		if err != nil && connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("validateTap error with code %v: %v", connect.CodeOf(err), err)
		}
	})
}

func TestValidateText(t *testing.T) {
	for value, ok := range map[string]bool{
		"":                      true,
		"Jan Kowalski":          true,
		"Zażółć":                true,
		"tab\there":             false,
		strings.Repeat("x", 64): true,
		strings.Repeat("x", 65): false,
	} {
		err := validateText("operator", value, 64)
		if (err == nil) != ok {
			t.Errorf("validateText(%q) = %v, want ok=%v", value, err, ok)
		}
		if err != nil && connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("validateText(%q): code %v, want invalid_argument", value, connect.CodeOf(err))
		}
	}
}
