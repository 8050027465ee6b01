package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	civicardv1 "civicard/messages/civicard/v1"
)

// strictServer serves the real gateway handlers, with a settlement and a
// registry that count what reaches them, on a loopback httptest server
// configured as Serve configures its own.
func strictServer(t *testing.T, bodyReadTimeout time.Duration) (*httptest.Server, *fakeSettlement, *fakeRegistry) {
	t.Helper()
	settle, registry := &fakeSettlement{}, &fakeRegistry{}
	cfg := DefaultConfig()
	cfg.OperatorToken = testOperatorToken
	cfg.BodyReadTimeout = bodyReadTimeout
	cfg.Ready = func() error { return nil }
	cfg.Describe = func(bool) *civicardv1.GetNodeResponse { return &civicardv1.GetNodeResponse{} }
	cfg.Registry = prometheus.NewRegistry()
	cfg.Settlement, cfg.RegistryAdmin = settle, registry
	gw, err := New(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = gw.Server()
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, settle, registry
}

const (
	closeCycle          = "/civicard.v1.SettlementService/CloseCycle"
	registerInstitution = "/civicard.v1.AdminService/RegisterInstitution"
)

// institutionJSON is a valid RegisterInstitution with extra spliced in
// where the test needs it.
func institutionJSON(top, nested, reason string) string {
	return `{"institution":{"institutionId":"KAT-POOL-09","name":"Pływalnia","town":"Katowice","kind":"SERVICE_KIND_SPORT"` + nested +
		`},"requestId":"reg-1","reason":"` + reason + `","operator":"ala"` + top + `}`
}

// TestBadInput sends client garbage over real HTTP to the real handlers:
// each is refused with a 4xx naming what is wrong, and nothing reaches the
// settlement or the registry. A valid request first shows the path works.
func TestBadInput(t *testing.T) {
	ts, settle, registry := strictServer(t, 10*time.Second)
	unknownBinary := protowire.AppendTag(mustMarshal(t, &civicardv1.CloseCycleRequest{Cycle: 1}), 99, protowire.VarintType)
	unknownBinary = protowire.AppendVarint(unknownBinary, 12)
	nestedUnknownBinary := mustMarshal(t, &civicardv1.RegisterInstitutionRequest{RequestId: "reg-1", Reason: "r", Institution: &civicardv1.Institution{InstitutionId: "KAT-POOL-09", Name: "P", Kind: civicardv1.ServiceKind_SERVICE_KIND_SPORT}})
	inst := protowire.AppendVarint(protowire.AppendTag(mustMarshal(t, &civicardv1.Institution{InstitutionId: "KAT-POOL-09", Name: "P", Kind: civicardv1.ServiceKind_SERVICE_KIND_SPORT}), 77, protowire.VarintType), 1)
	nestedUnknownBinary = protowire.AppendBytes(protowire.AppendTag(nestedUnknownBinary, 1, protowire.BytesType), inst)

	for _, tc := range []struct {
		name        string
		path        string
		contentType string
		encoding    string
		body        []byte
		code        int
		want        string // in the answer's body
	}{
		{"unknown json field", closeCycle, "application/json", "", []byte(`{"cardId":12}`), 400, `unknown field \"cardId\"`},
		{"unknown json field beside a known one", closeCycle, "application/json", "", []byte(`{"cycle":1,"dryRun":true}`), 400, `unknown field \"dryRun\"`},
		{"unknown nested json field", registerInstitution, "application/json", "", []byte(institutionJSON("", `,"vip":true`, "new pool")), 400, `unknown field \"vip\"`},
		{"unknown binary field", closeCycle, "application/proto", "", unknownBinary, 400, "unknown field number 99"},
		{"unknown nested binary field", registerInstitution, "application/proto", "", nestedUnknownBinary, 400, "unknown field number 77 in institution"},
		{"NUL in a reason", registerInstitution, "application/json", "", []byte(institutionJSON("", "", `new\u0000pool`)), 400, "reason may hold printable characters only"},
		{"newline in a reason", registerInstitution, "application/json", "", []byte(institutionJSON("", "", `new\npool`)), 400, "reason may hold printable characters only"},
		{"escape in a nested name", registerInstitution, "application/json", "", []byte(strings.Replace(institutionJSON("", "", "x"), "Pływalnia", `\u001b[31mred`, 1)), 400, "institution.name may hold printable"},
		{"over-long reason", registerInstitution, "application/json", "", []byte(institutionJSON("", "", strings.Repeat("r", textBytesMax+1))), 400, "reason longer than"},
		{"brotli body", closeCycle, "application/json", "br", []byte(`{}`), 415, `"br" is not supported`},
		{"not JSON", closeCycle, "application/json", "", []byte(`{"cycle":`), 400, "unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, ts.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Authorization", "Bearer "+testOperatorToken)
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			res, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
				t.Fatalf("answer %d %s, want %d mentioning %q", res.StatusCode, body, tc.code, tc.want)
			}
			if settle.calls != 0 || len(registry.proposed) != 0 {
				t.Fatalf("bad input reached the settlement (%d calls) or the registry (%d proposals)", settle.calls, len(registry.proposed))
			}
		})
	}

	t.Run("broken chunked body", func(t *testing.T) {
		head := "POST " + closeCycle + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + testOperatorToken +
			"\r\nTransfer-Encoding: chunked\r\n\r\n"
		code, body := rawExchange(t, ts, head+"2\r\n{}\r\nzz\r\n")
		if code/100 != 4 {
			t.Fatalf("broken chunked body answered %d %s, want 4xx", code, body)
		}
		if settle.calls != 0 {
			t.Fatalf("a broken body reached the settlement")
		}
	})

	// The plumbing works: the same server takes a good request.
	t.Run("valid", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+registerInstitution, strings.NewReader(institutionJSON("", "", "new pool")))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testOperatorToken)
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 || len(registry.proposed) != 1 {
			t.Fatalf("valid request answered %d %s, %d proposals", res.StatusCode, body, len(registry.proposed))
		}
	})
}

// TestBadInputTrickledBody: a client that sends its body a byte at a time
// is cut off after the body read timeout instead of holding its connection.
func TestBadInputTrickledBody(t *testing.T) {
	ts, settle, _ := strictServer(t, 300*time.Millisecond)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	head := "POST " + closeCycle + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + testOperatorToken +
		"\r\nContent-Length: 100\r\n\r\n{"
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	// The server must end the exchange long before the test's deadline,
	// whatever it answers: reading sees an answer or the connection closed.
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still held a trickling body after 5 s")
	}
	if err == nil {
		body, _ := io.ReadAll(res.Body)
		t.Logf("answer %d %s", res.StatusCode, body)
		if res.StatusCode/100 != 4 {
			t.Fatalf("a trickled body answered %d %s, want 4xx", res.StatusCode, body)
		}
	}
	if settle.calls != 0 {
		t.Fatal("a trickled body reached the settlement")
	}
}

func rawExchange(t *testing.T, ts *httptest.Server, raw string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A registered terminal's answer carries no digest of its credential: the
// ledger keeps it, the operator's answer does not show it.
func TestRegisterTerminalAnswersNoCredentialDigest(t *testing.T) {
	ts, _, registry := strictServer(t, 10*time.Second)
	body := `{"terminalId":"T-KAT-LIB-01-009","institutionId":"KAT-LIB-01","location":"Biblioteka","credential":"terminal-secret-0123456789","requestId":"term-9","reason":"new reader"}`
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/civicard.v1.AdminService/RegisterTerminal", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testOperatorToken)
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || len(registry.proposed) != 1 {
		t.Fatalf("RegisterTerminal answered %d %s", res.StatusCode, answer)
	}
	if strings.Contains(string(answer), "credential") {
		t.Fatalf("the answer shows the credential's digest: %s", answer)
	}
	if len(registry.proposed[0].GetRegisterTerminal().GetTerminal().GetCredentialSha256()) != 32 {
		t.Fatal("the ledger was not given the credential's digest")
	}
}
