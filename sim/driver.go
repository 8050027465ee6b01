package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"civicard/domain/money"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/sim/demo"
	"civicard/terminals"
)

// DriveConfig is how a day's events are played against a running civicard.
type DriveConfig struct {
	// Gateways are the base URLs of the API; each terminal starts with its
	// own and fails over to the next when it gets no answer.
	Gateways      []string
	HTTPClient    *http.Client
	OperatorToken string
	// City is the city the target loaded: terminal credentials and
	// institutions.
	City   *demo.Dataset
	Events []Event
	// Speed is virtual seconds per wall second (1440: a day in a minute).
	Speed float64
	// Rate, when above zero, plays the events at this many per wall second
	// instead, in their order.
	Rate float64
	// FirstSequence is added to the events' terminal sequence numbers
	// (minus one), and RequestPrefix starts every top-up's and block's
	// request id, so that runs against the same ledger never share an
	// idempotency key.
	FirstSequence uint64
	RequestPrefix string
	// Midnight is the wall time the day's taps are stamped from.
	Midnight time.Time
	// Start is when the run starts (its first event); zero for now. The
	// recorded times are since Start.
	Start    time.Time
	Recorder *Recorder
	// Progress receives the live line every ProgressEvery; nil for none.
	// The line is redrawn in place (carriage return), or written as lines
	// of its own with ProgressLines (a log, not a terminal).
	Progress      io.Writer
	ProgressEvery time.Duration
	ProgressLines bool
}

// Limits of the driver.
const (
	// attemptsMax bounds how often one operation is sent, to the next
	// gateway each time, before its outcome is left unknown.
	attemptsMax = 6
	// attemptTimeout bounds one attempt.
	attemptTimeout = 3 * time.Second
	// backoffMax is the longest pause between attempts.
	backoffMax = time.Second
	// terminalQueueMax bounds the events waiting for one terminal, and
	// offlineQueueMax the taps it holds while offline.
	terminalQueueMax = 256
	offlineQueueMax  = 10_000
	// uploadBatchMax is the most taps of one upload (the API's limit).
	uploadBatchMax = 100
	// backOfficeWorkers send top-ups and blocks.
	backOfficeWorkers = 8
)

func (c DriveConfig) validate() error {
	switch {
	case len(c.Gateways) == 0:
		return errors.New("sim: no gateways")
	case c.HTTPClient == nil || c.City == nil || c.Recorder == nil:
		return errors.New("sim: HTTPClient, City and Recorder are required")
	case c.Rate <= 0 && c.Speed <= 0:
		return errors.New("sim: Speed or Rate must be above zero")
	case c.FirstSequence == 0:
		return errors.New("sim: FirstSequence starts at 1")
	}
	return nil
}

// driver plays one run.
type driver struct {
	cfg   DriveConfig
	start time.Time
	// virtual is the virtual time of the last event dispatched.
	virtual atomic.Int64
	cards   []civicardv1connect.CardServiceClient

	mu  sync.Mutex
	ops []Op
	// blocked are the cards whose block was acknowledged: the terminals'
	// denylist while offline.
	blocked map[string]bool
}

// Drive plays cfg.Events against the gateways and returns every operation
// with its outcome. Taps of a terminal go one after another, in order, as
// a validator sends them; a terminal that gets no answer, or is taken
// offline by an event, decides offline and uploads its taps when it can.
// At the end every terminal comes back online and uploads. When ctx ends
// the run stops early with what it has.
func Drive(ctx context.Context, cfg DriveConfig) ([]Op, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &driver{cfg: cfg, start: cfg.Start, blocked: map[string]bool{}}
	if d.start.IsZero() {
		d.start = time.Now()
	}
	for _, gw := range cfg.Gateways {
		d.cards = append(d.cards, civicardv1connect.NewCardServiceClient(cfg.HTTPClient, gw, terminals.WithCredential(cfg.OperatorToken)))
	}
	stopProgress := d.progress()
	defer stopProgress()

	queues := map[int]chan Event{}
	var wg sync.WaitGroup
	backOffice := make(chan int, terminalQueueMax)
	for range backOfficeWorkers {
		wg.Go(func() {
			for i := range backOffice {
				d.backOffice(ctx, i, cfg.Events[i])
			}
		})
	}
	for i, ev := range cfg.Events {
		if err := d.wait(ctx, i, ev); err != nil {
			break
		}
		d.virtual.Store(int64(ev.At))
		switch ev.Kind {
		case EventTopUp, EventBlock:
			backOffice <- i
		default:
			q, ok := queues[ev.Terminal]
			if !ok {
				q = make(chan Event, terminalQueueMax)
				queues[ev.Terminal] = q
				t := d.newTerminal(ev.Terminal)
				wg.Go(func() { t.run(ctx, q) })
			}
			q <- ev
		}
	}
	close(backOffice)
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ops, nil
}

// wait returns when event i is due.
func (d *driver) wait(ctx context.Context, i int, ev Event) error {
	var due time.Duration
	if d.cfg.Rate > 0 {
		due = time.Duration(float64(i) / d.cfg.Rate * float64(time.Second))
	} else {
		// The run starts with the day's first event, not at midnight.
		due = time.Duration(float64(ev.At-d.cfg.Events[0].At) / d.cfg.Speed)
	}
	pause := time.Until(d.start.Add(due))
	if pause <= 0 {
		d.cfg.Recorder.Behind(-pause)
		return ctx.Err()
	}
	timer := time.NewTimer(pause)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func (d *driver) progress() func() {
	if d.cfg.Progress == nil || d.cfg.ProgressEvery <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(d.cfg.ProgressEvery)
		defer ticker.Stop()
		// In place: back to the start of the line, then clear its rest.
		format, last := "\r%s\x1b[K", "\r%s\x1b[K\n"
		if d.cfg.ProgressLines {
			format, last = "%s\n", "%s\n"
		}
		for {
			select {
			case <-done:
				fmt.Fprintf(d.cfg.Progress, last, d.cfg.Recorder.Progress(time.Since(d.start), time.Duration(d.virtual.Load()), true))
				return
			case <-ticker.C:
				fmt.Fprintf(d.cfg.Progress, format, d.cfg.Recorder.Progress(time.Since(d.start), time.Duration(d.virtual.Load()), false))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (d *driver) now() time.Duration { return time.Since(d.start) }

func (d *driver) record(op Op) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ops = append(d.ops, op)
	if op.Kind == OpBlock && op.Outcome == OutcomeAcked {
		d.blocked[op.Card] = true
	}
}

func (d *driver) isBlocked(card string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.blocked[card]
}

// failover sends one operation to the gateways in order, starting at
// first, while its outcome is unknown, at most attemptsMax times; retried
// (when not nil) hears of every attempt that is tried again.
func failover(ctx context.Context, gateways, first int, send func(ctx context.Context, gateway int) error, retried func(error)) error {
	pause := 100 * time.Millisecond
	var err error
	for attempt := range attemptsMax {
		attemptCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err = send(attemptCtx, (first+attempt)%gateways)
		cancel()
		if err == nil || !outcomeUnknown(err) || ctx.Err() != nil || attempt == attemptsMax-1 {
			return err
		}
		if retried != nil {
			retried(err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, backoffMax)
	}
	return err
}

// retried counts an attempt that got no answer and was sent again.
func (d *driver) retried(err error) {
	d.cfg.Recorder.Note(d.now(), "retried after "+errorResult(err))
}

// outcomeUnknown reports whether an operation that failed with err may
// still have been applied, so that it must be sent again with the same
// idempotency key. Besides what a terminal retries, that is a gateway
// answering "canceled": its node was stopping while the operation was under
// way, so it may have been committed.
func outcomeUnknown(err error) bool {
	return terminals.OutcomeUnknown(err) || connect.CodeOf(err) == connect.CodeCanceled
}

// errorResult names an error by its kind: "refused: invalid_argument" for
// an answer that settles the outcome, "no answer: unavailable" otherwise.
func errorResult(err error) string {
	code := "transport"
	if c := connect.CodeOf(err); c != connect.CodeUnknown || errors.As(err, new(*connect.Error)) {
		code = c.String()
	}
	if outcomeUnknown(err) {
		return "no answer: " + code
	}
	return "refused: " + code
}

func declineResult(reason civicardv1.DeclineReason) string {
	return "declined: " + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(reason.String(), "DECLINE_REASON_")), "_", " ")
}

// backOffice sends event number i, a top-up or a block, as the back office
// or the portal would; i makes its request id.
func (d *driver) backOffice(ctx context.Context, i int, ev Event) {
	began := time.Now()
	card := ev.Card
	first := i % len(d.cards)
	var op Op
	var err error
	switch ev.Kind {
	case EventTopUp:
		id := fmt.Sprintf("%s-%d", d.cfg.RequestPrefix, i)
		op = Op{ID: "topup/" + id, Kind: OpTopUp, Card: card}
		var res *connect.Response[civicardv1.TopUpResponse]
		err = failover(ctx, len(d.cards), first, func(ctx context.Context, g int) error {
			var err error
			res, err = d.cards[g].TopUp(ctx, connect.NewRequest(&civicardv1.TopUpRequest{
				CardId: card, Amount: &civicardv1.Money{Currency: money.DefaultCurrency, MinorUnits: ev.AmountMinor}, RequestId: id,
			}))
			return err
		}, d.retried)
		if err == nil {
			op.AmountMinor = res.Msg.GetTransaction().GetAmount().GetMinorUnits()
		}
	case EventBlock:
		id := fmt.Sprintf("%s-%d", d.cfg.RequestPrefix, i)
		op = Op{ID: "block/" + id, Kind: OpBlock, Card: card}
		err = failover(ctx, len(d.cards), first, func(ctx context.Context, g int) error {
			_, err := d.cards[g].Block(ctx, connect.NewRequest(&civicardv1.BlockRequest{CardId: card, Reason: "reported lost by holder", RequestId: id}))
			return err
		}, d.retried)
	}
	done := Done{At: d.now(), Latency: time.Since(began), Op: op.Kind, Result: ResultAccepted, AmountMinor: op.AmountMinor}
	switch {
	case err == nil:
		op.Outcome = OutcomeAcked
	case outcomeUnknown(err):
		op.Outcome = OutcomeUnknown
		done.Result = errorResult(err)
	default:
		op.Outcome = OutcomeRefused
		done.Result = errorResult(err)
	}
	d.record(op)
	d.cfg.Recorder.Add(done)
}

// terminal is one validator or desk of the city, as the sim plays it.
type terminal struct {
	d       *driver
	index   int
	id      string
	kind    string
	clients []*terminals.Client
	online  bool
	// queue holds the taps decided offline, in sequence order.
	queue []*civicardv1.TapRequest
	// offlineAt is when the terminal was taken offline, and offlineFor
	// for how long of the day.
	offlineAt, offlineFor time.Duration
}

func (d *driver) newTerminal(index int) *terminal {
	seed := d.cfg.City.Terminals[index]
	t := &terminal{d: d, index: index, id: seed.Terminal.GetTerminalId(), kind: ServiceKindOf(d.cfg.City, index), online: true}
	for _, gw := range d.cfg.Gateways {
		t.clients = append(t.clients, terminals.NewClient(d.cfg.HTTPClient, gw, t.id, seed.Credential))
	}
	return t
}

func (t *terminal) run(ctx context.Context, events <-chan Event) {
	for ev := range events {
		switch ev.Kind {
		case EventOffline:
			t.online, t.offlineAt, t.offlineFor = false, t.d.now(), -ev.At
		case EventOnline:
			t.online = true
			t.offlineFor += ev.At
			queued := len(t.queue)
			t.upload(ctx)
			f := FaultRecord{Fault: fmt.Sprintf("offline for %v of the day", t.offlineFor), Target: "terminal " + t.id,
				AtSeconds: t.offlineAt.Seconds(), Note: fmt.Sprintf("taps taken offline: %d", queued)}
			if len(t.queue) == 0 {
				f.RecoveredSeconds = t.d.now().Seconds()
				f.Note += ", all uploaded"
			}
			t.d.cfg.Recorder.Fault(f)
		case EventTap:
			t.tap(ctx, ev)
		}
	}
	// The day is over: every terminal is back and uploads what it holds.
	t.online = true
	t.upload(ctx)
	for _, req := range t.queue {
		t.d.record(Op{ID: tapID(req), Kind: OpTap, Card: req.GetCardId(), Outcome: OutcomeUnknown})
	}
}

func tapID(req *civicardv1.TapRequest) string {
	return fmt.Sprintf("tap/%s/%d", req.GetTerminalId(), req.GetSequence())
}

func (t *terminal) tap(ctx context.Context, ev Event) {
	req := &civicardv1.TapRequest{
		TerminalId:  t.id,
		Sequence:    t.d.cfg.FirstSequence + ev.Sequence - 1,
		CardId:      ev.Card,
		TimeUnixMs:  t.d.cfg.Midnight.Add(ev.At).UnixMilli(),
		ServiceCode: ev.Service,
		Quantity:    ev.Quantity,
		Line:        ev.Line,
		Stop:        ev.Stop,
		Direction:   ev.Direction,
	}
	if !t.online {
		t.decideOffline(req)
		return
	}
	began := time.Now()
	var res *civicardv1.TapResponse
	err := failover(ctx, len(t.clients), t.index, func(ctx context.Context, g int) error {
		var err error
		res, err = t.clients[g].SendAttempts(ctx, req, 1)
		return err
	}, t.d.retried)
	done := Done{At: t.d.now(), Latency: time.Since(began), Op: OpTap, ServiceKind: t.kind}
	op := Op{ID: tapID(req), Kind: OpTap, Card: req.GetCardId()}
	switch {
	case err == nil:
		op.Outcome, op.Accepted, op.AmountMinor = OutcomeAcked, res.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED, res.GetCharged().GetMinorUnits()
		done.Result, done.AmountMinor = ResultAccepted, op.AmountMinor
		if !op.Accepted {
			done.Result = declineResult(res.GetDeclineReason())
		}
	case outcomeUnknown(err):
		// No gateway answered: the terminal decides offline, and the
		// upload settles the tap, or answers how it was settled.
		t.d.cfg.Recorder.Note(t.d.now(), errorResult(err))
		t.decideOffline(req)
		return
	default:
		op.Outcome, done.Result = OutcomeRefused, errorResult(err)
	}
	t.d.record(op)
	t.d.cfg.Recorder.Add(done)
	if len(t.queue) > 0 {
		t.upload(ctx)
	}
}

// decideOffline takes a tap without the gateway: refused for a card on the
// denylist, else queued for upload.
func (t *terminal) decideOffline(req *civicardv1.TapRequest) {
	done := Done{At: t.d.now(), Op: OpTap, ServiceKind: t.kind, Offline: true}
	switch {
	case t.d.isBlocked(req.GetCardId()):
		done.Result = "declined: card on the offline denylist"
	case len(t.queue) >= offlineQueueMax:
		done.Result = "declined: offline queue full"
	default:
		t.queue = append(t.queue, req)
		return
	}
	t.d.cfg.Recorder.Add(done)
}

// upload settles the queued taps in batches while the gateways answer. A
// batch with a tap the system refuses is sent again one tap at a time, so
// that only that tap is dropped.
func (t *terminal) upload(ctx context.Context) {
	for len(t.queue) > 0 && ctx.Err() == nil {
		batch := t.queue[:min(len(t.queue), uploadBatchMax)]
		began := time.Now()
		results, err := t.send(ctx, batch)
		switch {
		case err == nil:
			for i, res := range results {
				t.settled(batch[i], res, time.Since(began))
			}
			t.queue = t.queue[len(batch):]
		case outcomeUnknown(err):
			t.d.cfg.Recorder.Note(t.d.now(), errorResult(err))
			return // still offline: the next tap or the end of the day tries again
		case len(batch) > 1:
			for len(batch) > 0 {
				one := batch[:1]
				res, err := t.send(ctx, one)
				switch {
				case err == nil:
					t.settled(one[0], res[0], time.Since(began))
				case outcomeUnknown(err):
					t.d.cfg.Recorder.Note(t.d.now(), errorResult(err))
					return
				default:
					t.refused(one[0], err)
				}
				batch = batch[1:]
				t.queue = t.queue[1:]
			}
		default:
			t.refused(batch[0], err)
			t.queue = t.queue[1:]
		}
	}
}

func (t *terminal) send(ctx context.Context, batch []*civicardv1.TapRequest) ([]*civicardv1.TapResponse, error) {
	var results []*civicardv1.TapResponse
	err := failover(ctx, len(t.clients), t.index, func(ctx context.Context, g int) error {
		var err error
		results, err = t.clients[g].UploadOfflineTaps(ctx, batch)
		return err
	}, t.d.retried)
	return results, err
}

func (t *terminal) settled(req *civicardv1.TapRequest, res *civicardv1.TapResponse, latency time.Duration) {
	accepted := res.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED
	t.d.record(Op{ID: tapID(req), Kind: OpTap, Card: req.GetCardId(), Outcome: OutcomeAcked, Accepted: accepted, AmountMinor: res.GetCharged().GetMinorUnits()})
	done := Done{At: t.d.now(), Latency: latency, Op: OpTap, ServiceKind: t.kind, Result: ResultOffline, AmountMinor: res.GetCharged().GetMinorUnits(), Offline: true}
	if !accepted {
		done.Result = declineResult(res.GetDeclineReason())
	}
	t.d.cfg.Recorder.Add(done)
}

func (t *terminal) refused(req *civicardv1.TapRequest, err error) {
	t.d.record(Op{ID: tapID(req), Kind: OpTap, Card: req.GetCardId(), Outcome: OutcomeRefused})
	t.d.cfg.Recorder.Add(Done{At: t.d.now(), Op: OpTap, ServiceKind: t.kind, Result: errorResult(err), Offline: true})
}
