package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

// testHost is one node of a test cluster: a Host on 127.0.0.1, with what it
// takes to restart it on the same directory and address.
type testHost struct {
	*Host
	id  string
	dir string
	reg *prometheus.Registry
}

// startHost opens a host listening on addr ("127.0.0.1:0" for a fresh
// port) and closes it when the test ends.
func startHost(tb testing.TB, id, dir, addr string) *testHost {
	tb.Helper()
	return startHostTLS(tb, id, dir, addr, nil)
}

// startHostTLS is startHost with the host's links secured by tlsCfg (nil:
// in the clear).
func startHostTLS(tb testing.TB, id, dir, addr string, tlsCfg *tls.Config) *testHost {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	reg := prometheus.NewRegistry()
	cfg := DefaultHostConfig()
	cfg.NodeID, cfg.Dir, cfg.Listener, cfg.TLS = id, dir, ln, tlsCfg
	cfg.Logger = slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	cfg.Registerer = reg
	cfg.Group.Ledger.BalanceMaxMinor = 1_000_000_000
	cfg.Group.Ledger.AmountMaxMinor = 1_000_000_000
	h, err := OpenHost(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("OpenHost %s: %v", id, err)
	}
	tb.Cleanup(func() {
		if err := h.Close(); err != nil {
			tb.Errorf("Close %s: %v", id, err)
		}
	})
	return &testHost{Host: h, id: id, dir: dir, reg: reg}
}

// startCluster starts n hosts and has the first min(n, 3) of them
// replicate each group, the first voter rotating from group to group, so
// leaders spread. It returns once every group has a leader.
func startCluster(tb testing.TB, n int, groups ...string) []*testHost {
	tb.Helper()
	return startClusterTLS(tb, n, func(string) *tls.Config { return nil }, groups...)
}

// startClusterTLS is startCluster with each host's links secured by
// tlsFor(its id).
func startClusterTLS(tb testing.TB, n int, tlsFor func(id string) *tls.Config, groups ...string) []*testHost {
	tb.Helper()
	root := tb.TempDir()
	hosts := make([]*testHost, n)
	for i := range hosts {
		id := fmt.Sprintf("node-%d", i+1)
		hosts[i] = startHostTLS(tb, id, filepath.Join(root, id), "127.0.0.1:0", tlsFor(id))
	}
	for gi, name := range groups {
		spec := specFor(hosts, gi, name)
		for _, p := range spec.Voters {
			for _, h := range hosts {
				if h.id == p.NodeID {
					if err := h.Join(tb.Context(), spec); err != nil {
						tb.Fatalf("Join %s on %s: %v", name, h.id, err)
					}
				}
			}
		}
	}
	for _, name := range groups {
		for _, h := range hosts {
			if h.replica(name) == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(tb.Context(), openTimeout)
			if _, err := h.WaitLeader(ctx, name); err != nil {
				tb.Fatalf("%s: %v", h.id, err)
			}
			cancel()
		}
	}
	return hosts
}

// specFor is group gi's spec: three voters (or all hosts, if fewer),
// starting at host gi.
func specFor(hosts []*testHost, gi int, name string) GroupSpec {
	spec := GroupSpec{Name: name}
	for k := range min(3, len(hosts)) {
		spec.Voters = append(spec.Voters, hosts[(gi+k)%len(hosts)].Self())
	}
	return spec
}

// leaderOf returns the host whose replica of group leads, waiting for one.
func leaderOf(tb testing.TB, hosts []*testHost, group string) *testHost {
	tb.Helper()
	var leader *testHost
	waitFor(tb, "a leader of "+group, func() bool {
		for _, h := range hosts {
			if h == nil {
				continue
			}
			if st, err := h.Status(group); err == nil && st.State == "Leader" {
				leader = h
				return true
			}
		}
		return false
	})
	return leader
}

// converged waits until every given replica of group has applied the same
// index, and fails unless their digests are then equal.
func converged(tb testing.TB, hosts []*testHost, group string) {
	tb.Helper()
	leader := leaderOf(tb, hosts, group)
	waitFor(tb, group+" replicas to apply the same log", func() bool {
		want, _ := leader.Status(group)
		for _, h := range hosts {
			st, err := h.Status(group)
			if err != nil || st.AppliedIndex != want.CommitIndex || st.AppliedIndex != want.AppliedIndex {
				return false
			}
		}
		return true
	})
	want, _ := leader.Digest(group)
	for _, h := range hosts {
		got, err := h.Digest(group)
		if err != nil {
			tb.Fatalf("Digest %s on %s: %v", group, h.id, err)
		}
		if got != want {
			tb.Errorf("%s: digest on %s %x, on the leader %s %x", group, h.id, got[:6], leader.id, want[:6])
		}
	}
	if err := leader.ReadLocal(group, func(s *ledger.State) {
		if err := s.Check(); err != nil {
			tb.Errorf("%s: Check: %v", group, err)
		}
	}); err != nil {
		tb.Fatal(err)
	}
}

// hostAllOK proposes cmds with ProposeAll and fails unless each is OK.
func hostAllOK(tb testing.TB, h *testHost, group string, cmds []*ledgerv1.Command) []*ledgerv1.Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), openTimeout)
	defer cancel()
	results, err := h.ProposeAll(ctx, group, cmds)
	if err != nil {
		tb.Fatalf("ProposeAll on %s: %v", group, err)
	}
	for i, r := range results {
		if r.GetStatus() != ledgerv1.Status_STATUS_OK {
			tb.Fatalf("%s: command %s: %v %s", group, cmds[i].GetId(), r.GetStatus(), r.GetError())
		}
	}
	return results
}

// history records what the callers of a test were told, to check against
// the ledgers afterwards.
type history struct {
	mu    sync.Mutex
	acked map[string]acked // command id -> what its caller was answered
	tried map[string]tried // every command proposed, answered or not
}

type acked struct {
	group string
	res   *ledgerv1.Result
}

type tried struct {
	group string
	cmd   *ledgerv1.Command
}

func newHistory() *history {
	return &history{acked: make(map[string]acked), tried: make(map[string]tried)}
}

func (hs *history) try(group string, cmd *ledgerv1.Command) {
	hs.mu.Lock()
	hs.tried[cmd.GetId()] = tried{group: group, cmd: cmd}
	hs.mu.Unlock()
}

func (hs *history) ack(group string, cmd *ledgerv1.Command, res *ledgerv1.Result) {
	hs.mu.Lock()
	hs.acked[cmd.GetId()] = acked{group: group, res: res}
	hs.mu.Unlock()
}

func (hs *history) ackedCount() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return len(hs.acked)
}

// verify proposes every command tried again, through h. An acknowledged one
// must come back replayed, with exactly the result its caller got (nothing
// acknowledged was lost, no result was wrong); an unacknowledged one either
// replays (it had been applied) or applies now. It returns the top-ups'
// total per group, now all applied.
func (hs *history) verify(tb testing.TB, h *testHost) map[string]int64 {
	tb.Helper()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	topped := make(map[string]int64)
	for id, tr := range hs.tried {
		ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
		res, err := h.Propose(ctx, tr.group, tr.cmd)
		cancel()
		if err != nil {
			tb.Fatalf("re-proposing %s: %v", id, err)
		}
		if a, ok := hs.acked[id]; ok {
			if !res.GetReplayed() {
				tb.Errorf("%s was acknowledged (%v) but is not in the ledger: applied again now", id, a.res.GetStatus())
			}
			first := proto.Clone(res).(*ledgerv1.Result)
			first.Replayed = a.res.GetReplayed()
			if !proto.Equal(first, a.res) {
				tb.Errorf("%s: the caller was answered %v, the ledger holds %v", id, a.res, res)
			}
		}
		if res.GetStatus() == ledgerv1.Status_STATUS_OK && tr.cmd.GetTopUp() != nil {
			topped[tr.group] += tr.cmd.GetTopUp().GetAmountMinor()
		}
	}
	return topped
}

// isUnknownOrNoLeader holds for the errors a Host call may end with when a
// fault outlasts its context: never a made-up result.
func isUnknownOrNoLeader(err error) bool {
	return errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrNoLeader) || errors.Is(err, ErrClosed)
}
