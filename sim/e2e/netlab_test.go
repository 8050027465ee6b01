package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// netLab is a private network for a test cluster: every node runs in a
// network namespace of its own, joined by a veth pair to a bridge in the
// test's namespace, so the test reaches every node and a partition is made
// with the kernel's routing, as a failed switch or firewall makes it. Each
// node has two addresses on two subnets of 10.77.0.0/16: one for its actor
// system, membership endpoint and API, one for its Raft groups, so that a
// test can cut either network alone.
type netLab struct {
	// id makes the names and subnets of this lab unique on the machine.
	id    int
	nodes int
}

// netLabsMax bounds the labs tried: 10.77.0.0/16 holds this many pairs of
// subnets.
const netLabsMax = 128

// The networks of a lab a test can cut.
const (
	actorNet = "actor"
	raftNet  = "raft"
)

// requireNetns skips the test when the machine cannot make network
// namespaces (no iproute2), and fails it instead under CI=true
// (unavailable).
func requireNetns(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		unavailable(t, "network namespaces are not available (needs root and iproute2): %v %s", err, out)
	}
}

// newNetLab creates the namespaces, the bridge and the links for nodes
// nodes, and removes them when the test ends. When the machine does not
// let it create them (not root, no ip) it skips the test, or fails it
// under CI=true (unavailable).
func newNetLab(t *testing.T, nodes int) *netLab {
	t.Helper()
	requireNetns(t)
	routes, err := exec.Command("ip", "-4", "route", "show").Output()
	if err != nil {
		t.Fatalf("ip route: %v", err)
	}
	lab := &netLab{nodes: nodes}
	// A lab left by a test that was killed, or a subnet the machine uses,
	// makes the next id be taken; creating the bridge claims the id.
	for lab.id = 0; lab.id < netLabsMax; lab.id++ {
		if strings.Contains(string(routes), lab.subnet(actorNet)) || strings.Contains(string(routes), lab.subnet(raftNet)) {
			continue
		}
		out, err := exec.Command("ip", "link", "add", lab.bridge(), "type", "bridge").CombinedOutput()
		if err == nil {
			break
		}
		if strings.Contains(string(out), "not permitted") {
			unavailable(t, "cannot create network devices (needs root): %s", out)
		}
	}
	if lab.id == netLabsMax {
		t.Fatal("no free name and subnet for a network lab")
	}
	t.Cleanup(lab.remove)
	lab.ip(t, "addr", "add", lab.subnet(actorNet)+"1/24", "dev", lab.bridge())
	lab.ip(t, "link", "set", lab.bridge(), "up")
	for i := range nodes {
		if out, err := exec.Command("ip", "netns", "add", lab.netns(i)).CombinedOutput(); err != nil {
			unavailable(t, "cannot create a network namespace: %v %s", err, out)
		}
		lab.ip(t, "link", "add", lab.veth(i), "type", "veth", "peer", "name", "eth0", "netns", lab.netns(i))
		lab.ip(t, "link", "set", lab.veth(i), "master", lab.bridge())
		lab.ip(t, "link", "set", lab.veth(i), "up")
		lab.ip(t, "-n", lab.netns(i), "addr", "add", lab.addr(actorNet, i)+"/24", "dev", "eth0")
		lab.ip(t, "-n", lab.netns(i), "addr", "add", lab.addr(raftNet, i)+"/24", "dev", "eth0")
		lab.ip(t, "-n", lab.netns(i), "link", "set", "eth0", "up")
		lab.ip(t, "-n", lab.netns(i), "link", "set", "lo", "up")
	}
	return lab
}

// remove deletes the veth pairs (the kernel frees a namespace's devices
// only some time after the namespace is deleted), the namespaces and the
// bridge.
func (lab *netLab) remove() {
	for i := range lab.nodes {
		_ = exec.Command("ip", "link", "delete", lab.veth(i)).Run()
		_ = exec.Command("ip", "netns", "delete", lab.netns(i)).Run()
	}
	_ = exec.Command("ip", "link", "delete", lab.bridge()).Run()
}

func (lab *netLab) bridge() string     { return fmt.Sprintf("cvlab%dbr", lab.id) }
func (lab *netLab) veth(i int) string  { return fmt.Sprintf("cvlab%dn%d", lab.id, i+1) }
func (lab *netLab) netns(i int) string { return fmt.Sprintf("civicard-lab%d-n%d", lab.id, i+1) }

// subnet is the first three octets of a network, with the dot.
func (lab *netLab) subnet(network string) string {
	third := 2 * lab.id
	if network == raftNet {
		third++
	}
	return fmt.Sprintf("10.77.%d.", third)
}

// addr is node i's address on a network (.1 is the test's).
func (lab *netLab) addr(network string, i int) string {
	return fmt.Sprintf("%s%d", lab.subnet(network), i+2)
}

// places puts node i in its namespace, on fixed ports: nothing else
// listens there.
func (lab *netLab) places() []nodePlace {
	var places []nodePlace
	for i := range lab.nodes {
		places = append(places, nodePlace{
			actor: lab.addr(actorNet, i) + ":7101", raft: lab.addr(raftNet, i) + ":7201",
			http: lab.addr(actorNet, i) + ":8080", netns: lab.netns(i),
		})
	}
	return places
}

// cut separates node i from every other node on the given networks: a
// blackhole route on each side, so neither reaches the other, while the
// test still reaches them all.
func (lab *netLab) cut(t *testing.T, i int, networks ...string) {
	t.Helper()
	lab.routes(t, "add", i, networks)
}

// heal undoes cut.
func (lab *netLab) heal(t *testing.T, i int, networks ...string) {
	t.Helper()
	lab.routes(t, "delete", i, networks)
}

func (lab *netLab) routes(t *testing.T, verb string, i int, networks []string) {
	t.Helper()
	for _, network := range networks {
		for j := range lab.nodes {
			if j == i {
				continue
			}
			lab.ip(t, "-n", lab.netns(i), "route", verb, "blackhole", lab.addr(network, j)+"/32")
			lab.ip(t, "-n", lab.netns(j), "route", verb, "blackhole", lab.addr(network, i)+"/32")
		}
	}
}

func (lab *netLab) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
