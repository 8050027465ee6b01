package station

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	civicardv1 "civicard/messages/civicard/v1"
	"civicard/messages/civicard/v1/civicardv1connect"
	"civicard/terminals/cardapp"
	"civicard/terminals/tapsig"
)

// gateway is a scripted TerminalService: it checks signatures, settles
// taps (each sequence once), and can be switched off.
type gateway struct {
	civicardv1connect.UnimplementedTerminalServiceHandler
	pub ed25519.PublicKey

	mu      sync.Mutex
	down    bool
	settled map[uint64]*civicardv1.TapRequest
	blocked []string
	calls   int
	// tariff is served when set; tariffKnown are the versions asked with.
	tariff      *civicardv1.GetTariffResponse
	tariffKnown []string
}

func (g *gateway) check(tap *civicardv1.TapRequest) error {
	if g.down {
		return connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	if err := tapsig.Verify(g.pub, tap); err != nil {
		return connect.NewError(connect.CodeUnauthenticated, err)
	}
	return nil
}

func (g *gateway) Tap(_ context.Context, req *connect.Request[civicardv1.TapRequest]) (*connect.Response[civicardv1.TapResponse], error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if err := g.check(req.Msg); err != nil {
		return nil, err
	}
	g.settled[req.Msg.GetSequence()] = req.Msg
	if req.Msg.GetServiceCode() == bigPurchase && !req.Msg.GetPinVerified() {
		return connect.NewResponse(&civicardv1.TapResponse{Result: civicardv1.TapResult_TAP_RESULT_DECLINED,
			DeclineReason: civicardv1.DeclineReason_DECLINE_REASON_LIMIT_TRANSACTION_NO_PIN, DeclineDetail: "over the no-PIN limit"}), nil
	}
	return connect.NewResponse(&civicardv1.TapResponse{Result: civicardv1.TapResult_TAP_RESULT_ACCEPTED}), nil
}

// bigPurchase is a service the scripted gateway sells only with a PIN.
const bigPurchase = "AKT-MALZENSTWA"

func (g *gateway) UploadOfflineTaps(_ context.Context, req *connect.Request[civicardv1.UploadOfflineTapsRequest]) (*connect.Response[civicardv1.UploadOfflineTapsResponse], error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := &civicardv1.UploadOfflineTapsResponse{}
	for _, tap := range req.Msg.GetTaps() {
		if err := g.check(tap); err != nil {
			return nil, err
		}
		_, replayed := g.settled[tap.GetSequence()]
		g.settled[tap.GetSequence()] = tap
		out.Results = append(out.Results, &civicardv1.TapResponse{Result: civicardv1.TapResult_TAP_RESULT_ACCEPTED, Replayed: replayed})
	}
	return connect.NewResponse(out), nil
}

func (g *gateway) GetDenylist(_ context.Context, req *connect.Request[civicardv1.GetDenylistRequest]) (*connect.Response[civicardv1.GetDenylistResponse], error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	if err := tapsig.VerifyDenylist(g.pub, req.Msg); err != nil {
		return nil, connect.NewError(connect.CodeUnauthenticated, err)
	}
	return connect.NewResponse(&civicardv1.GetDenylistResponse{Version: "v1", CardIds: g.blocked}), nil
}

func (g *gateway) GetTariff(_ context.Context, req *connect.Request[civicardv1.GetTariffRequest]) (*connect.Response[civicardv1.GetTariffResponse], error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down || g.tariff == nil {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	if err := tapsig.VerifyTariff(g.pub, req.Msg); err != nil {
		return nil, connect.NewError(connect.CodeUnauthenticated, err)
	}
	g.tariffKnown = append(g.tariffKnown, req.Msg.GetKnownVersion())
	if req.Msg.GetKnownVersion() == g.tariff.GetVersion() {
		return connect.NewResponse(&civicardv1.GetTariffResponse{Version: g.tariff.GetVersion(), Unchanged: true}), nil
	}
	return connect.NewResponse(g.tariff), nil
}

var master = []byte("civicard-test-mk")

// newStation writes a terminal's files into a temporary directory and
// starts a station on them against a fake gateway.
func newStation(t *testing.T, dir string) (*Station, *gateway) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	g := &gateway{pub: key.Public().(ed25519.PublicKey), settled: map[uint64]*civicardv1.TapRequest{}, blocked: []string{"320000009999"}}
	_, handler := civicardv1connect.NewTerminalServiceHandler(g)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	for name, content := range map[string]string{"terminal.key": hex.EncodeToString(seed), "issuer.key": hex.EncodeToString(master)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Gateway: srv.URL, TerminalID: "T-1", PrivateKeyFile: "terminal.key", IssuerKeyFile: "issuer.key",
		Readers: []string{"R *"}, StateDir: "state", TapBudgetMs: 500, OfflineTapsPerCard: 2, dir: dir}
	st, err := New(cfg, Deps{HTTPClient: srv.Client(), Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard, Rand: rand.Reader, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, g
}

func card(t *testing.T, id string, genuine bool) cardapp.Direct {
	t.Helper()
	var key [cardapp.KeySize]byte
	if genuine {
		key, _ = cardapp.DiversifyKey(master, id)
	}
	c, err := cardapp.NewCard(cardapp.CardConfig{CardID: id, Key: key, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return cardapp.Direct{Card: c}
}

func TestOnlineTapIsSignedAndACloneNeverReachesTheGateway(t *testing.T) {
	st, g := newStation(t, t.TempDir())
	ctx := context.Background()
	if o := st.Transaction(ctx, "R 0", card(t, "320000002990", true), time.Now()); o.Result != Accepted || o.Sequence != 1 {
		t.Fatalf("genuine: %v", o)
	}
	if o := st.Transaction(ctx, "R 0", card(t, "320000002990", false), time.Now()); o.Result != Refused {
		t.Fatalf("clone: %v", o)
	}
	if g.calls != 1 {
		t.Fatalf("the gateway heard %d taps, want 1", g.calls)
	}
}

func TestOfflineQueueLimitDenylistAndUpload(t *testing.T) {
	dir := t.TempDir()
	st, g := newStation(t, dir)
	ctx := context.Background()
	st.Sync(ctx) // the denylist
	g.mu.Lock()
	g.down = true
	g.mu.Unlock()
	for i := range 2 {
		if o := st.Transaction(ctx, "R 0", card(t, "320000002990", true), time.Now()); o.Result != Offline {
			t.Fatalf("offline tap %d: %v", i, o)
		}
	}
	if o := st.Transaction(ctx, "R 0", card(t, "320000002990", true), time.Now()); o.Result != Refused {
		t.Fatalf("third offline tap of a card with a limit of 2: %v", o)
	}
	if o := st.Transaction(ctx, "R 0", card(t, "320000009999", true), time.Now()); o.Result != Refused {
		t.Fatalf("denylisted card offline: %v", o)
	}
	st.Sync(ctx) // gateway still down: nothing lost
	if st.QueueLen() != 2 {
		t.Fatalf("%d queued", st.QueueLen())
	}
	// A restart (the same state directory) keeps the queue and the denylist.
	st.Close()
	st, g2 := newStation(t, dir)
	if st.QueueLen() != 2 || !st.deny.Has("320000009999") {
		t.Fatalf("after restart: %d queued, denylist %v", st.QueueLen(), st.deny.ids)
	}
	st.Sync(ctx)
	if st.QueueLen() != 0 || len(g2.settled) != 2 {
		t.Fatalf("after upload: %d queued, %d settled", st.QueueLen(), len(g2.settled))
	}
	// The next tap has a fresh sequence: none is ever reused.
	o := st.Transaction(ctx, "R 0", card(t, "320000002990", true), time.Now())
	if o.Result != Accepted || g2.settled[o.Sequence] == nil || o.Sequence <= 2 {
		t.Fatalf("after restart: %v", o)
	}
}
