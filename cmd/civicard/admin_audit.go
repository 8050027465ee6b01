package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"civicard/cluster"
	"civicard/cluster/replication"
	"civicard/domain/ledger"
)

// runAdminAudit runs `civicard admin audit verify`: it opens each Raft
// group of a stopped node's data directory (its snapshot, then its log)
// and checks the group's audit chain, naming the first broken link. A
// snapshot whose chain was edited does not open at all: the error names
// the link there too.
func runAdminAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return usagef("admin audit: want verify")
	}
	fs := newFlags("admin audit verify")
	dataDir := fs.String("data", "./data", "data directory of a stopped node")
	if _, err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	groups, err := os.ReadDir(filepath.Join(*dataDir, "raft"))
	if err != nil {
		return fmt.Errorf("ledger of %s: %w", *dataDir, err)
	}
	var broken []error
	for _, g := range groups {
		if !g.IsDir() {
			continue
		}
		if err := verifyAuditGroup(ctx, filepath.Join(*dataDir, "raft", g.Name()), g.Name(), stdout, stderr); err != nil {
			broken = append(broken, err)
		}
	}
	return errors.Join(broken...)
}

func verifyAuditGroup(ctx context.Context, dir, name string, stdout, stderr io.Writer) error {
	cfg := replication.DefaultConfig()
	cfg.Dir, cfg.NodeID = dir, cluster.EmbeddedName
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	cfg.Registerer = prometheus.NewRegistry()
	group, err := replication.OpenSingle(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stdout, "%s: BROKEN: %v\n", name, err)
		return fmt.Errorf("%s: %w", name, err)
	}
	defer group.Close()
	var links int
	var head string
	var verr error
	group.Read(func(s *ledger.State) {
		chain := s.AuditChain()
		links = len(chain)
		if links > 0 {
			head = hex.EncodeToString(chain[links-1].GetSha256())
		}
		verr = ledger.VerifyAuditChain(chain)
	})
	if verr != nil {
		fmt.Fprintf(stdout, "%s: BROKEN: %v\n", name, verr)
		return fmt.Errorf("%s: %w", name, verr)
	}
	fmt.Fprintf(stdout, "%s: %d links, head %s: ok\n", name, links, head)
	return nil
}
