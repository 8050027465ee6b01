package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"civicard/cluster"
	"civicard/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/settlement"
	"civicard/terminals"
)

// verifyReport is what `civicard admin verify` prints: the sums over every
// Raft group of the node's ledger, and each group's digest.
type verifyReport struct {
	FundingMinor     int64             `json:"funding_minor"`
	CardsMinor       int64             `json:"cards_minor"`
	ReceivablesMinor int64             `json:"receivables_minor"`
	PayoutsMinor     int64             `json:"payouts_minor"`
	FeesMinor        int64             `json:"fees_minor"`
	Cards            int               `json:"cards"`
	Digests          map[string]string `json:"digests"`
	Invariants       string            `json:"invariants"`
}

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "terminals" {
		return runAdminTerminals(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "nodes" {
		return runAdminNodes(ctx, args[1:], stdout)
	}
	if ran, err := runAdminSettlement(ctx, args, stdout); ran {
		return err
	}
	if len(args) == 0 || args[0] != "verify" {
		return usagef("admin: want nodes, terminals, verify, settle, batches, statement, payout-file or reconcile")
	}
	fs := newFlags("admin verify")
	dataDir := fs.String("data", "./data", "data directory of a stopped node")
	if _, err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	groups, err := os.ReadDir(filepath.Join(*dataDir, "raft"))
	if err != nil {
		return fmt.Errorf("ledger of %s: %w", *dataDir, err)
	}
	report := verifyReport{Digests: map[string]string{}, Invariants: "ok"}
	var broken []error
	for _, g := range groups {
		if !g.IsDir() {
			continue
		}
		if err := verifyGroup(ctx, filepath.Join(*dataDir, "raft", g.Name()), g.Name(), stderr, &report); err != nil {
			broken = append(broken, err)
		}
	}
	if err := errors.Join(broken...); err != nil {
		report.Invariants = err.Error()
	}
	out, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	if report.Invariants != "ok" {
		return fmt.Errorf("ledger invariants broken: %s", report.Invariants)
	}
	return nil
}

// verifyGroup opens one group of a stopped embedded node on its own, checks
// its ledger's invariants and adds its totals and digest to report.
func verifyGroup(ctx context.Context, dir, name string, stderr io.Writer, report *verifyReport) error {
	cfg := settlement.DefaultConfig()
	cfg.Dir, cfg.NodeID = dir, cluster.EmbeddedName
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Registerer = prometheus.NewRegistry()
	group, err := settlement.OpenSingle(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open %s (is the node still running?): %w", name, err)
	}
	defer group.Close()
	var checkErr error
	group.Read(func(s *ledger.State) {
		totals := s.Totals()
		report.FundingMinor += totals.FundingMinor
		report.CardsMinor += totals.CardsMinor
		report.ReceivablesMinor += totals.ReceivablesMinor
		report.PayoutsMinor += totals.PayoutsMinor
		report.FeesMinor += totals.FeesMinor
		report.Cards += totals.Cards
		checkErr = s.Check()
	})
	digest := group.Digest()
	report.Digests[name] = hex.EncodeToString(digest[:])
	if checkErr != nil {
		return fmt.Errorf("%s: %w", name, checkErr)
	}
	return nil
}

// runAdminNodes lists what every node given hosts: members seen, grains and
// its replicas of the ledger's groups with their leaders.
func runAdminNodes(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("admin nodes")
	client := addClientFlags(fs)
	token := fs.String("token", "", "operator token (default: read from --data)")
	digests := fs.Bool("digests", false, "also hash every replica (equal digests: equal ledgers)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	operatorToken, err := client.operatorToken(*token)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tADDRESS\tMEMBERS\tGRAINS\tGROUP\tSTATE\tLEADER\tVOTERS\tAPPLIED\tCARDS\tDIGEST")
	for addr := range strings.SplitSeq(*client.addr, ",") {
		api := civicardv1connect.NewAdminServiceClient(client.httpClient(), addr, terminals.WithCredential(operatorToken))
		res, err := api.GetNode(ctx, connect.NewRequest(&civicardv1.GetNodeRequest{WithDigests: *digests}))
		if err != nil {
			fmt.Fprintf(w, "?\t%s\t-\t-\t-\t%v\n", addr, err)
			continue
		}
		if done, err := client.printJSON(stdout, res.Msg); done {
			if err != nil {
				return err
			}
			continue
		}
		node := res.Msg
		grains := fmt.Sprintf("%d card, %d terminal, %d institution", node.GetGrains()["Card"], node.GetGrains()["Terminal"], node.GetGrains()["Institution"])
		name := cmp.Or(node.GetName(), "embedded")
		if len(node.GetGroups()) == 0 {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t-\t-\t-\t-\t-\t-\t-\n", name, addr, len(node.GetMembers()), grains)
		}
		for i, g := range node.GetGroups() {
			digest := "-"
			if len(g.GetDigest()) > 0 {
				digest = hex.EncodeToString(g.GetDigest()[:6])
			}
			if i > 0 {
				name, addr, grains = "", "", ""
			}
			members := ""
			if i == 0 {
				members = fmt.Sprint(len(node.GetMembers()))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", name, addr, members, grains, g.GetGroup(), g.GetState(),
				cmp.Or(g.GetLeader(), "-"), strings.Join(g.GetVoters(), ","), g.GetAppliedIndex(), g.GetTotals().GetCards(), digest)
		}
	}
	return w.Flush()
}
