package e2e

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/terminals"
)

// TestClusterPartition cuts one node off from the other two with the
// kernel's routing (netlab_test.go) while clients keep tapping through
// every gateway: the cut-off node must acknowledge nothing, the other two
// must carry on, the cut-off node must stop by itself (it can no longer be
// a member) and, started again once the network heals, rejoin with every
// replica of every group at the same ledger.
func TestClusterPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 civicard nodes in network namespaces per partition")
	}
	for _, leader := range []bool{true, false} {
		name := "a follower"
		if leader {
			name = "the node leading the most groups"
		}
		t.Run("network partition isolating "+name, func(t *testing.T) {
			lab := newNetLab(t, 3)
			partition(lab, leader, "network partition isolating "+name).run(t, startClusterAt(t, lab.places()))
		})
	}
}

// cutOffMax is how long a node cut off from the others may take to stop by
// itself: the membership notices within a poll or a health timeout (2 s),
// then the node waits out its quorum timeout (3 s).
const cutOffMax = 15 * time.Second

func partition(lab *netLab, leader bool, name string) clusterFault {
	// A silent cut is noticed only by timeouts: the membership's health
	// poll (2 s) and the clients' attempts (3 s), which bound how long
	// taps stop altogether; the worst single tap (an attempt at the
	// cut-off node, then one at a grain it still hosted) is reported.
	return clusterFault{name: name, resumeMax: 4 * time.Second, inject: func(t *testing.T, c *testCluster, l *clusterLoad) faultOutcome {
		victim := c.pick(t, leader)
		p := newProbe(t, c, l, victim)
		at := time.Now()
		lab.cut(t, victim, actorNet, raftNet)
		p.start()
		l.waitAcked(t, 300) // the majority carries on
		// Until it stops, it tells a load balancer not to send it anything.
		unready := c.waitUnready(t, victim, "sees 1 of the cluster's 3 nodes", cutOffMax-time.Since(at))
		waitExit(t, c.nodes[victim], cutOffMax-time.Since(at), fmt.Sprintf("n%d (cut off from the others)", victim+1))
		stopped := time.Since(at)
		c.expectRestartRequired(t, victim)
		p.finish()
		if p.answered.Load() > 0 {
			t.Errorf("the cut-off n%d answered %d of %d taps", victim+1, p.answered.Load(), p.sent.Load())
		}
		lab.heal(t, victim, actorNet, raftNet)
		healed := time.Now()
		c.restart(t, victim)
		t.Logf("n%d cut off: unready after %v, stopped itself after %v; %d taps sent to it meanwhile, %d answered; started again after the heal, it took taps %v later",
			victim+1, unready.Sub(at).Round(time.Millisecond), stopped.Round(time.Millisecond), p.sent.Load(), p.answered.Load(), time.Since(healed).Round(time.Millisecond))
		return faultOutcome{at: []time.Time{at}, alive: c.aliveWithout(-1)}
	}}
}

// probe taps one of the load's cards through one gateway only, from a
// terminal of its own, with a new sequence number every time, and counts
// the answers. Its taps join the load's record: one the gateway did not
// answer is of unknown outcome (it may have reached the ledger another
// way, e.g. a message delivered after the heal), and resolve sends it
// again through the others, so the end checks account for every one.
type probe struct {
	l        *clusterLoad
	gateway  int
	terminal int
	card     string

	sent, answered atomic.Int64
	stop           atomic.Bool
	wg             sync.WaitGroup
}

// probeWorkers are the probe's concurrent clients.
const probeWorkers = 2

// newProbe sets up a probe of gateway and sends its first tap, which must be
// accepted: the probe is able to see an answer.
func newProbe(t *testing.T, c *testCluster, l *clusterLoad, gateway int) *probe {
	t.Helper()
	p := &probe{l: l, gateway: gateway, terminal: len(c.data.Terminals) - 1, card: l.cards[0]}
	res, err := p.tap(1)
	if err != nil || res.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED {
		t.Fatalf("the probe's first tap through n%d: %v, %v; want it accepted", gateway+1, res, err)
	}
	return p
}

// tap sends tap seq through the probed gateway and records it.
func (p *probe) tap(seq uint64) (*civicardv1.TapResponse, error) {
	sent := time.Now()
	seed := p.l.c.data.Terminals[p.terminal]
	send := func(gateway string) (*civicardv1.TapResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		client := terminals.NewClient(p.l.c.http, gateway, seed.Terminal.GetTerminalId(), seed.Credential)
		return client.Tap(ctx, seq, p.card, terminals.Purchase{}, sent)
	}
	res, err := send(p.l.c.nodes[p.gateway].URL())
	id := fmt.Sprintf("tap/%s/%d", seed.Terminal.GetTerminalId(), seq)
	p.l.record(ackedOp{cardID: p.card, transactionID: id, tap: &tapKey{p.terminal, seq}, answer: res}, 1, err, sent, send)
	return res, err
}

// start sends taps from probeWorkers clients until finish.
func (p *probe) start() {
	for w := range probeWorkers {
		p.wg.Go(func() {
			// Sequence 1 was the first tap.
			for seq := uint64(w + 2); !p.stop.Load(); seq += probeWorkers {
				p.sent.Add(1)
				if _, err := p.tap(seq); err == nil {
					p.answered.Add(1)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

func (p *probe) finish() {
	p.stop.Store(true)
	p.wg.Wait()
}

// dualAckedMin is how many operations the duplicate-activation test wants
// acknowledged while both activations take taps (about 2 s of its load).
const dualAckedMin = 100

var (
	versionRetriesMetric = regexp.MustCompile(`(?m)^civicard_card_version_retries_total (\S+)$`)
	cardsHostedMetric    = regexp.MustCompile(`(?m)^civicard_grains_hosted\{kind="Card"\} (\S+)$`)
)

// TestDuplicateActivationsChargeOnce makes two nodes each believe they own
// one card at the same time: the actor network between n1 and the others
// is cut while Raft's is not, so n1 sees itself alone and activates the
// card's grain, the other two see each other and activate it too, and both
// activations can still commit. Taps and top-ups of that one card go
// through every gateway meanwhile. The ledger's version check must make
// every acknowledged tap count once: the balance is the first balance plus
// the acknowledged top-ups less the acknowledged charges, to the grosz.
func TestDuplicateActivationsChargeOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 civicard nodes in network namespaces")
	}
	lab := newNetLab(t, 3)
	// A longer quorum timeout keeps the two activations alive for the
	// whole split; n1 stops when it runs out.
	const quorumTimeout = 8 * time.Second
	c := startClusterAt(t, lab.places(), "--quorum-timeout", quorumTimeout.String())
	// A card lists its newest 1,000 transactions (ledger.Config.HistoryMax),
	// and the checks read them all: about 50 operations a second keep the
	// whole test below that.
	l := startClusterLoad(t, c, 6, 3, 1, 150*time.Millisecond)
	l.waitAcked(t, 100)
	const lone = 0 // n1
	retriesBefore := 0.0
	for i := range c.nodes {
		retriesBefore += c.metric(t, i, versionRetriesMetric)
	}
	at := time.Now()
	lab.cut(t, lone, actorNet)
	waitFor(t, quorumTimeout/2, "the card to be active on both sides of the split", func() error {
		lonely := c.metric(t, lone, cardsHostedMetric)
		others := c.metric(t, 1, cardsHostedMetric) + c.metric(t, 2, cardsHostedMetric)
		if lonely < 1 || others < 1 {
			return fmt.Errorf("card grains hosted: n1 %v, n2+n3 %v", lonely, others)
		}
		return nil
	})
	dual := time.Now()
	ackedBefore := l.ackedCount()
	// Both activations take taps until n1 stops, quorumTimeout after it
	// noticed the split: by then one of them must have decided on a
	// version the other had moved past, and the ledger refused it.
	var retries float64
	waitFor(t, quorumTimeout-time.Since(at), fmt.Sprintf("a version retry and %d operations acknowledged while two activations of the card take taps", dualAckedMin), func() error {
		retries = -retriesBefore
		for i := range c.nodes {
			text, err := fetchMetrics(c.http, c.nodes[i].URL())
			if err != nil {
				return err
			}
			v, err := metricValue(text, versionRetriesMetric)
			if err != nil {
				return err
			}
			retries += v
		}
		if acked := l.ackedCount() - ackedBefore; retries < 1 || acked < dualAckedMin {
			return fmt.Errorf("%v version retries (civicard_card_version_retries_total over the nodes), %d operations acknowledged", retries, acked)
		}
		return nil
	})
	ackedDual := l.ackedCount() - ackedBefore
	dualFor := time.Since(dual)
	lab.heal(t, lone, actorNet)
	waitExit(t, c.nodes[lone], cutOffMax+quorumTimeout, fmt.Sprintf("n%d (cut off for longer than its quorum timeout)", lone+1))
	c.expectRestartRequired(t, lone)
	c.restart(t, lone)
	l.waitAcked(t, 100)
	l.finish()
	l.verify(t, 1)
	c.checkReplicas(t, c.aliveWithout(-1), l)
	t.Logf("card %s active on n1 and on n2/n3 at once for %v: %d operations acknowledged meanwhile, %v version retries (civicard_card_version_retries_total over the nodes); %d acknowledged in all, balance exact",
		l.cards[0], dualFor.Round(time.Millisecond), ackedDual, retries, len(l.acked))
}
