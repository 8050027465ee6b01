package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The real binary, given flags that contradict each other, refuses to
// start: it exits with status 2 and a message naming both flags, before it
// opens anything (its data directory stays empty).
func TestBinaryRefusesContradictoryFlagsBeforeOpeningAnything(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := civicardBin
	const peers = "n1=127.0.0.1:7110=127.0.0.1:7201,n2=127.0.0.1:7120=127.0.0.1:7202,n3=127.0.0.1:7130=127.0.0.1:7203"
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{name: "payouts in euro from a złoty ledger",
			args: []string{"up", "--cards", "100", "--payout-currency", "EUR"},
			want: []string{"--payout-currency EUR", "--currency PLN"}},
		{name: "a node's API on its own membership endpoint",
			args: []string{"node", "--name", "n1", "--peers", peers, "--demo", "--cards", "100", "--http", "127.0.0.1:7111"},
			want: []string{"--http 127.0.0.1:7111", "--peers (n1's membership endpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			args := append(tc.args, "--data", data)
			if !strings.Contains(strings.Join(tc.args, " "), "--http") {
				args = append(args, "--http", "127.0.0.1:0")
			}
			// A node that starts after all would run until killed: give it
			// a deadline and say so.
			run, stop := context.WithTimeout(ctx, 30*time.Second)
			defer stop()
			out, err := exec.CommandContext(run, bin, args...).CombinedOutput()
			if run.Err() != nil {
				t.Fatalf("civicard %s still ran after 30 s: it started instead of refusing\n%s", strings.Join(tc.args, " "), out)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("civicard %s: %v, want exit status 2\n%s", strings.Join(tc.args, " "), err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not name %q:\n%s", w, out)
				}
			}
			entries, err := os.ReadDir(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) > 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("the data directory holds %q, want it untouched", names)
			}
		})
	}
}
