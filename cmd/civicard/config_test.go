package main

import (
	"strings"
	"testing"
)

// A node process's flags are read into one config and checked as a whole:
// flags that contradict each other are refused, and the message names both.
func TestConfigValidateRefusesContradictions(t *testing.T) {
	const (
		peers = "--peers=n1=127.0.0.1:7110=127.0.0.1:7201,n2=127.0.0.1:7120=127.0.0.1:7202,n3=127.0.0.1:7130=127.0.0.1:7203"
		join  = "--join=127.0.0.1:7201"
	)
	for _, tc := range []struct {
		name    string
		command string // up, node or gateway
		args    []string
		// want are the settings the error must name; none: valid.
		want []string
	}{
		{name: "up, defaults", command: "up"},
		{name: "node of a demo city", command: "node", args: []string{"--name=n1", peers, "--demo"}},
		{name: "node paying out from the operator's account", command: "node", args: []string{"--name=n1", peers,
			"--operator-name=Operator", "--operator-iban=PL52102055610000000000000001", "--operator-bic=BPKOPLPW"}},
		{name: "node closing cycles on request only", command: "node", args: []string{"--name=n1", peers, "--cycle=0"}},
		{name: "gateway, defaults", command: "gateway", args: []string{"--name=g1", peers, "--actor=127.0.0.1:7150"}},
		{name: "joining node", command: "node", args: []string{"--name=n4", join, "--actor=127.0.0.1:7140", "--raft=127.0.0.1:7204", "--demo"}},
		{name: "a city in euro, paid in euro", command: "up", args: []string{"--currency=EUR", "--payout-currency=EUR"}},
		{name: "ports the system picks never clash", command: "up", args: []string{"--http=127.0.0.1:0", "--debug=127.0.0.1:0"}},

		{name: "payouts in another currency than the ledger's", command: "up", args: []string{"--payout-currency=EUR"},
			want: []string{"--payout-currency EUR", "--currency PLN"}},
		{name: "payouts in another currency, on a cluster node", command: "node", args: []string{"--name=n1", peers, "--demo", "--currency=EUR", "--payout-currency=PLN"},
			want: []string{"--payout-currency PLN", "--currency EUR"}},
		{name: "profiler on the API's address", command: "up", args: []string{"--http=127.0.0.1:8080", "--debug=127.0.0.1:8080"},
			want: []string{"--http 127.0.0.1:8080", "--debug 127.0.0.1:8080"}},
		{name: "profiler on every interface, API on loopback", command: "up", args: []string{"--http=127.0.0.1:8080", "--debug=:8080"},
			want: []string{"--http", "--debug :8080"}},
		{name: "API on the node's membership endpoint", command: "node", args: []string{"--name=n1", peers, "--http=127.0.0.1:7111"},
			want: []string{"--http 127.0.0.1:7111", "--peers (n1's membership endpoint"}},
		{name: "profiler on the node's Raft address", command: "node", args: []string{"--name=n2", peers, "--debug=127.0.0.1:7202"},
			want: []string{"--debug 127.0.0.1:7202", "--peers (n2's Raft address)"}},
		{name: "API on a gateway's actor address", command: "gateway", args: []string{"--name=g1", peers, "--actor=127.0.0.1:7150", "--http=0.0.0.0:7150"},
			want: []string{"--http 0.0.0.0:7150", "--actor 127.0.0.1:7150"}},
		{name: "joining node's Raft address on its membership endpoint", command: "node", args: []string{"--name=n4", join, "--actor=127.0.0.1:7140", "--raft=127.0.0.1:7141"},
			want: []string{"--raft 127.0.0.1:7141", "the membership endpoint (--actor's port + 1)"}},
		{name: "daily cycles and nobody to pay them", command: "node", args: []string{"--name=n1", peers},
			want: []string{"--operator-iban", "--cycle 0"}},
		{name: "shards for a node that joins", command: "node", args: []string{"--name=n4", join, "--actor=127.0.0.1:7140", "--raft=127.0.0.1:7204", "--shards=2"},
			want: []string{"--shards 2", "--join"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg config
			var err error
			switch tc.command {
			case "up":
				cfg, err = upConfig(tc.args)
			default:
				cfg, err = nodeConfig(tc.args, tc.command == "gateway")
			}
			if err != nil {
				t.Fatalf("flags %q: %v", tc.args, err)
			}
			err = cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, does not name %q", err, w)
				}
			}
		})
	}
}

// The settings that have no second flag to contradict are still checked
// before anything starts, together with the rest.
func TestConfigValidateRefusesImpossibleSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		// Payout files are written in PLN or EUR only.
		{[]string{"--currency=CZK"}, "CZK"},
		{[]string{"--cycle=10ms"}, "cycle"},
		{[]string{"--operator-iban=PL00123"}, "operator account"},
		{[]string{"--fee-bp=20000"}, "basis points"},
		{[]string{"--http=localhost"}, "--http"},
	} {
		cfg, err := upConfig(tc.args)
		if err != nil {
			t.Fatalf("flags %q: %v", tc.args, err)
		}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: Validate() = %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
}

// The API is plain text only on loopback, or when asked for in so many
// words; TLS needs both its certificate and its key.
func TestConfigValidateTLS(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // part of the error; "" for valid settings
	}{
		{[]string{}, ""},
		{[]string{"--http=127.0.0.1:8080"}, ""},
		{[]string{"--http=[::1]:8080"}, ""},
		{[]string{"--http=localhost:8080"}, ""},
		{[]string{"--http=0.0.0.0:8080"}, "not a loopback address"},
		{[]string{"--http=:8080"}, "not a loopback address"},
		{[]string{"--http=10.0.0.5:8080"}, "not a loopback address"},
		{[]string{"--http=10.0.0.5:8080", "--insecure-plain-http"}, ""},
		{[]string{"--http=10.0.0.5:8080", "--tls-cert=c.pem", "--tls-key=k.pem"}, ""},
		{[]string{"--tls-cert=c.pem"}, "go together"},
		{[]string{"--tls-key=k.pem"}, "go together"},
		{[]string{"--tls-cert=c.pem", "--tls-key=k.pem", "--insecure-plain-http"}, "contradicts"},
	} {
		cfg, err := upConfig(tc.args)
		if err != nil {
			t.Fatalf("flags %q: %v", tc.args, err)
		}
		err = cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: Validate() = %v, want valid", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: Validate() = %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
}
