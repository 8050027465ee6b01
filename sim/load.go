package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/terminals"
)

// Terminal is a terminal the load speaks as.
type Terminal struct {
	ID         string
	Credential string
}

// Tapper sends the taps of a load run: civicard's gateway (GatewayTapper),
// or a baseline system answering the same question.
type Tapper interface {
	// Tap sends tap number sequence of the run's terminal number worker.
	Tap(ctx context.Context, worker int, sequence uint64, cardID string, at time.Time) (*civicardv1.TapResponse, error)
}

// GatewayTapper taps through civicard's gateway, as real terminals do: one
// terminal client per worker, over HTTP.
type GatewayTapper struct {
	httpClient *http.Client
	terminals  []*terminals.Client
	ids        []string
}

// NewGatewayTapper speaks as the given terminals to the gateways at
// baseURLs; worker i is terminal i, and talks to gateway i mod len(baseURLs).
func NewGatewayTapper(baseURLs []string, terms []Terminal) *GatewayTapper {
	httpClient := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: len(terms), MaxConnsPerHost: len(terms)},
		Timeout:   10 * time.Second,
	}
	g := &GatewayTapper{httpClient: httpClient}
	for i, t := range terms {
		g.terminals = append(g.terminals, terminals.NewClient(httpClient, baseURLs[i%len(baseURLs)], t.ID, t.Credential))
		g.ids = append(g.ids, t.ID)
	}
	return g
}

func (g *GatewayTapper) Tap(ctx context.Context, worker int, sequence uint64, cardID string, at time.Time) (*civicardv1.TapResponse, error) {
	return g.terminals[worker].Tap(ctx, sequence, cardID, terminals.Purchase{}, at)
}

// TerminalID is the id of worker's terminal.
func (g *GatewayTapper) TerminalID(worker int) string { return g.ids[worker] }

// Close releases the connections.
func (g *GatewayTapper) Close() { g.httpClient.CloseIdleConnections() }

// LoadConfig describes one closed-loop load run.
type LoadConfig struct {
	Tapper Tapper
	Cards  []string
	// Concurrency is how many terminals tap at once: workers 0 to
	// Concurrency-1 of the Tapper.
	Concurrency int
	// Taps is the total number of taps of the run.
	Taps int
	// FirstSequence numbers the first tap of every terminal; runs against
	// the same ledger need disjoint ranges.
	FirstSequence uint64
	Seed          uint64
	// Now stamps the taps.
	Now func() time.Time
}

// Validate rejects a run that cannot work.
func (c LoadConfig) Validate() error {
	switch {
	case c.Tapper == nil:
		return errors.New("sim: Tapper is required")
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return fmt.Errorf("sim: Concurrency %d outside [1, 4096]", c.Concurrency)
	case len(c.Cards) == 0:
		return errors.New("sim: no cards")
	case c.Taps < 1 || c.Taps > 100_000_000:
		return fmt.Errorf("sim: Taps %d outside [1, 1e8]", c.Taps)
	case c.Now == nil:
		return errors.New("sim: Now is required")
	}
	return nil
}

// Tap is one tap of a run as the terminal saw it.
type Tap struct {
	Worker   int
	Sequence uint64
	CardID   string
	// Answer is nil when Err is set: the outcome is unknown.
	Answer  *civicardv1.TapResponse
	Err     error
	Latency time.Duration
}

// Report sums up a run.
type Report struct {
	Taps     []Tap
	Duration time.Duration
}

// Load runs cfg and returns every tap. It stops early, with what it has,
// when ctx ends.
func Load(ctx context.Context, cfg LoadConfig) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	taps := make([]Tap, cfg.Taps)
	var next int
	var mu sync.Mutex
	claim := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= cfg.Taps || ctx.Err() != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
		wg.Go(func() {
			seq := cfg.FirstSequence
			for {
				i, ok := claim()
				if !ok {
					return
				}
				card := cfg.Cards[rng.IntN(len(cfg.Cards))]
				began := time.Now()
				answer, err := cfg.Tapper.Tap(ctx, w, seq, card, cfg.Now())
				taps[i] = Tap{Worker: w, Sequence: seq, CardID: card, Answer: answer, Err: err, Latency: time.Since(began)}
				seq++
			}
		})
	}
	wg.Wait()
	return &Report{Taps: taps[:next], Duration: time.Since(start)}, nil
}

// Summary is a run in numbers.
type Summary struct {
	Taps, Accepted, Declined, Errors int
	TapsPerSecond                    float64
	LatencyP50, LatencyP99           time.Duration
}

// Summarize counts results and computes the latency percentiles.
func (r *Report) Summarize() Summary {
	s := Summary{Taps: len(r.Taps)}
	latencies := make([]time.Duration, 0, len(r.Taps))
	for _, tap := range r.Taps {
		latencies = append(latencies, tap.Latency)
		switch {
		case tap.Err != nil:
			s.Errors++
		case tap.Answer.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED:
			s.Accepted++
		default:
			s.Declined++
		}
	}
	if r.Duration > 0 {
		s.TapsPerSecond = float64(s.Taps) / r.Duration.Seconds()
	}
	slices.Sort(latencies)
	s.LatencyP50 = percentile(latencies, 0.50)
	s.LatencyP99 = percentile(latencies, 0.99)
	return s
}

// percentile of sorted latencies, nearest rank.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
