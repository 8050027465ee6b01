package sim

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"civicard/cluster"
	"civicard/sim/demo"
	"civicard/sim/procnode"
)

// smallCity starts `civicard up` on a demo city of the given number of
// cards, stopped when the test ends, and returns the node and the city as
// it loaded it (with the terminals' credentials).
func smallCity(ctx context.Context, t *testing.T, cards int) (*procnode.Node, *demo.Dataset) {
	t.Helper()
	root, err := procnode.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := procnode.Build(ctx, root, dir)
	if err != nil {
		t.Fatal(err)
	}
	node := &procnode.Node{Bin: bin, DataDir: filepath.Join(dir, "data"), Args: []string{"--cards", fmt.Sprint(cards), "--log-level", "warn"}}
	if err := node.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := node.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	key, err := cluster.ReadSecret(node.DataDir, cluster.CredentialKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	city, err := demo.Generate(demo.Config{Seed: demo.DefaultConfig().Seed, Cards: cards, CredentialKey: []byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	return node, city
}
