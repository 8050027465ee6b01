package station

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"civicard/domain/money"
	civicardv1 "civicard/messages/civicard/v1"
	"civicard/terminals"
	"civicard/terminals/cardapp"
)

// Reader is one card reader.
type Reader interface {
	Name() string
	// Wait blocks until the reader holds a card (present) or holds none
	// (!present), or ctx ends.
	Wait(ctx context.Context, present bool) error
	// Connect opens a connection to the card in the reader.
	Connect() (CardConn, error)
}

// CardConn is a connection to the card in a reader.
type CardConn interface {
	cardapp.Transmitter
	Close() error
}

// Deps are what a station needs from outside.
type Deps struct {
	HTTPClient *http.Client
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Out is where the answers are shown, one line per tap.
	Out io.Writer
	// Rand supplies the terminal's card challenges (crypto/rand.Reader).
	Rand io.Reader
	Now  func() time.Time
	// PINPad is the terminal's keypad, nil for none (see PINPad).
	PINPad PINPad
}

// Station runs one terminal.
type Station struct {
	cfg     Config
	deps    Deps
	key     ed25519.PrivateKey
	auth    *cardapp.Authenticator
	client  *terminals.Client
	seq     *sequencer
	queue   *queue
	deny    *denylist
	tariff  *tariffStore
	metrics *metrics
	pos     position

	outMu sync.Mutex
}

// New opens the terminal's state and keys.
func New(cfg Config, deps Deps) (*Station, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.HTTPClient == nil || deps.Registerer == nil || deps.Logger == nil || deps.Out == nil || deps.Rand == nil || deps.Now == nil {
		return nil, errors.New("station: every dependency is required")
	}
	key, err := cfg.PrivateKey()
	if err != nil {
		return nil, err
	}
	master, err := cfg.IssuerKey()
	if err != nil {
		return nil, err
	}
	auth, err := cardapp.NewAuthenticator(master, deps.Rand)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.State(), 0o700); err != nil {
		return nil, err
	}
	seq, err := openSequencer(cfg.State())
	if err != nil {
		return nil, err
	}
	q, err := openQueue(cfg.State())
	if err != nil {
		return nil, fmt.Errorf("offline queue: %w", err)
	}
	deny, err := openDenylist(cfg.State())
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("denylist: %w", err)
	}
	prices, err := openTariff(cfg.State())
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("tariff: %w", err)
	}
	m, err := newMetrics(deps.Registerer, q.Len, deny.Len, prices.Products)
	if err != nil {
		q.Close()
		return nil, err
	}
	st := &Station{
		cfg:     cfg,
		deps:    deps,
		key:     key,
		auth:    auth,
		client:  terminals.NewSigningClient(deps.HTTPClient, cfg.Gateway, cfg.TerminalID, key),
		seq:     seq,
		queue:   q,
		deny:    deny,
		tariff:  prices,
		metrics: m,
	}
	st.pos.now = cfg.position()
	return st, nil
}

// Close releases the offline queue.
func (s *Station) Close() error { return s.queue.Close() }

// Result of one card presented.
type Result string

// The results.
const (
	Accepted Result = "accepted" // the gateway settled the tap
	Declined Result = "declined" // the gateway refused it (funds, blocked card)
	Refused  Result = "refused"  // refused at the reader: the gateway was not asked, or could not be
	Failed   Result = "failed"   // the card left, or the gateway failed: nothing charged here
	Offline  Result = "offline"  // accepted without the gateway: queued, settled on upload
)

// Outcome is what a card presented came to.
type Outcome struct {
	Reader   string
	CardID   string
	Result   Result
	Reason   string // for everything but Accepted
	Charged  *civicardv1.Money
	Balance  *civicardv1.Money
	Sequence uint64
	// TransactionID the gateway settled the tap under.
	TransactionID string
	// Took is from the card seen present to the answer shown.
	Took time.Duration

	declineReason civicardv1.DeclineReason
}

// Reader errors (pcscd restarted, the reader unplugged) are retried after a
// pause that doubles up to readerBackoffMax.
const (
	readerBackoffMin = 100 * time.Millisecond
	readerBackoffMax = 5 * time.Second
)

// Serve drives one reader until ctx ends: wait for a card, run the
// transaction, show the answer, wait until the card is taken away. A reader
// that fails is tried again, with backoff, not given up.
func (s *Station) Serve(ctx context.Context, r Reader) error {
	pause := readerBackoffMin
	retry := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.deps.Logger.Warn("reader failed; trying again", "reader", r.Name(), "pause", pause, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, readerBackoffMax)
		return nil
	}
	for {
		if err := r.Wait(ctx, true); err != nil {
			if err := retry(err); err != nil {
				return err
			}
			continue
		}
		pause = readerBackoffMin
		presented := s.deps.Now()
		conn, err := r.Connect()
		if err != nil {
			s.show(s.finish(Outcome{Reader: r.Name(), Result: Failed, Reason: "card gone: " + err.Error()}, presented))
		} else {
			s.show(s.Transaction(ctx, r.Name(), conn, presented))
			conn.Close()
		}
		for {
			err := r.Wait(ctx, false)
			if err == nil {
				break
			}
			if err := retry(err); err != nil {
				return err
			}
		}
	}
}

// Run serves every reader, and uploads offline taps and refreshes the
// denylist every SyncInterval, until ctx ends.
func (s *Station) Run(ctx context.Context, readers []Reader) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(s.cfg.syncInterval())
		defer tick.Stop()
		for {
			s.Sync(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	errs := make([]error, len(readers))
	for i, r := range readers {
		wg.Go(func() { errs[i] = s.Serve(ctx, r) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// Transaction runs one tap on a card that is present: authenticate it,
// build and sign the tap, send it. It does not show the answer (Serve
// does); it counts it.
func (s *Station) Transaction(ctx context.Context, reader string, card cardapp.Transmitter, presented time.Time) Outcome {
	out := Outcome{Reader: reader}
	cardID, err := s.auth.Authenticate(card)
	if err != nil {
		var status *cardapp.StatusError
		switch {
		case errors.Is(err, cardapp.ErrNotGenuine):
			out.Result, out.Reason = Refused, "card not genuine"
			s.metrics.refused.WithLabelValues("not_genuine").Inc()
			s.deps.Logger.Warn("card refused at the reader: authentication failed", "reader", reader, "err", err)
		case errors.As(err, &status):
			out.Result, out.Reason = Refused, "not a civicard card"
			s.metrics.refused.WithLabelValues("not_civicard").Inc()
			s.deps.Logger.Warn("card refused at the reader", "reader", reader, "err", err)
		default:
			out.Result, out.Reason = Failed, "card gone: "+err.Error()
			s.deps.Logger.Info("card left during the tap", "reader", reader, "err", err)
		}
		return s.finish(out, presented)
	}
	out.CardID = cardID
	seq, err := s.seq.Next()
	if err != nil {
		out.Result, out.Reason = Failed, err.Error()
		s.deps.Logger.Error("no sequence number", "err", err)
		return s.finish(out, presented)
	}
	out.Sequence = seq
	at := s.pos.get()
	req := s.client.Build(seq, cardID, terminals.Purchase{
		ServiceCode: s.cfg.ServiceCode, Quantity: max(s.cfg.Quantity, 1),
		Line: at.Line, Stop: at.Stop, Direction: int32(at.Direction),
	}, presented)
	out = s.send(ctx, out, req)
	if out.Result == Declined && out.declineReason == civicardv1.DeclineReason_DECLINE_REASON_LIMIT_TRANSACTION_NO_PIN && s.deps.PINPad != nil {
		out = s.withPIN(ctx, out, card, req)
	}
	return s.finish(out, presented)
}

// send sends the tap and fills in the gateway's answer; when the gateway
// does not answer within the tap's budget, the terminal decides offline.
func (s *Station) send(ctx context.Context, out Outcome, req *civicardv1.TapRequest) Outcome {
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.TapBudget())
	defer cancel()
	// While offline taps wait, the gateway was unreachable a moment ago:
	// one attempt, then decide.
	attempts := 3
	if s.queue.Len() > 0 {
		attempts = 1
	}
	res, err := s.client.SendAttempts(callCtx, req, attempts)
	if err != nil && terminals.OutcomeUnknown(err) && ctx.Err() == nil {
		return s.offline(out, req, err)
	}
	if err != nil {
		out.Result, out.Reason = Failed, "gateway: "+err.Error()
		s.deps.Logger.Warn("tap not settled", "reader", out.Reader, "card", out.CardID, "sequence", req.GetSequence(), "err", err)
		return out
	}
	out.Charged, out.Balance, out.TransactionID = res.GetCharged(), res.GetBalance(), res.GetTransactionId()
	if res.GetResult() == civicardv1.TapResult_TAP_RESULT_ACCEPTED {
		out.Result, out.Reason = Accepted, ""
	} else {
		out.Result, out.Reason, out.declineReason = Declined, res.GetDeclineReason().String(), res.GetDeclineReason()
		if detail := res.GetDeclineDetail(); detail != "" {
			out.Reason = detail
		}
	}
	return out
}

// offline decides a tap the gateway did not answer: refuse a denylisted
// card or one past the offline risk limit, else queue the tap (durably,
// before the answer is shown) and accept it. If the gateway did settle it
// after all, the upload answers that first result: same sequence.
func (s *Station) offline(out Outcome, req *civicardv1.TapRequest, cause error) Outcome {
	cardID := req.GetCardId()
	if s.deny.Has(cardID) {
		out.Result, out.Reason = Refused, "card on the denylist"
		s.metrics.refused.WithLabelValues("denylisted").Inc()
		s.deps.Logger.Warn("card refused offline: denylisted", "reader", out.Reader, "card", cardID)
		return out
	}
	queued := s.queue.exposure(cardID)
	price, known := s.tariff.price(req.GetServiceCode(), req.GetQuantity())
	if !known {
		price = s.cfg.OfflinePriceMinor
	}
	if queued+1 > s.cfg.offlineTapsPerCard() || int64(queued+1)*price > s.cfg.offlineAmountPerCard() {
		out.Result, out.Reason = Refused, fmt.Sprintf("offline limit: %d taps of this card wait already", queued)
		s.metrics.refused.WithLabelValues("offline_limit").Inc()
		s.deps.Logger.Warn("card refused offline: risk limit", "reader", out.Reader, "card", cardID, "queued", queued)
		return out
	}
	if err := s.queue.Append(req); err != nil {
		out.Result, out.Reason = Refused, "offline queue: "+err.Error()
		s.metrics.refused.WithLabelValues("queue").Inc()
		s.deps.Logger.Error("offline queue", "err", err)
		return out
	}
	out.Result, out.Reason = Offline, "gateway unreachable: accepted offline, settled later"
	s.deps.Logger.Info("tap accepted offline", "reader", out.Reader, "card", cardID, "sequence", req.GetSequence(), "cause", cause)
	return out
}

// Sync uploads the offline queue, oldest first, in batches, and refreshes
// the denylist. It stops at the first failure; the next Sync goes on.
func (s *Station) Sync(ctx context.Context) {
	for {
		batch := s.queue.Pending(s.cfg.uploadBatch())
		if len(batch) == 0 {
			break
		}
		callCtx, cancel := context.WithTimeout(ctx, s.cfg.TapBudget()*time.Duration(len(batch)))
		results, err := s.client.UploadOfflineTaps(callCtx, batch)
		cancel()
		if err != nil {
			s.deps.Logger.Info("offline taps not uploaded yet", "waiting", s.queue.Len(), "err", err)
			break
		}
		for i, res := range results {
			s.deps.Logger.Info("offline tap settled", "card", batch[i].GetCardId(), "sequence", batch[i].GetSequence(),
				"result", res.GetResult().String(), "charged", formatMoney(res.GetCharged()), "balance", formatMoney(res.GetBalance()), "replayed", res.GetReplayed())
		}
		if err := s.queue.Ack(batch[len(batch)-1].GetSequence()); err != nil {
			s.deps.Logger.Error("offline queue: ack", "err", err)
			break
		}
		s.metrics.uploaded.Add(float64(len(batch)))
	}
	s.refreshTariff(ctx)
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.TapBudget())
	defer cancel()
	res, err := s.client.Denylist(callCtx, s.deny.Version(), s.deps.Now())
	if err != nil {
		s.deps.Logger.Debug("denylist not refreshed", "err", err)
		return
	}
	s.metrics.denylistRefreshes.Inc()
	if res.GetUnchanged() {
		return
	}
	if err := s.deny.Replace(res.GetVersion(), res.GetCardIds()); err != nil {
		s.deps.Logger.Error("denylist: store", "err", err)
		return
	}
	s.deps.Logger.Info("denylist refreshed", "version", res.GetVersion(), "cards", len(res.GetCardIds()))
}

// refreshTariff asks the gateway for the institution's price list, unless
// the terminal holds the current version, and stores a new one.
func (s *Station) refreshTariff(ctx context.Context) {
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.TapBudget())
	defer cancel()
	res, err := s.client.Tariff(callCtx, s.tariff.Version(), s.deps.Now())
	if err != nil {
		s.deps.Logger.Debug("tariff not refreshed", "err", err)
		return
	}
	if res.GetUnchanged() {
		return
	}
	if err := s.tariff.Replace(res.GetVersion(), res.GetTariff()); err != nil {
		s.deps.Logger.Error("tariff: store", "err", err)
		return
	}
	s.deps.Logger.Info("tariff refreshed", "version", res.GetVersion(), "products", len(res.GetTariff().GetProducts()))
}

// QueueLen is how many offline taps wait for upload.
func (s *Station) QueueLen() int { return s.queue.Len() }

func (s *Station) finish(out Outcome, presented time.Time) Outcome {
	out.Took = s.deps.Now().Sub(presented)
	s.metrics.taps.WithLabelValues(string(out.Result)).Inc()
	s.metrics.latency.WithLabelValues(string(out.Result)).Observe(out.Took.Seconds())
	return out
}

// show prints the answer: one line per tap, green or red first.
func (s *Station) show(o Outcome) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintln(s.deps.Out, o.String())
}

func (o Outcome) String() string {
	light := "RED  "
	if o.Result == Accepted || o.Result == Offline {
		light = "GREEN"
	}
	line := fmt.Sprintf("%s %s reader=%q", light, o.Result, o.Reader)
	if o.CardID != "" {
		line += " card=" + o.CardID
	}
	if o.Result == Accepted {
		line += " charged=" + formatMoney(o.Charged)
	}
	if o.Balance != nil {
		line += " balance=" + formatMoney(o.Balance)
	}
	if o.Reason != "" {
		line += fmt.Sprintf(" reason=%q", o.Reason)
	}
	if o.Sequence != 0 {
		line += fmt.Sprintf(" seq=%d", o.Sequence)
	}
	return line + fmt.Sprintf(" took=%s", o.Took.Round(10*time.Microsecond))
}

func formatMoney(m *civicardv1.Money) string {
	return money.Format(m.GetMinorUnits(), m.GetCurrency())
}
