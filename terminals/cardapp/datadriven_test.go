package cardapp

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestExchanges runs the APDU scripts in testdata/. Each opens with a
// comment saying what it covers; `go test ./terminals/cardapp -run
// Exchanges -rewrite` refreshes the expectations (review the diff).
//
// Directives:
//
//	card id=N [pin=P] [clone]   a fresh card; a clone holds a key not derived from the test master key.
//	                            Its challenges are A0 A1 A2 ...; the terminal's are 10 11 12 ...
//	send                        one command APDU in hex per line; prints each command and the card's answer
//	reset                       power cycle
//	authenticate                the terminal's exchange; prints the card number or the error
//	verify pin=P                the terminal's VERIFY
func TestExchanges(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) { runScript(t, path) })
	}
}

func runScript(t *testing.T, path string) {
	var card *Card
	terminal, err := NewAuthenticator(unhex(t, testMaster), &counter{n: 0x10})
	if err != nil {
		t.Fatal(err)
	}
	datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "card" && card == nil {
			d.Fatalf(t, "%s before card", d.Cmd)
		}
		switch d.Cmd {
		case "card":
			var id, pin string
			d.ScanArgs(t, "id", &id)
			if d.HasArg("pin") {
				d.ScanArgs(t, "pin", &pin)
			}
			if d.HasArg("clone") {
				c, err := NewCard(CardConfig{CardID: id, Key: [KeySize]byte{1, 2, 3}, PIN: pin, Rand: &counter{n: 0xA0}})
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				card = c
			} else {
				card = genuineCard(t, id, pin)
			}
			return ""
		case "send":
			var out strings.Builder
			for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
				cmd, err := hex.DecodeString(strings.Join(strings.Fields(line), ""))
				if err != nil {
					d.Fatalf(t, "%q: %v", line, err)
				}
				res := card.Process(cmd)
				fmt.Fprintf(&out, "> %X\n< %s\n", cmd, formatResponse(res))
			}
			return out.String()
		case "reset":
			card.Reset()
			return ""
		case "authenticate":
			id, err := terminal.Authenticate(Direct{card})
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return "card " + id + "\n"
		case "verify":
			var pin string
			d.ScanArgs(t, "pin", &pin)
			if err := VerifyPIN(Direct{card}, pin); err != nil {
				return "error: " + err.Error() + "\n"
			}
			return "ok\n"
		}
		d.Fatalf(t, "unknown directive %q", d.Cmd)
		return ""
	})
}

func formatResponse(raw []byte) string {
	res, err := ParseResponse(raw)
	if err != nil {
		return "invalid: " + err.Error()
	}
	if len(res.Data) == 0 {
		return res.SW.String()
	}
	return fmt.Sprintf("%X %s", res.Data, res.SW)
}
