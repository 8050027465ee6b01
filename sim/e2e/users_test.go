package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The operator token adds a user, whose token (printed once) works in its
// role only and stops working when the user is revoked; the audit names
// who added and who revoked it from their credentials; the stopped node's
// audit chains verify.
func TestUsersEndToEnd(t *testing.T) {
	c := startCity(t)
	at := []string{"--addr", c.node.BaseURL, "--data", c.node.DataDir}
	admin := func(args ...string) string {
		t.Helper()
		return runCivicard(t, append(append([]string{"admin", "users"}, args...), at...)...)
	}
	out := admin("add", "--name", "ola", "--role", "auditor", "--reason", "yearly audit")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	if len(token) < 40 || strings.Contains(token, " ") {
		t.Fatalf("add printed %q: want the token on its last line", out)
	}
	if list := admin("list", "--token", token); !strings.Contains(list, "ola") || !strings.Contains(list, "operator/operator-token:operator-admin") {
		t.Fatalf("list as the auditor:\n%s", list)
	}
	// The auditor may not change anything.
	block := exec.Command(civicardBin, append([]string{"card", "block", c.fundedCard(t, 0, 1), "--token", token, "--reason", "test"}, at...)...)
	if msg, err := block.CombinedOutput(); err == nil || !strings.Contains(string(msg), "permission_denied") {
		t.Fatalf("block as the auditor: %v\n%s", err, msg)
	}
	admin("revoke", "ola", "--reason", "audit done")
	listRevoked := exec.Command(civicardBin, append([]string{"admin", "users", "list", "--token", token}, at...)...)
	if msg, err := listRevoked.CombinedOutput(); err == nil || !strings.Contains(string(msg), "unauthenticated") {
		t.Fatalf("list with a revoked token: %v\n%s", err, msg)
	}
	if list := admin("list"); !strings.Contains(list, "revoked by operator/operator-token:operator-admin") {
		t.Fatalf("list after the revocation:\n%s", list)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.node.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	verify := runCivicard(t, "admin", "audit", "verify", "--data", c.node.DataDir)
	if !strings.Contains(verify, "registry: ") || strings.Contains(verify, "BROKEN") {
		t.Fatalf("audit verify:\n%s", verify)
	}
	t.Logf("audit verify:\n%s", verify)
	c.start(t)
}

// runCivicard runs the civicard binary and returns what it printed,
// failing the test if it fails.
func runCivicard(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(civicardBin, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("civicard %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}
