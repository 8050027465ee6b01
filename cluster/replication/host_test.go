package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"civicard/domain/ledger"
	ledgerv1 "civicard/messages/ledger/v1"
	replicationv1 "civicard/messages/replication/v1"

	"google.golang.org/protobuf/proto"
)

// ShardOf is part of the on-disk contract: these values must never change.
func TestShardOfIsStable(t *testing.T) {
	for _, c := range []struct {
		card   string
		shards int
		want   int
	}{
		{"320000002990", 1, 0},
		{"320000002990", 2, 0},
		{"320000002990", 3, 1},
		{"320000000018", 3, 2},
		{"320000000018", 7, 6},
		{"", 5, 2}, // FNV-1a's offset basis 14695981039346656037 mod 5
	} {
		if got := ShardOf(c.card, c.shards); got != c.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", c.card, c.shards, got, c.want)
		}
	}
	// And it spreads: no shard of 4 above 1.1x its share of 40,000 ids.
	counts := make([]int, 4)
	for i := range 40000 {
		counts[ShardOf(fmt.Sprintf("32%010d", i), 4)]++
	}
	for s, n := range counts {
		if n > 11000 {
			t.Errorf("shard %d holds %d of 40000 cards", s, n)
		}
	}
}

// Proposals from every host of a 3-node cluster (registry and two shards,
// leaders spread) land exactly once: each caller's answer is what the ledger
// holds, a retry under the same id is replayed, the money adds up per
// shard, every replica ends with the same digest, and a linearizable read
// from any host sees the last acknowledged balance.
func TestHostProposalsFromEveryHost(t *testing.T) {
	groups := []string{RegistryGroup, ShardGroup(0), ShardGroup(1)}
	hosts := startCluster(t, 3, groups...)
	const workersPerHost, opsEach = 4, 30

	// Two cards per worker, each in the shard ShardOf says.
	type owned struct {
		ids []string
	}
	cardsOf := make([]owned, 3*workersPerHost)
	byShard := make(map[string][]string)
	for w := range cardsOf {
		for k := range 2 {
			id := fmt.Sprintf("32%04d%04d", w, k)
			cardsOf[w].ids = append(cardsOf[w].ids, id)
			g := ShardGroup(ShardOf(id, 2))
			byShard[g] = append(byShard[g], id)
		}
	}
	hostAllOK(t, hosts[0], RegistryGroup, setupCommands())
	for s := range 2 {
		g := ShardGroup(s)
		// Set up through a different host each: forwarded or not.
		hostAllOK(t, hosts[s+1], g, setupCommands(byShard[g]...))
	}

	hs := newHistory()
	var wg sync.WaitGroup
	for w := range cardsOf {
		h := hosts[w%3]
		wg.Go(func() {
			versions := make(map[string]uint64)
			for _, card := range cardsOf[w].ids {
				r, err := h.Query(t.Context(), ShardGroup(ShardOf(card, 2)), &replicationv1.Query{Kind: &replicationv1.Query_CardId{CardId: card}})
				if err != nil || !r.GetFound() {
					t.Errorf("card %s: %v, %v", card, r.GetFound(), err)
					return
				}
				versions[card] = r.GetCard().GetVersion()
			}
			for op := range opsEach {
				card := cardsOf[w].ids[op%2]
				group := ShardGroup(ShardOf(card, 2))
				var cmd *ledgerv1.Command
				if op%3 == 0 {
					cmd = topUp(fmt.Sprintf("topup/%d/%d", w, op), card, 1000)
				} else {
					cmd = charge(uint64(w*opsEach+op+1), card, versions[card], int64(1+op))
				}
				hs.try(group, cmd)
				res, err := h.Propose(t.Context(), group, cmd)
				if err != nil {
					t.Errorf("%s: Propose %s: %v", h.id, cmd.GetId(), err)
					return
				}
				if res.GetStatus() == ledgerv1.Status_STATUS_STALE_VERSION {
					t.Errorf("%s: stale version on a card only this worker uses", cmd.GetId())
					return
				}
				hs.ack(group, cmd, res)
				versions[card] = res.GetCard().GetVersion()
				if op%5 == 4 {
					// A retry, as after a lost answer: the first result, replayed.
					again, err := hosts[(w+op)%3].Propose(t.Context(), group, cmd)
					if err != nil || !again.GetReplayed() || again.GetTransaction().GetLedgerSequence() != res.GetTransaction().GetLedgerSequence() {
						t.Errorf("retry of %s: %v, %v (first: %v)", cmd.GetId(), again, err, res)
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, g := range groups {
		converged(t, hosts, g)
	}
	charged := make(map[string]int64)
	for id, a := range hs.acked {
		if c := hs.tried[id].cmd.GetCharge(); c != nil && a.res.GetStatus() == ledgerv1.Status_STATUS_OK {
			charged[a.group] += c.GetAmountMinor()
		}
	}
	topped := hs.verify(t, hosts[2])
	for s := range 2 {
		g := ShardGroup(s)
		hosts[0].ReadLocal(g, func(st *ledger.State) {
			tot := st.Totals()
			if tot.FundingMinor != -topped[g] || tot.ReceivablesMinor != charged[g] || tot.CardsMinor != topped[g]-charged[g] {
				t.Errorf("%s: totals %+v; callers saw %d topped up, %d charged", g, tot, topped[g], charged[g])
			}
		})
	}
	// A read at the leader from every host sees the last answer.
	card := cardsOf[0].ids[0]
	g := ShardGroup(ShardOf(card, 2))
	var want int64
	leader := leaderOf(t, hosts, g)
	if err := leader.Read(t.Context(), g, func(st *ledger.State) { c, _ := st.Card(card); want = c.GetBalanceMinor() }); err != nil {
		t.Fatalf("Read at the leader: %v", err)
	}
	for _, h := range hosts {
		if h != leader {
			if err := h.Read(t.Context(), g, func(*ledger.State) {}); !errors.Is(err, ErrNotLeader) {
				t.Errorf("Read on follower %s: %v, want ErrNotLeader", h.id, err)
			}
		}
	}
	for _, h := range hosts {
		r, err := h.Query(t.Context(), g, &replicationv1.Query{Kind: &replicationv1.Query_CardId{CardId: card}})
		if err != nil || !r.GetFound() || r.GetCard().GetBalanceMinor() != want {
			t.Errorf("card on %s: %v %v, want balance %d", h.id, r, err, want)
		}
		r, err = h.Query(t.Context(), RegistryGroup, &replicationv1.Query{Kind: &replicationv1.Query_InstitutionId{InstitutionId: testInstitution}})
		if err != nil || !r.GetFound() || r.GetInstitution().GetInstitutionId() != testInstitution {
			t.Errorf("institution on %s: %v %v", h.id, r, err)
		}
		if r, err := h.Query(t.Context(), g, &replicationv1.Query{Kind: &replicationv1.Query_TerminalId{TerminalId: "T-NONE"}}); err != nil || r.GetFound() {
			t.Errorf("terminal T-NONE on %s: found %v, %v", h.id, r.GetFound(), err)
		}
		r, err = h.Query(t.Context(), g, &replicationv1.Query{Kind: &replicationv1.Query_Transactions{Transactions: &replicationv1.TransactionsQuery{CardId: card, Limit: 3}}})
		if txns := r.GetTransactions().GetTransactions(); err != nil || len(txns) != 3 {
			t.Errorf("transactions on %s: %d, %v", h.id, len(txns), err)
		}
		// A query the ledger cannot answer (no kind, at the leader) is
		// refused there, from the leader and through a follower alike.
		if r, err := h.Query(t.Context(), g, &replicationv1.Query{Kind: (*replicationv1.Query_CardId)(nil)}); !errors.Is(err, ErrInvalid) {
			t.Errorf("a query of no kind on %s: %v, %v; want ErrInvalid", h.id, r, err)
		}
	}
	if n := gathered(t, hosts[0].reg, "civicard_replication_raft_state", "group", RegistryGroup); n > 3 {
		t.Errorf("raft_state %v", n)
	}
}

// The host leading the shard dies (Close) under proposals from all three
// hosts. The survivors' proposals resume (time measured), nothing
// acknowledged is lost, every forwarded proposal in flight when the leader
// died ends with its true result or an unknown-outcome error, and the dead
// host, restarted on its directory and address, converges to the same
// digest.
func TestHostLeaderLoss(t *testing.T) {
	const group = "shard-0"
	hosts := startCluster(t, 3, group)
	const workersPerHost = 4
	cards := make([]string, 3*workersPerHost)
	for i := range cards {
		cards[i] = fmt.Sprintf("L-%03d", i)
	}
	hostAllOK(t, hosts[0], group, setupCommands(cards...))

	leader := leaderOf(t, hosts, group)
	hs := newHistory()
	var (
		stop       atomic.Bool
		killedAt   atomic.Int64 // unix nanos; 0 before the kill
		closedAt   atomic.Int64 // when Close returned: the host is gone
		firstAfter atomic.Int64 // the first acknowledgement of a proposal made after closedAt
		afterKill  atomic.Int64
		unknown    atomic.Int64
		wg         sync.WaitGroup
	)
	for w := range cards {
		h := hosts[w%3]
		wg.Go(func() {
			for op := 0; !stop.Load(); op++ {
				cmd := topUp(fmt.Sprintf("topup/%d/%d", w, op), cards[w], int64(1+op%7))
				hs.try(group, cmd)
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				t0 := time.Now().UnixNano()
				res, err := h.Propose(ctx, group, cmd)
				cancel()
				if err != nil {
					if h == leader && killedAt.Load() != 0 {
						return // its host is gone
					}
					if !isUnknownOrNoLeader(err) {
						t.Errorf("%s: %s: %v", h.id, cmd.GetId(), err)
						return
					}
					unknown.Add(1)
					continue
				}
				if res.GetStatus() != ledgerv1.Status_STATUS_OK {
					t.Errorf("%s: %v %s", cmd.GetId(), res.GetStatus(), res.GetError())
					return
				}
				hs.ack(group, cmd, res)
				if c := closedAt.Load(); c != 0 && t0 > c {
					firstAfter.CompareAndSwap(0, time.Now().UnixNano())
					afterKill.Add(1)
				}
			}
		})
	}
	waitFor(t, "proposals before the kill", func() bool { return hs.ackedCount() >= 200 })
	killedAt.Store(time.Now().UnixNano())
	if err := leader.Close(); err != nil {
		t.Errorf("closing the leader: %v", err)
	}
	closedAt.Store(time.Now().UnixNano())
	waitFor(t, "proposals after the kill", func() bool { return afterKill.Load() >= 200 })
	stop.Store(true)
	wg.Wait()
	t.Logf("leader %s closed in %v; the first proposal made after that was answered %v later; %d acknowledged in all, %d calls ended without a result",
		leader.id, time.Duration(closedAt.Load()-killedAt.Load()).Round(time.Millisecond),
		time.Duration(firstAfter.Load()-closedAt.Load()).Round(time.Millisecond), hs.ackedCount(), unknown.Load())

	var survivors []*testHost
	for _, h := range hosts {
		if h != leader {
			survivors = append(survivors, h)
		}
	}
	converged(t, survivors, group)

	// Restart the dead host: same directory, same address.
	back := startHost(t, leader.id, leader.dir, leader.Addr())
	if err := back.Join(t.Context(), specFor(hosts, 0, group)); err != nil {
		t.Fatal(err)
	}
	topped := hs.verify(t, survivors[0])
	all := append(survivors, back)
	converged(t, all, group)
	back.ReadLocal(group, func(st *ledger.State) {
		if tot := st.Totals(); tot.FundingMinor != -topped[group] || tot.CardsMinor != topped[group] {
			t.Errorf("totals %+v; %d topped up", tot, topped[group])
		}
	})
}

// Moving a replica under load: a fourth host joins as a non-voter, catches
// up, is promoted, and the old leader is removed and leaves. Proposals from
// every host, the removed one included (it forwards), go on throughout; in
// the end the three members have equal digests and nothing acknowledged is
// lost.
func TestHostMoveReplica(t *testing.T) {
	const group = "shard-0"
	hosts := startCluster(t, 4, group) // the fourth hosts nothing yet
	cards := make([]string, 8)
	for i := range cards {
		cards[i] = fmt.Sprintf("M-%03d", i)
	}
	hostAllOK(t, hosts[0], group, setupCommands(cards...))
	spec := specFor(hosts, 0, group)
	for _, h := range hosts {
		if err := h.Route(group, spec.Voters); err != nil {
			t.Fatal(err)
		}
	}

	hs := newHistory()
	var (
		stop  atomic.Bool
		count atomic.Int64
		wg    sync.WaitGroup
	)
	for w := range cards {
		h := hosts[w%4]
		wg.Go(func() {
			for op := 0; !stop.Load(); op++ {
				cmd := topUp(fmt.Sprintf("topup/%d/%d", w, op), cards[w], 5)
				hs.try(group, cmd)
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				res, err := h.Propose(ctx, group, cmd)
				cancel()
				if err != nil {
					if !isUnknownOrNoLeader(err) {
						t.Errorf("%s: %s: %v", h.id, cmd.GetId(), err)
						return
					}
					continue
				}
				hs.ack(group, cmd, res)
				count.Add(1)
			}
		})
	}
	waitFor(t, "proposals before the move", func() bool { return count.Load() >= 100 })

	newcomer, old := hosts[3], leaderOf(t, hosts, group)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := newcomer.Join(ctx, GroupSpec{Name: group}); err != nil {
		t.Fatal(err)
	}
	if err := hosts[1].AddNonvoter(ctx, group, newcomer.Self()); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	target, _ := old.Status(group)
	waitFor(t, "the non-voter to catch up", func() bool {
		st, _ := newcomer.Status(group)
		return st.AppliedIndex >= target.CommitIndex
	})
	if err := hosts[2].AddVoter(ctx, group, newcomer.Self()); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	if err := newcomer.RemoveServer(ctx, group, old.id); err != nil {
		t.Fatalf("RemoveServer: %v", err)
	}
	if err := old.Leave(group); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	before := count.Load()
	waitFor(t, "proposals after the move", func() bool { return count.Load() >= before+100 })
	stop.Store(true)
	wg.Wait()

	var members []*testHost
	for _, h := range hosts {
		if h != old {
			members = append(members, h)
		}
	}
	converged(t, members, group)
	st, _ := newcomer.Status(group)
	if len(st.Voters) != 3 || len(st.Nonvoters) != 0 {
		t.Errorf("voters %v, non-voters %v", st.Voters, st.Nonvoters)
	}
	for _, v := range st.Voters {
		if v.NodeID == old.id {
			t.Errorf("%s is still a voter", old.id)
		}
	}
	hs.verify(t, old) // through the host that left: forwarded
	converged(t, members, group)
}

// A forwarded proposal whose receiver takes the request and dies before
// answering ends with ErrOutcomeUnknown (and the context's error), never a
// result; one that never reaches anybody ends with ErrNoLeader.
func TestForwardUnknownOutcome(t *testing.T) {
	// A "leader" that reads the request and hangs up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var served atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if line, err := readPreamble(c); err != nil || line != preambleForward {
					return
				}
				var req replicationv1.ForwardRequest
				if readFrame(bufio.NewReader(c), &req) == nil {
					served.Add(1)
				}
			}()
		}
	}()
	h := startHost(t, "node-1", t.TempDir(), "127.0.0.1:0")
	if err := h.Route("shard-0", []Peer{{NodeID: "dying", RaftAddr: ln.Addr().String()}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	res, err := h.Propose(ctx, "shard-0", topUp("topup/x", "C-1", 5))
	if res != nil || !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Propose = %v, %v; want no result and an unknown outcome", res, err)
	}
	if served.Load() == 0 {
		t.Error("the request never reached the dying leader")
	}

	// Nobody listens there.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	if err := h.Route("shard-1", []Peer{{NodeID: "gone", RaftAddr: dead.Addr().String()}}); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel2()
	if res, err := h.Propose(ctx2, "shard-1", topUp("topup/y", "C-1", 5)); res != nil || !errors.Is(err, ErrNoLeader) {
		t.Errorf("Propose = %v, %v; want ErrNoLeader", res, err)
	}
	if _, err := h.Propose(t.Context(), "shard-9", topUp("topup/z", "C-1", 5)); !errors.Is(err, ErrNoGroup) {
		t.Errorf("Propose to a group with no route: %v, want ErrNoGroup", err)
	}
	if _, err := h.Propose(t.Context(), "Bad Name", topUp("topup/z", "C-1", 5)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Propose to a bad group name: %v, want ErrInvalid", err)
	}
}

// The mux drops connections with a bad preamble or for a group it does not
// host, and keeps serving.
func TestMuxDropsStrangers(t *testing.T) {
	hosts := startCluster(t, 1, "shard-0")
	for _, line := range []string{"hello", "raft shard-7", string(make([]byte, 200))} {
		c, err := net.Dial("tcp", hosts[0].Addr())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "%s\n", line)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("after %.10q: read %d, %v; want the connection closed", line, n, err)
		}
		c.Close()
	}
	// One node, one voter: it leads and serves.
	hostAllOK(t, hosts[0], "shard-0", setupCommands("C-1"))
}

func TestHostConfigValidate(t *testing.T) {
	good := DefaultHostConfig()
	good.NodeID, good.Dir, good.RaftAddr = "n1", filepath.Join(t.TempDir(), "n1"), "127.0.0.1:7000"
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mutate := range map[string]func(*HostConfig){
		"no node id":     func(c *HostConfig) { c.NodeID = "" },
		"no dir":         func(c *HostConfig) { c.Dir = "" },
		"no address":     func(c *HostConfig) { c.RaftAddr = "" },
		"bad address":    func(c *HostConfig) { c.RaftAddr = "localhost" },
		"no in-flight":   func(c *HostConfig) { c.ForwardInFlightMax = 0 },
		"no attempts":    func(c *HostConfig) { c.AttemptsMax = 0 },
		"bad group":      func(c *HostConfig) { c.Group.BatchMax = 0 },
		"no conns":       func(c *HostConfig) { c.ForwardConnsPerPeer = 0 },
		"too many tries": func(c *HostConfig) { c.AttemptsMax = 1 << 20 },
	} {
		c := good
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate passed", name)
		}
	}
	for _, bad := range []string{"", "Shard", "a/b", "..", ".x", string(make([]byte, 65))} {
		if checkGroupName(bad) == nil {
			t.Errorf("group name %q accepted", bad)
		}
	}
}

// Requests pipelined on one connection get their own responses, whatever
// order the server answers in.
func TestForwarderPipelinesOutOfOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const calls = 50
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := readPreamble(c); err != nil {
			return
		}
		r, w := bufio.NewReader(c), bufio.NewWriter(c)
		reqs := make([]*replicationv1.ForwardRequest, 0, calls)
		for range calls {
			req := new(replicationv1.ForwardRequest)
			if readFrame(r, req) != nil {
				return
			}
			reqs = append(reqs, req)
		}
		for i := len(reqs) - 1; i >= 0; i-- { // last first
			data, _ := proto.Marshal(&replicationv1.ForwardResponse{
				Id: reqs[i].GetId(), Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK, Error: reqs[i].GetGroup(),
			})
			writeFrame(w, data)
		}
		w.Flush()
		io.Copy(io.Discard, c)
	}()

	f := newForwarder(calls, 1, nil)
	defer f.close()
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			tag := fmt.Sprintf("g-%d", i)
			resp, err := f.call(t.Context(), ln.Addr().String(), &replicationv1.ForwardRequest{Group: tag})
			if err != nil || resp.GetError() != tag {
				t.Errorf("call %s: %v, %v", tag, resp, err)
			}
		})
	}
	wg.Wait()
	// The in-flight bound: with every slot taken, a call fails at once,
	// unsent.
	for range calls {
		f.inFlight <- struct{}{}
	}
	_, err = f.call(t.Context(), ln.Addr().String(), &replicationv1.ForwardRequest{Group: "x"})
	var ns errNotSent
	if !errors.As(err, &ns) || !errors.Is(err, ErrOverloaded) {
		t.Errorf("call with no slot: %v, want unsent ErrOverloaded", err)
	}
}

// Replayed means that the caller sent the command before. When an attempt's
// answer is lost and the retry finds the command applied, the replay
// answers this call's own attempt: Propose returns it unmarked. A replay
// with no lost attempt before it stays marked.
func TestProposeRetryAfterALostAnswerIsNotReplayed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var requests atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if line, err := readPreamble(c); err != nil || line != preambleForward {
					return
				}
				r, w := bufio.NewReader(c), bufio.NewWriter(c)
				for {
					var req replicationv1.ForwardRequest
					if readFrame(r, &req) != nil {
						return
					}
					if requests.Add(1) == 1 {
						return // applied, then the answer is lost
					}
					data, _ := proto.Marshal(&replicationv1.ForwardResponse{
						Id: req.GetId(), Status: replicationv1.ForwardStatus_FORWARD_STATUS_OK,
						Results: []*ledgerv1.Result{{Status: ledgerv1.Status_STATUS_OK, Replayed: true}},
					})
					if writeFrame(w, data) != nil || w.Flush() != nil {
						return
					}
				}
			}()
		}
	}()
	h := startHost(t, "node-1", t.TempDir(), "127.0.0.1:0")
	if err := h.Route("shard-0", []Peer{{NodeID: "leader", RaftAddr: ln.Addr().String()}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := h.Propose(ctx, "shard-0", topUp("topup/x", "C-1", 5))
	if err != nil || res.GetStatus() != ledgerv1.Status_STATUS_OK || res.GetReplayed() {
		t.Fatalf("Propose after a lost answer = %v, %v; want OK, not replayed", res, err)
	}
	if requests.Load() < 2 {
		t.Fatalf("%d requests reached the leader, want the lost one and its retry", requests.Load())
	}
	res, err = h.Propose(ctx, "shard-0", topUp("topup/x", "C-1", 5))
	if err != nil || !res.GetReplayed() {
		t.Fatalf("Propose of a command sent before = %v, %v; want replayed", res, err)
	}
}
