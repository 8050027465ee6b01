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
	"slices"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protojson"

	"civicard/cluster"
	"civicard/cluster/replication"
	"civicard/domain/ledger"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
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
	if len(args) > 1 && args[0] == "terminals" && args[1] == "add" {
		return runAdminTerminalAdd(ctx, args[2:], stdout)
	}
	if len(args) > 0 && args[0] == "terminals" {
		return runAdminTerminals(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "institutions" {
		return runAdminInstitutions(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "tariff" {
		return runAdminTariff(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "audit" {
		return runAdminAudit(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "users" {
		return runAdminUsers(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "nodes" {
		return runAdminNodes(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "ca" {
		return runAdminCA(args[1:], stdout)
	}
	if ran, err := runAdminSettlement(ctx, args, stdout); ran {
		return err
	}
	if len(args) == 0 || args[0] != "verify" {
		return usagef("admin: want nodes, ca, institutions, terminals, tariff, users, audit, verify, settle, batches, statement, payout-file or reconcile")
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
	cfg := replication.DefaultConfig()
	cfg.Dir, cfg.NodeID = dir, cluster.EmbeddedName
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Registerer = prometheus.NewRegistry()
	group, err := replication.OpenSingle(ctx, cfg)
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

// runAdminNodes lists the cluster's nodes with what each hosts, or with
// add, drain or remove changes the node list.
func runAdminNodes(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return runAdminNodeChange(ctx, args[0], args[1:], stdout)
	}
	fs := newFlags("admin nodes")
	client := addClientFlags(fs)
	token := fs.String("token", "", "operator token (default: read from --data)")
	digests := fs.Bool("digests", false, "also list every replica, hashed (equal digests: equal ledgers)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	operatorToken, err := client.operatorToken(*token)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	listing, err := collectNodes(ctx, client, operatorToken, *digests)
	if err != nil {
		return err
	}
	if *client.json {
		return listing.printJSON(stdout)
	}
	printNodes(stdout, listing, *digests)
	return nil
}

// nodesListing is what `admin nodes` shows: the node list and placement
// (from the registry) and what each node that answered hosts.
type nodesListing struct {
	list        *civicardv1.ListNodesResponse
	nodes       []*civicardv1.GetNodeResponse
	gateways    []string // the gateway each of nodes answered at
	unreachable []string
}

// collectNodes reads the node list at the first gateway that answers and
// asks every gateway given what its node hosts.
func collectNodes(ctx context.Context, client clientFlags, token string, withDigests bool) (*nodesListing, error) {
	out := &nodesListing{}
	var listErr error
	for addr := range strings.SplitSeq(*client.addr, ",") {
		api := civicardv1connect.NewAdminServiceClient(client.httpClient(), addr, terminals.WithCredential(token))
		if out.list == nil {
			res, err := api.ListNodes(ctx, connect.NewRequest(&civicardv1.ListNodesRequest{}))
			if err == nil {
				out.list = res.Msg
			} else {
				listErr = errors.Join(listErr, fmt.Errorf("%s: %w", addr, err))
			}
		}
		res, err := api.GetNode(ctx, connect.NewRequest(&civicardv1.GetNodeRequest{WithDigests: withDigests}))
		if err != nil {
			out.unreachable = append(out.unreachable, fmt.Sprintf("%s: %v", addr, err))
			continue
		}
		out.nodes = append(out.nodes, res.Msg)
		out.gateways = append(out.gateways, addr)
	}
	if out.list == nil && len(out.nodes) == 0 {
		return nil, fmt.Errorf("no gateway answered: %w", listErr)
	}
	if out.list == nil {
		out.list = &civicardv1.ListNodesResponse{}
	}
	return out, nil
}

// printJSON writes the listing as one JSON object: "list" and "nodes".
func (l *nodesListing) printJSON(w io.Writer) error {
	marshal := protojson.MarshalOptions{EmitUnpopulated: true}
	list, err := marshal.Marshal(l.list)
	if err != nil {
		return err
	}
	doc := struct {
		List        json.RawMessage   `json:"list"`
		Nodes       []json.RawMessage `json:"nodes"`
		Unreachable []string          `json:"unreachable,omitempty"`
	}{List: list, Unreachable: l.unreachable}
	for _, n := range l.nodes {
		b, err := marshal.Marshal(n)
		if err != nil {
			return err
		}
		doc.Nodes = append(doc.Nodes, b)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(out))
	return err
}

// printNodes writes one line per node: its status in the node list, its
// addresses, the members it sees, its grains and its replicas (a * marks the
// groups it leads); then the placement, and with digests every replica.
func printNodes(w io.Writer, l *nodesListing, digests bool) {
	described := map[string]int{}
	for i, n := range l.nodes {
		described[cmp.Or(n.GetName(), "embedded")] = i
	}
	var names []string
	listed := map[string]*civicardv1.ClusterNodeInfo{}
	for _, n := range l.list.GetNodes() {
		names = append(names, n.GetName())
		listed[n.GetName()] = n
	}
	for name := range described {
		if listed[name] == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATUS\tACTOR\tRAFT\tGATEWAY\tMEMBERS\tGRAINS\tGROUPS (* leads)")
	for _, name := range names {
		info := listed[name]
		status, actor, raft := cmp.Or(info.GetStatus(), "not listed"), info.GetActorAddr(), info.GetRaftAddr()
		i, ok := described[name]
		if !ok {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t-\t-\n", name, status, actor, raft)
			continue
		}
		n := l.nodes[i]
		grains := n.GetGrains()
		var groups []string
		for _, g := range n.GetGroups() {
			mark := ""
			if g.GetState() == "Leader" {
				mark = "*"
			}
			groups = append(groups, g.GetGroup()+mark)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d card, %d terminal, %d institution\t%s\n", name, status,
			cmp.Or(actor, n.GetActorAddr(), "-"), cmp.Or(raft, n.GetRaftAddr(), "-"), l.gateways[i], len(n.GetMembers()),
			grains["Card"], grains["Terminal"], grains["Institution"], cmp.Or(strings.Join(groups, ","), "-"))
	}
	tw.Flush()
	if len(l.list.GetPlacements()) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tPLACED ON")
		for _, p := range l.list.GetPlacements() {
			fmt.Fprintf(tw, "%s\t%s\n", p.GetGroup(), strings.Join(p.GetNodes(), ","))
		}
		tw.Flush()
	}
	if digests {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tGROUP\tSTATE\tLEADER\tVOTERS\tNONVOTERS\tAPPLIED\tLAG\tCARDS\tDIGEST")
		for i, n := range l.nodes {
			for _, g := range n.GetGroups() {
				digest := "-"
				if len(g.GetDigest()) > 0 {
					digest = hex.EncodeToString(g.GetDigest()[:6])
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", cmp.Or(n.GetName(), l.gateways[i]), g.GetGroup(), g.GetState(),
					cmp.Or(g.GetLeader(), "-"), strings.Join(g.GetVoters(), ","), cmp.Or(strings.Join(g.GetNonvoters(), ","), "-"),
					g.GetAppliedIndex(), g.GetApplyLagEntries(), g.GetTotals().GetCards(), digest)
			}
		}
		tw.Flush()
	}
	for _, u := range l.unreachable {
		fmt.Fprintf(w, "unreachable: %s\n", u)
	}
}

// runAdminNodeChange runs `admin nodes add ADDR`, `drain NAME` or `remove
// NAME` at the first gateway that answers.
func runAdminNodeChange(ctx context.Context, verb string, args []string, stdout io.Writer) error {
	fs := newFlags("admin nodes " + verb)
	client := addClientFlags(fs)
	token := fs.String("token", "", "operator token (default: read from --data)")
	positional, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	operatorToken, err := client.operatorToken(*token)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	arg := positional[0]
	var call func(api civicardv1connect.AdminServiceClient) (*civicardv1.ClusterNodeInfo, error)
	switch verb {
	case "add":
		// ADDR is the new node's gateway: it tells its own name and
		// addresses.
		api := civicardv1connect.NewAdminServiceClient(client.httpClient(), arg, terminals.WithCredential(operatorToken))
		res, err := api.GetNode(ctx, connect.NewRequest(&civicardv1.GetNodeRequest{}))
		if err != nil {
			return fmt.Errorf("the new node at %s: %w", arg, err)
		}
		req := &civicardv1.AddNodeRequest{Name: res.Msg.GetName(), ActorAddr: res.Msg.GetActorAddr(), RaftAddr: res.Msg.GetRaftAddr()}
		call = func(api civicardv1connect.AdminServiceClient) (*civicardv1.ClusterNodeInfo, error) {
			return msgOf(api.AddNode(ctx, connect.NewRequest(req)))
		}
	case "drain":
		call = func(api civicardv1connect.AdminServiceClient) (*civicardv1.ClusterNodeInfo, error) {
			return msgOf(api.DrainNode(ctx, connect.NewRequest(&civicardv1.DrainNodeRequest{Name: arg})))
		}
	case "remove":
		call = func(api civicardv1connect.AdminServiceClient) (*civicardv1.ClusterNodeInfo, error) {
			return msgOf(api.RemoveNode(ctx, connect.NewRequest(&civicardv1.RemoveNodeRequest{Name: arg})))
		}
	default:
		return usagef("admin nodes: want add ADDR, drain NAME or remove NAME, got %q", verb)
	}
	var errs error
	for addr := range strings.SplitSeq(*client.addr, ",") {
		api := civicardv1connect.NewAdminServiceClient(client.httpClient(), addr, terminals.WithCredential(operatorToken))
		node, err := call(api)
		if err == nil {
			if done, err := client.printJSON(stdout, node); done {
				return err
			}
			fmt.Fprintf(stdout, "%s is %s (actor %s, raft %s)\n", node.GetName(), node.GetStatus(), node.GetActorAddr(), node.GetRaftAddr())
			return nil
		}
		if !terminals.OutcomeUnknown(err) {
			return err // refused: another gateway would refuse too
		}
		errs = errors.Join(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return errs
}

func msgOf[T any](res *connect.Response[T], err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}
