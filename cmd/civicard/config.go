package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"civicard/cluster"
	"civicard/domain/settlement/payout"
	"civicard/sim/demo"
)

// config is everything a node process (civicard up, node, gateway) runs
// with, read from its flags into one value and checked as a whole
// (Validate) before anything opens: a contradiction between two flags is
// refused at start, naming both, instead of failing at the first cycle's
// close or on a port taken half-way through the start.
type config struct {
	// command is "up", "node" or "gateway".
	command string
	// Node is the cluster node. `up` runs an embedded node of its
	// Settings; the rest is for `node` and `gateway`.
	Node cluster.NodeConfig
	// HTTPAddr serves the API, /healthz and /metrics (--http); DebugAddr,
	// if set, Go's profiler (--debug).
	HTTPAddr  string
	DebugAddr string
	// TLSCertFile and TLSKeyFile serve the API over TLS (--tls-cert,
	// --tls-key), both or neither. Without them the API is plain text,
	// which a non-loopback HTTPAddr allows only with InsecurePlainHTTP
	// (--insecure-plain-http): card numbers, credentials and operator
	// tokens cross the network in it.
	TLSCertFile       string
	TLSKeyFile        string
	InsecurePlainHTTP bool
	LogLevel          slog.Level
	// PayoutCurrency is what --payout-currency said, "" if nothing.
	// Payouts are paid in the currency the ledger keeps (Node.Currency,
	// --currency): the flag is only checked against it.
	PayoutCurrency string
	// Demo, if set, is the demo city the node loads into a new cluster
	// (`up`, `node --demo`); nil starts it empty.
	Demo *demoCity
}

// useDemoDebtor pays out from the demo city's account when no --operator-*
// flag names one: a demo's debtor, never a default of a real installation.
func (c *config) useDemoDebtor() {
	if c.Node.Settlement.Operator == (payout.Party{}) {
		c.Node.Settlement.Operator = demo.PayoutDebtor()
	}
}

// newConfig is the default configuration of command.
func newConfig(command string) config {
	return config{command: command, Node: cluster.DefaultNodeConfig()}
}

// Validate checks the configuration as a whole: the flags against each
// other (each error names both), then the node's settings together
// (cluster.NodeConfig.Validate, cluster.EmbeddedConfig.Validate).
func (c config) Validate() error {
	var errs []error
	if c.PayoutCurrency != "" && c.PayoutCurrency != c.Node.Currency {
		errs = append(errs, fmt.Errorf("--payout-currency %s contradicts --currency %s: payouts are paid in the currency the ledger keeps", c.PayoutCurrency, c.Node.Currency))
	}
	if c.command == "node" && len(c.Node.Join) > 0 && c.Node.Shards != 0 {
		errs = append(errs, fmt.Errorf("--shards %d contradicts --join: the shards are fixed when a cluster is created (--peers), and a joining node takes the registry's", c.Node.Shards))
	}
	errs = append(errs, c.checkTLS())
	errs = append(errs, checkListeners(c.listeners()))
	if c.command == "up" {
		errs = append(errs, cluster.EmbeddedConfig{Settings: c.Node.Settings}.Validate())
	} else {
		errs = append(errs, c.Node.Validate())
	}
	return errors.Join(errs...)
}

// checkTLS refuses a plain-text API anywhere but on loopback, unless asked
// for in so many words.
func (c config) checkTLS() error {
	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	case c.TLSCertFile != "" && c.InsecurePlainHTTP:
		return errors.New("--insecure-plain-http contradicts --tls-cert: the API is either plain or TLS")
	case c.TLSCertFile != "" || c.InsecurePlainHTTP || isLoopback(c.HTTPAddr):
		return nil
	}
	return fmt.Errorf("--http %s is not a loopback address: serve the API over TLS (--tls-cert, --tls-key), or say --insecure-plain-http", c.HTTPAddr)
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listener is an address the process listens on, and the flag that sets it.
type listener struct {
	flag string
	addr string
}

// listeners are the addresses the process will listen on.
func (c config) listeners() []listener {
	out := []listener{{"--http", c.HTTPAddr}}
	if c.DebugAddr != "" {
		out = append(out, listener{"--debug", c.DebugAddr})
	}
	if c.command == "up" {
		// The embedded node's actor and Raft ports are the system's to pick.
		return out
	}
	// A gateway's Raft port, which only forwards, is the system's to pick.
	actor, raft := c.Node.GatewayActor, ""
	actorFlag, raftFlag, membership := "--actor", "", "the membership endpoint (--actor's port + 1)"
	switch {
	case len(c.Node.Join) > 0:
		actor, raft, raftFlag = c.Node.Self.Actor, c.Node.Self.Raft, "--raft"
	case !c.Node.Gateway:
		for _, p := range c.Node.Peers {
			if p.Name == c.Node.Name {
				actor, raft = p.Actor, p.Raft
				actorFlag = fmt.Sprintf("--peers (%s's actor address)", p.Name)
				raftFlag = fmt.Sprintf("--peers (%s's Raft address)", p.Name)
				membership = fmt.Sprintf("--peers (%s's membership endpoint, its actor port + 1)", p.Name)
			}
		}
	}
	if actor != "" {
		out = append(out, listener{actorFlag, actor})
		// The membership endpoint listens on the actor port + 1 (cluster).
		if host, port, err := splitPort(actor); err == nil && port > 0 {
			out = append(out, listener{membership, net.JoinHostPort(host, strconv.Itoa(port+1))})
		}
	}
	if raft != "" {
		out = append(out, listener{raftFlag, raft})
	}
	return out
}

// checkListeners refuses two listeners on one port (port 0 is the system's
// to pick, so it never clashes); a host left empty or unspecified listens
// on every interface, and so clashes with any host on its port.
func checkListeners(ls []listener) error {
	var errs []error
	for i, a := range ls {
		hostA, portA, err := splitPort(a.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", a.flag, a.addr, err))
			continue
		}
		for _, b := range ls[i+1:] {
			hostB, portB, err := splitPort(b.addr)
			if err != nil || portA == 0 || portA != portB {
				continue
			}
			if hostA == hostB || anyInterface(hostA) || anyInterface(hostB) {
				errs = append(errs, fmt.Errorf("%s %s and %s %s are the same address: each listens on its own", a.flag, a.addr, b.flag, b.addr))
			}
		}
	}
	return errors.Join(errs...)
}

func splitPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q", portText)
	}
	return host, port, nil
}

func anyInterface(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}
