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

// LoadConfig describes one closed-loop load run.
type LoadConfig struct {
	BaseURL   string
	Terminals []Terminal
	Cards     []string
	// Concurrency is how many terminals tap at once; terminal i of the run
	// is Terminals[i % len(Terminals)], so Concurrency should not exceed it.
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
	case c.BaseURL == "":
		return errors.New("sim: BaseURL is empty")
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return fmt.Errorf("sim: Concurrency %d outside [1, 4096]", c.Concurrency)
	case len(c.Terminals) < c.Concurrency:
		return fmt.Errorf("sim: %d terminals for %d concurrent ones", len(c.Terminals), c.Concurrency)
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
	TerminalID string
	Sequence   uint64
	CardID     string
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
	httpClient := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, MaxConnsPerHost: cfg.Concurrency},
		Timeout:   10 * time.Second,
	}
	defer httpClient.CloseIdleConnections()

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
		terminal := cfg.Terminals[w]
		client := terminals.NewClient(httpClient, cfg.BaseURL, terminal.ID, terminal.Credential)
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
				answer, err := client.Tap(ctx, seq, card, terminals.Purchase{}, cfg.Now())
				taps[i] = Tap{TerminalID: terminal.ID, Sequence: seq, CardID: card, Answer: answer, Err: err, Latency: time.Since(began)}
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
