package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/sim/procnode"
	"civicard/terminals"
)

// An operator scales a cluster under load: three nodes, then two more
// joined and added (replicas and grains move onto them), then one of the
// first three drained and removed. No tap may fail on the way (a retried
// one is fine), and the end checks of the fault tests hold: every
// acknowledged operation exactly once, identical replicas, exact money.
func TestClusterScaling(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 5 civicard nodes")
	}
	c := startCluster(t, 3)
	// A gateway (no grains, no ledger) serves clients too: it must follow
	// the node list, not only the peers it was started with.
	gw := c.startGateway(t)
	c.mu.Lock()
	c.extra = []string{gw.BaseURL}
	c.mu.Unlock()
	l := startClusterLoad(t, c, 24, 4, 300, 0)
	l.waitAcked(t, 600)
	scalingFrom := time.Now()

	// Two new nodes join (they ask the first three for the node list) and
	// are added by their gateways' addresses.
	c.serve(0, 1, 2)
	var joinAddrs []string
	for _, n := range c.nodes {
		joinAddrs = append(joinAddrs, raftAddrOf(t, c, n))
	}
	for _, name := range []string{"n4", "n5"} {
		c.join(t, name, joinAddrs)
	}
	for _, i := range []int{3, 4} {
		c.admin(t, "nodes", "add", c.nodes[i].BaseURL)
	}
	c.serve(0, 1, 2, 3, 4)
	c.waitPlacement(t, "the new nodes to hold replicas and grains", func(nodes map[string]*civicardv1.GetNodeResponse) bool {
		for _, name := range []string{"n4", "n5"} {
			if len(nodes[name].GetGroups()) == 0 || grainsOf(nodes[name]) == 0 {
				return false
			}
		}
		return true
	})
	l.waitAcked(t, 600)

	// Drain the node leading the most groups among the first three, then
	// remove it: its process stops by itself.
	leaders := c.leaders(t, []bool{true, true, true, false, false})
	victim := 0
	for i := range 3 {
		if len(leaders[i]) > len(leaders[victim]) {
			victim = i
		}
	}
	name := fmt.Sprintf("n%d", victim+1)
	drainAt := time.Now()
	c.admin(t, "nodes", "drain", name)
	c.waitPlacement(t, name+" to hold nothing", func(nodes map[string]*civicardv1.GetNodeResponse) bool {
		n := nodes[name]
		return n != nil && len(n.GetGroups()) == 0 && grainsOf(n) == 0
	})
	drained := time.Since(drainAt)
	removeDeadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.adminOutput("nodes", "remove", name)
		if err == nil {
			break
		}
		if time.Now().After(removeDeadline) {
			t.Fatalf("remove %s: %v\n%s", name, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case <-c.nodes[victim].Exited():
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still runs 30 s after it was removed", name)
	}
	var rest []int
	for i := range c.nodes {
		if i != victim {
			rest = append(rest, i)
		}
	}
	c.serve(rest...)
	l.waitAcked(t, 600)
	l.finish()

	alive := c.aliveWithout(victim)
	l.verify(t, rest[0])
	c.checkReplicas(t, alive, l)

	// The listing shows the new placement: the removed node hosts nothing,
	// the new ones replicas and grains.
	listing := c.adminText(t, "nodes")
	for _, line := range strings.Split(listing, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case name:
			if fields[1] != "removed" {
				t.Errorf("%s is listed as %s:\n%s", name, fields[1], listing)
			}
		case "n4", "n5":
			if fields[1] != "active" || !strings.Contains(line, "registry") && !strings.Contains(line, "shard-") {
				t.Errorf("%s is not an active node with replicas:\n%s", fields[0], listing)
			}
		case "registry", "shard-0":
			if strings.Contains(fields[1], name) {
				t.Errorf("%s is still placed on %s:\n%s", fields[0], name, listing)
			}
		}
	}

	// Every terminal gets its denylist, wherever its grain now lives (some
	// nodes replicate no shard: they read the blocked cards at the leader).
	for w := range 24 {
		seed := c.data.Terminals[w]
		client := terminals.NewClient(c.http, c.nodes[rest[w%len(rest)]].BaseURL, seed.Terminal.GetTerminalId(), seed.Credential)
		if _, err := client.Denylist(context.Background(), "", time.Now()); err != nil {
			t.Errorf("denylist of %s: %v", seed.Terminal.GetTerminalId(), err)
		}
	}

	// Each node's metrics say the same, scraped as Prometheus would.
	for _, i := range rest {
		metrics := c.scrape(t, i)
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^civicard_cluster_members 4$`),
			regexp.MustCompile(`(?m)^civicard_cluster_node_status 1$`),
			regexp.MustCompile(`(?m)^civicard_cluster_groups_replicated [1-9]`),
			regexp.MustCompile(`(?m)^civicard_cluster_groups_led [0-9]`),
			regexp.MustCompile(`(?m)^civicard_grains_hosted\{kind="Card"\} [1-9]`),
			regexp.MustCompile(`(?m)^civicard_settlement_raft_state\{group="[a-z0-9-]+"\} [0-2]$`),
			regexp.MustCompile(`(?m)^civicard_settlement_apply_lag_entries\{group="[a-z0-9-]+"\} \d+$`),
		} {
			if !want.MatchString(metrics) {
				t.Errorf("n%d's metrics have no line matching %s", i+1, want)
			}
		}
	}

	var longest time.Duration
	for i, sent := range l.sendTimes {
		if !sent.Before(scalingFrom) {
			longest = max(longest, l.ackTimes[i].Sub(sent))
		}
	}
	t.Logf("scaling 3 -> 5 -> 4 nodes: %d operations acknowledged, %d sent, %d sent more than once, %d lost, %d refused; declined taps by reason %v; the drain took %v; the longest wait for an answer while scaling %v",
		len(l.acked), len(l.tried), l.retried, l.lost, l.refused, l.declined, drained.Round(time.Millisecond), longest.Round(time.Millisecond))
	t.Logf("listing after scaling:\n%s", listing)
	if l.lost > 0 || l.refused > 0 {
		t.Errorf("%d operations lost and %d refused while scaling, want none; refusals: %q", l.lost, l.refused, l.refusals)
	}
	for reason, n := range l.declined {
		// A card that ran out of money is the only decline a tap may get.
		if reason != civicardv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS {
			t.Errorf("%d taps declined with %v while scaling", n, reason)
		}
	}
	// And it ran out indeed: the balance it was declined with is less than
	// the fare that terminal charges (the largest it charged any card).
	fare := map[int]int64{}
	for _, op := range l.acked {
		if op.tap != nil && op.answer.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED {
			fare[op.tap.terminal] = max(fare[op.tap.terminal], op.answer.GetCharged().GetMinorUnits())
		}
	}
	for _, op := range l.acked {
		if op.tap != nil && op.answer.GetResult() == civicardv1.TapResult_TAP_RESULT_DECLINED &&
			fare[op.tap.terminal] > 0 && op.answer.GetBalance().GetMinorUnits() >= fare[op.tap.terminal] {
			t.Errorf("%s declined for want of money with a balance of %d, the fare is at most %d", op.transactionID, op.answer.GetBalance().GetMinorUnits(), fare[op.tap.terminal])
		}
	}
}

// join starts a node that is not among the cluster's peers with --join
// and appends it to the cluster's nodes.
func (c *testCluster) join(t *testing.T, name string, joinAddrs []string) {
	t.Helper()
	place := loopbackPlace(t)
	data := filepath.Join(filepath.Dir(c.secrets), name)
	node := &procnode.Node{
		Bin: civicardBin, DataDir: data, Log: processLog(),
		Command: []string{"node", "--name", name, "--join", strings.Join(joinAddrs, ","),
			"--actor", place.actor, "--raft", place.raft,
			"--data", data, "--secrets", c.secrets, "--http", place.http, "--demo", "--cards", fmt.Sprint(testCards), "--log-level", "warn"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := node.Start(ctx); err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	t.Cleanup(node.Kill)
	c.mu.Lock() // the clients read c.nodes
	c.nodes = append(c.nodes, node)
	c.mu.Unlock()
}

// startGateway starts `civicard gateway` on the cluster's peers.
func (c *testCluster) startGateway(t *testing.T) *procnode.Node {
	t.Helper()
	actor := loopbackPlace(t).actor
	data := filepath.Join(filepath.Dir(c.secrets), "gw")
	gw := &procnode.Node{
		Bin: civicardBin, DataDir: data, Log: processLog(),
		Command: []string{"gateway", "--name", "gw", "--peers", c.peers, "--actor", actor,
			"--data", data, "--secrets", c.secrets, "--http", "127.0.0.1:0", "--cards", "0", "--log-level", "warn"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := gw.Start(ctx); err != nil {
		t.Fatalf("gateway: %v", err)
	}
	t.Cleanup(gw.Kill)
	return gw
}

// raftAddrOf asks a node's gateway for its Raft address.
func raftAddrOf(t *testing.T, c *testCluster, n *procnode.Node) string {
	t.Helper()
	api := civicardv1connect.NewAdminServiceClient(c.http, n.BaseURL, terminals.WithCredential(c.operator))
	res, err := api.GetNode(context.Background(), connect.NewRequest(&civicardv1.GetNodeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetRaftAddr()
}

// adminOutput runs `civicard admin ARGS` against every gateway in use.
func (c *testCluster) adminOutput(args ...string) (string, error) {
	args = append([]string{"admin"}, args...)
	args = append(args, "--data", c.secrets, "--addr", strings.Join(c.allGateways(), ","))
	out, err := exec.Command(civicardBin, args...).CombinedOutput()
	return string(out), err
}

func (c *testCluster) admin(t *testing.T, args ...string) {
	t.Helper()
	if out, err := c.adminOutput(args...); err != nil {
		t.Fatalf("civicard admin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (c *testCluster) adminText(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.adminOutput(args...)
	if err != nil {
		t.Fatalf("civicard admin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// allGateways are the gateways of every node still running.
func (c *testCluster) allGateways() []string {
	var urls []string
	for _, n := range c.nodes {
		select {
		case <-n.Exited():
		default:
			urls = append(urls, n.BaseURL)
		}
	}
	return urls
}

// waitPlacement waits until done says yes about every running node's
// description (by name) and every group's voters are its placement.
func (c *testCluster) waitPlacement(t *testing.T, what string, done func(map[string]*civicardv1.GetNodeResponse) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		nodes := map[string]*civicardv1.GetNodeResponse{}
		var list *civicardv1.ListNodesResponse
		for _, url := range c.allGateways() {
			api := civicardv1connect.NewAdminServiceClient(c.http, url, terminals.WithCredential(c.operator))
			if res, err := api.GetNode(context.Background(), connect.NewRequest(&civicardv1.GetNodeRequest{})); err == nil {
				nodes[res.Msg.GetName()] = res.Msg
			}
			if res, err := api.ListNodes(context.Background(), connect.NewRequest(&civicardv1.ListNodesRequest{})); err == nil && list == nil {
				list = res.Msg
			}
		}
		if list != nil && placed(list, nodes) && done(nodes) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: placement %v; nodes %v", what, list, nodes)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// placed reports whether every group's leader counts exactly the placed
// nodes as voters.
func placed(list *civicardv1.ListNodesResponse, nodes map[string]*civicardv1.GetNodeResponse) bool {
	for _, p := range list.GetPlacements() {
		ok := false
		for _, n := range nodes {
			for _, g := range n.GetGroups() {
				if g.GetGroup() == p.GetGroup() && g.GetState() == "Leader" {
					voters, want := slices.Clone(g.GetVoters()), slices.Clone(p.GetNodes())
					slices.Sort(voters)
					slices.Sort(want)
					ok = slices.Equal(voters, want) && len(g.GetNonvoters()) == 0
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// scrape returns node i's /metrics.
func (c *testCluster) scrape(t *testing.T, i int) string {
	t.Helper()
	res, err := c.http.Get(c.nodes[i].BaseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func grainsOf(n *civicardv1.GetNodeResponse) int32 {
	var total int32
	for _, count := range n.GetGrains() {
		total += count
	}
	return total
}
