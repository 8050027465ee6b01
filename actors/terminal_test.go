package actors

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	civicardv1 "civicard/messages/civicard/v1"
	grainsv1 "civicard/messages/grains/v1"
	ledgerv1 "civicard/messages/ledger/v1"
	"civicard/terminals/tapsig"
)

// The terminal grain's three ways to authenticate a tap: a bearer
// credential for a terminal without a key, a signature for one with a key
// (the credential then neither needed nor enough), nothing for a revoked one.
func TestTerminalAuthentication(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	credential := sha256.Sum256([]byte("secret"))
	signed := &civicardv1.TapRequest{TerminalId: "T-1", Sequence: 1, CardId: testCard, TimeUnixMs: 1}
	tapsig.Sign(key, signed)
	unsigned := &civicardv1.TapRequest{TerminalId: "T-1", Sequence: 1, CardId: testCard, TimeUnixMs: 1}
	tampered := &civicardv1.TapRequest{TerminalId: "T-1", Sequence: 2, CardId: testCard, TimeUnixMs: 1, Signature: signed.GetSignature()}
	foreign := &civicardv1.TapRequest{TerminalId: "T-1", Sequence: 1, CardId: testCard, TimeUnixMs: 1}
	tapsig.Sign(ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), 2)), foreign)

	bearerOnly := &civicardv1.Terminal{TerminalId: "T-1", CredentialSha256: credential[:]}
	withKey := &civicardv1.Terminal{TerminalId: "T-1", CredentialSha256: credential[:], PublicKey: key.Public().(ed25519.PublicKey)}
	revoked := &civicardv1.Terminal{TerminalId: "T-1", CredentialSha256: credential[:], PublicKey: withKey.GetPublicKey(), Revoked: true}
	for _, tc := range []struct {
		name     string
		terminal *civicardv1.Terminal
		in       *grainsv1.TerminalTap
		ok       bool
	}{
		{"bearer", bearerOnly, &grainsv1.TerminalTap{Tap: unsigned, Credential: "secret"}, true},
		{"wrong bearer", bearerOnly, &grainsv1.TerminalTap{Tap: unsigned, Credential: "guess"}, false},
		{"signed", withKey, &grainsv1.TerminalTap{Tap: signed}, true},
		{"key registered, bearer only", withKey, &grainsv1.TerminalTap{Tap: unsigned, Credential: "secret"}, false},
		{"tampered", withKey, &grainsv1.TerminalTap{Tap: tampered}, false},
		{"signed by another terminal's key", withKey, &grainsv1.TerminalTap{Tap: foreign, Credential: "secret"}, false},
		{"revoked", revoked, &grainsv1.TerminalTap{Tap: signed, Credential: "secret"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &terminalGrain{id: "T-1", terminal: tc.terminal}
			err := g.authenticate(tc.in)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !grainsv1.IsUnauthenticated(err) {
				t.Fatalf("err = %v, want UNAUTHENTICATED", err)
			}
		})
	}
}

// An offline tap the card cannot cover is accepted and becomes debt.
func TestOfflineTapBecomesDebt(t *testing.T) {
	l := newTestLedger(t)
	g := &cardGrain{deps: newTestDeps(t, l), id: testCard}
	tap := tapOf(1)
	tap.Quantity = 5 // 17.00 PLN, more than the 10.00 PLN on the card
	tap.Offline = true
	answer, err := g.Authorize(tap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if answer.GetResult() != civicardv1.TapResult_TAP_RESULT_ACCEPTED || answer.GetBalance().GetMinorUnits() != 0 {
		t.Fatalf("offline tap = %v, want accepted with balance 0", answer)
	}
	card, _ := l.Card(context.Background(), testCard)
	if card.GetDebtMinor() != 700 {
		t.Fatalf("debt %d, want 700", card.GetDebtMinor())
	}
	res, err := g.GetCard(&civicardv1.GetCardRequest{CardId: testCard}, nil)
	if err != nil || res.GetCard().GetDebt().GetMinorUnits() != 700 {
		t.Fatalf("GetCard = %v, %v; want debt 700", res, err)
	}
}

// The terminal grain keeps the answers of its last RecentTapsMax taps for
// retries, and forgets the oldest first.
func TestTerminalRemembersTheLatestAnswers(t *testing.T) {
	g := &terminalGrain{deps: &Deps{Config: Config{RecentTapsMax: 3}}, recent: map[uint64]recentTap{}}
	for seq := uint64(1); seq <= 7; seq++ {
		g.remember(&civicardv1.TapRequest{Sequence: seq, CardId: testCard}, &civicardv1.TapResponse{TransactionId: "tap/" + string(rune('0'+seq))})
	}
	if len(g.recent) != 3 {
		t.Fatalf("%d answers kept, want 3", len(g.recent))
	}
	for seq := uint64(5); seq <= 7; seq++ {
		if a, ok := g.recent[seq]; !ok || a.answer.GetTransactionId() != "tap/"+string(rune('0'+seq)) {
			t.Errorf("sequence %d: answer %v, want the one it was given", seq, a.answer)
		}
	}
}

// A remembered sequence answers a retry of its tap with the first answer,
// replayed (whatever time the terminal stamped on its resend), and refuses
// another tap under it (another card, product or quantity) without the
// first answer: the second card rides nowhere for free.
func TestTerminalRefusesAReusedSequence(t *testing.T) {
	g := &terminalGrain{id: "T-1", deps: &Deps{Config: Config{RecentTapsMax: 3}}, recent: map[uint64]recentTap{}}
	first := &civicardv1.TapRequest{TerminalId: "T-1", Sequence: 1, CardId: testCard, ServiceCode: "RIDE-20MIN", TimeUnixMs: 5}
	g.remember(first, &civicardv1.TapResponse{TransactionId: "tap/T-1/1", Balance: &civicardv1.Money{MinorUnits: 660}})

	retry := &civicardv1.TapRequest{TerminalId: "T-1", Sequence: 1, CardId: testCard, ServiceCode: "RIDE-20MIN", TimeUnixMs: 9, Quantity: 1, Line: "T6"}
	replay, ok, err := g.recall(retry)
	if err != nil || !ok || !replay.GetReplayed() || replay.GetBalance().GetMinorUnits() != 660 {
		t.Fatalf("retry: %v, %v, %v; want the first answer replayed", replay, ok, err)
	}
	for name, other := range map[string]*civicardv1.TapRequest{
		"another card":     {TerminalId: "T-1", Sequence: 1, CardId: "320000000026", ServiceCode: "RIDE-20MIN", TimeUnixMs: 5},
		"another product":  {TerminalId: "T-1", Sequence: 1, CardId: testCard, ServiceCode: "DAY", TimeUnixMs: 5},
		"another quantity": {TerminalId: "T-1", Sequence: 1, CardId: testCard, ServiceCode: "RIDE-20MIN", TimeUnixMs: 5, Quantity: 2},
	} {
		answer, ok, err := g.recall(other)
		if !grainsv1.IsAlreadyExists(err) || ok || answer != nil {
			t.Errorf("%s: %v, %v, %v; want ALREADY_EXISTS and no answer", name, answer, ok, err)
		}
	}
}

// An unknown terminal, a revoked one and a wrong credential or signature
// get the same answer: nobody finds the registered terminal ids by trying.
func TestTerminalRefusalsLookAlike(t *testing.T) {
	l := newTestLedger(t)
	credential := sha256.Sum256([]byte("secret"))
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	unsigned := &civicardv1.TapRequest{TerminalId: "T-1", Sequence: 1, CardId: testCard, TimeUnixMs: 1}

	unknown := &terminalGrain{id: "T-1", deps: newTestDeps(t, l)}
	errUnknown := unknown.load(nil) // refused before the grain needs the cluster
	var refusals []error
	for _, tc := range []struct {
		terminal *civicardv1.Terminal
		in       *grainsv1.TerminalTap
	}{
		{&civicardv1.Terminal{TerminalId: "T-1", CredentialSha256: credential[:]}, &grainsv1.TerminalTap{Tap: unsigned, Credential: "guess"}},
		{&civicardv1.Terminal{TerminalId: "T-1", CredentialSha256: credential[:], PublicKey: key.Public().(ed25519.PublicKey)}, &grainsv1.TerminalTap{Tap: unsigned, Credential: "secret"}},
		{&civicardv1.Terminal{TerminalId: "T-1", CredentialSha256: credential[:], Revoked: true}, &grainsv1.TerminalTap{Tap: unsigned, Credential: "secret"}},
	} {
		g := &terminalGrain{id: "T-1", terminal: tc.terminal, deps: newTestDeps(t, l)}
		refusals = append(refusals, g.authenticate(tc.in))
	}
	if !grainsv1.IsUnauthenticated(errUnknown) {
		t.Fatalf("unknown terminal: %v, want UNAUTHENTICATED", errUnknown)
	}
	for i, err := range refusals {
		if err == nil || err.Error() != errUnknown.Error() {
			t.Errorf("refusal %d = %v; want the unknown terminal's answer %v", i, err, errUnknown)
		}
	}
}

// BlockedCards makes memLedger a DenylistReader, as the node's ledger is.
func (l *memLedger) BlockedCards(context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.BlockedCards(), nil
}

// registerTestTerminal registers a terminal of the test institution with
// the key's public half (and a bearer credential it must not be able to
// use instead) and returns its ledger record.
func registerTestTerminal(t *testing.T, l *memLedger, id string, key ed25519.PrivateKey) *civicardv1.Terminal {
	t.Helper()
	credential := sha256.Sum256([]byte("secret"))
	res, err := l.Propose(context.Background(), &ledgerv1.Command{Id: "terminal/" + id, Kind: &ledgerv1.Command_RegisterTerminal{RegisterTerminal: &ledgerv1.RegisterTerminal{
		Terminal: &civicardv1.Terminal{TerminalId: id, InstitutionId: testInstitution, CredentialSha256: credential[:], PublicKey: key.Public().(ed25519.PublicKey)},
	}}})
	if err != nil || res.GetStatus() != ledgerv1.Status_STATUS_OK {
		t.Fatalf("register terminal %s: %v, %v", id, res, err)
	}
	terminal, err := l.Terminal(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return terminal
}

// A terminal's requests for its denylist and its tariff are answered only
// when signed by its own key at a time near the node's clock, and only
// while it is not revoked. Every refusal is the unknown terminal's answer,
// so trying requests tells nobody which terminals exist or why one failed.
func TestTerminalSignedRequests(t *testing.T) {
	l := newTestLedger(t)
	deps := newTestDeps(t, l)
	key := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), 1))
	otherKey := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), 2))
	good := registerTestTerminal(t, l, "T-1", key)
	registerTestTerminal(t, l, "T-2", otherKey)
	registerTestTerminal(t, l, "T-3", key)
	// Revoked through the grain, as an operator would: the ledger's record
	// says so from then on.
	revoked, err := (&terminalGrain{id: "T-3", deps: deps}).Change(&grainsv1.ChangeTerminal{RequestId: "r1", Change: &grainsv1.ChangeTerminal_RevokeReason{RevokeReason: "stolen"}}, nil)
	if err != nil || !revoked.GetTerminal().GetRevoked() {
		t.Fatalf("revoke T-3: %v, %v", revoked, err)
	}
	errUnknown := (&terminalGrain{id: "T-9", deps: deps}).load(nil) // refused before the grain needs the cluster
	if !grainsv1.IsUnauthenticated(errUnknown) {
		t.Fatalf("unknown terminal: %v, want UNAUTHENTICATED", errUnknown)
	}

	// Each case says which terminal's grain is asked, with which
	// record, and how its request is stamped and signed.
	now := time.Now().UnixMilli()
	skew := denylistSkewMax.Milliseconds()
	for _, tc := range []struct {
		name     string
		terminal *civicardv1.Terminal
		timeMs   int64
		sign     func(msg []byte) []byte // nil: no signature
		ok       bool
	}{
		{"signed now", good, now, func(m []byte) []byte { return ed25519.Sign(key, m) }, true},
		{"signed near the skew limit", good, now - skew + 60_000, func(m []byte) []byte { return ed25519.Sign(key, m) }, true},
		{"unsigned", good, now, nil, false},
		{"bad signature", good, now, func(m []byte) []byte { s := ed25519.Sign(key, m); s[0] ^= 1; return s }, false},
		{"signature of other bytes", good, now, func([]byte) []byte { return ed25519.Sign(key, []byte("other")) }, false},
		{"signed by another terminal's key", good, now, func(m []byte) []byte { return ed25519.Sign(otherKey, m) }, false},
		{"time far in the past", good, now - skew - 60_000, func(m []byte) []byte { return ed25519.Sign(key, m) }, false},
		{"time far in the future", good, now + skew + 60_000, func(m []byte) []byte { return ed25519.Sign(key, m) }, false},
		{"time zero", good, 0, func(m []byte) []byte { return ed25519.Sign(key, m) }, false},
		{"revoked", revoked.GetTerminal(), now, func(m []byte) []byte { return ed25519.Sign(key, m) }, false},
	} {
		id := tc.terminal.GetTerminalId()
		check := func(t *testing.T, answered bool, err error) {
			t.Helper()
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.ok && !answered:
				t.Fatal("answered without a version")
			case !tc.ok && err == nil:
				t.Fatal("answered, want refused")
			case !tc.ok && (!grainsv1.IsUnauthenticated(err) || err.Error() != errUnknownOf(errUnknown, "T-9", id)):
				t.Fatalf("err = %v; want the unknown terminal's answer %v", err, errUnknown)
			}
		}
		t.Run("denylist/"+tc.name, func(t *testing.T) {
			req := &civicardv1.GetDenylistRequest{TerminalId: id, TimeUnixMs: tc.timeMs}
			if tc.sign != nil {
				req.Signature = tc.sign(tapsig.DenylistMessage(req))
			}
			g := &terminalGrain{id: id, deps: deps, terminal: tc.terminal}
			res, err := g.Denylist(&grainsv1.TerminalDenylist{Request: req, Credential: "secret"}, nil)
			check(t, res.GetVersion() != "", err)
		})
		t.Run("tariff/"+tc.name, func(t *testing.T) {
			req := &civicardv1.GetTariffRequest{TerminalId: id, TimeUnixMs: tc.timeMs}
			if tc.sign != nil {
				req.Signature = tc.sign(tapsig.TariffMessage(req))
			}
			g := &terminalGrain{id: id, deps: deps, terminal: tc.terminal}
			res, err := g.Tariff(&grainsv1.TerminalTariffRequest{Request: req, Credential: "secret"}, nil)
			check(t, res.GetVersion() != "" && len(res.GetTariff().GetProducts()) > 0, err)
		})
	}
}

// errUnknownOf is the unknown terminal's refusal as terminal id would get
// it: the same words, with its own id.
func errUnknownOf(errUnknown error, unknownID, id string) string {
	return strings.ReplaceAll(errUnknown.Error(), unknownID, id)
}
