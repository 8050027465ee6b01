package sim

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Done is one finished operation as the run saw it.
type Done struct {
	// At is wall time since the start of the run, when it was answered.
	At      time.Duration
	Latency time.Duration
	Op      OpKind
	// ServiceKind of the terminal's institution, for taps.
	ServiceKind string
	// Result is the answer in words: "accepted", "declined: card blocked",
	// "refused: invalid_argument", "unknown: unavailable", "offline".
	Result string
	// AmountMinor is what an accepted tap charged or a top-up added.
	AmountMinor int64
	// Offline: a tap decided by the terminal and uploaded later; Latency
	// is then the upload's.
	Offline bool
}

// Recorder collects what the run did, for the live progress line and the
// report. Safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	done  []Done
	total int
	// errors counts results other than accepted and declined, by result,
	// and the errors that did not end an operation; errorSeconds counts
	// the latter by second of the run.
	errors       map[string]int
	errorSeconds map[int]int
	// faults are the terminals' offline periods.
	faults []FaultRecord
	// lagMax is how far behind its schedule the run fell at most.
	lagMax time.Duration
	// lastProgress is where Progress last looked.
	lastProgress int
	lastAt       time.Duration
}

// NewRecorder expects total operations.
func NewRecorder(total int) *Recorder {
	return &Recorder{total: total, errors: map[string]int{}, errorSeconds: map[int]int{}}
}

// Add records a finished operation.
func (r *Recorder) Add(d Done) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, d)
	if !isAnswer(d.Result) {
		r.errors[d.Result]++
	}
}

// Note counts an error that did not end an operation (an attempt sent
// again, a tap that got no answer and was then decided offline), at wall
// time at since the start.
func (r *Recorder) Note(at time.Duration, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[result]++
	r.errorSeconds[int(at/time.Second)]++
}

// isAnswer reports whether a result is one the card holder would see as
// normal: accepted, declined, or decided offline.
func isAnswer(result string) bool {
	return result == ResultAccepted || result == ResultOffline || len(result) > 9 && result[:9] == "declined:"
}

// Results of operations.
const (
	ResultAccepted = "accepted"
	ResultOffline  = "offline, settled later"
)

// Progress is the live line: done/total, operations per second and
// latency percentiles since the last call (of the whole run when whole is
// set), errors by kind. now is wall time since the start, virtual the
// day's time.
func (r *Recorder) Progress(now, virtual time.Duration, whole bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if whole {
		r.lastProgress, r.lastAt = 0, 0
	}
	recent := r.done[r.lastProgress:]
	latencies := make([]time.Duration, 0, len(recent))
	for _, d := range recent {
		if !d.Offline {
			latencies = append(latencies, d.Latency)
		}
	}
	slices.Sort(latencies)
	rate := 0.0
	if span := now - r.lastAt; span > 0 {
		rate = float64(len(recent)) / span.Seconds()
	}
	r.lastProgress, r.lastAt = len(r.done), now
	line := fmt.Sprintf("%6.1fs  day %s  %d/%d ops  %5.0f/s  p50 %s  p99 %s", now.Seconds(), clock(virtual), len(r.done), r.total, rate,
		msString(percentile(latencies, 0.50)), msString(percentile(latencies, 0.99)))
	if len(r.errors) > 0 {
		line += "  errors:"
		for _, k := range slices.Sorted(maps.Keys(r.errors)) {
			line += fmt.Sprintf(" %s %d", k, r.errors[k])
		}
	}
	return line
}

// Done returns a copy of what was recorded.
func (r *Recorder) Done() []Done {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.done)
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

func msString(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}

// Fault records a fault the run injected.
func (r *Recorder) Fault(f FaultRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, f)
}

// Faults returns the faults recorded.
func (r *Recorder) Faults() []FaultRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.faults)
}

// Behind records that an event was dispatched lag after its time.
func (r *Recorder) Behind(lag time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lagMax = max(r.lagMax, lag)
}

// LagMax is how far behind its schedule the run fell at most: the system
// (or the sim) could not keep up with the day's pace.
func (r *Recorder) LagMax() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lagMax
}

// Errors returns the errors counted by kind, and the errors that did not
// end an operation by second of the run.
func (r *Recorder) Errors() (byKind map[string]int, noted map[int]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.errors), maps.Clone(r.errorSeconds)
}
