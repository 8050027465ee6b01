package cluster

import (
	"os"
	"sync"
	"testing"
)

func TestEnsureSecretRaceHasOneWinner(t *testing.T) {
	dir := t.TempDir()
	secrets := make([]string, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range secrets {
		wg.Go(func() { secrets[i], errs[i] = ensureSecret(dir, OperatorTokenFile) })
	}
	wg.Wait()
	for i := range secrets {
		if errs[i] != nil || secrets[i] != secrets[0] {
			t.Fatalf("node %d got %q (%v), node 0 %q", i, secrets[i], errs[i], secrets[0])
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left %d files, want the secret alone", len(entries))
	}
}
