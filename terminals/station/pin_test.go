package station

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"civicard/terminals/cardapp"
)

func cardWithPIN(t *testing.T, id, pin string) cardapp.Direct {
	t.Helper()
	key, _ := cardapp.DiversifyKey(master, id)
	c, err := cardapp.NewCard(cardapp.CardConfig{CardID: id, Key: key, PIN: pin, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return cardapp.Direct{Card: c}
}

// A payment over the no-PIN limit: the holder types the PIN on the
// terminal's keypad, the card verifies it, and the payment goes through as a
// new tap marked PIN verified; a wrong PIN is declined with the tries left;
// a terminal without a keypad declines with the reason.
func TestPaymentOverTheNoPINLimitAsksForThePIN(t *testing.T) {
	st, g := newStation(t, t.TempDir())
	st.cfg.ServiceCode = bigPurchase
	ctx := context.Background()

	o := st.Transaction(ctx, "R 0", cardWithPIN(t, "320000002990", "4321"), time.Now())
	if o.Result != Declined || !strings.Contains(o.Reason, "no-PIN") {
		t.Fatalf("without a keypad: %v, want declined for the PIN", o)
	}

	var prompts strings.Builder
	typed := strings.NewReader("4321\n1111\n")
	st.deps.PINPad = NewLinePINPad(typed, &prompts)
	o = st.Transaction(ctx, "R 0", cardWithPIN(t, "320000002990", "4321"), time.Now())
	if o.Result != Accepted || o.Sequence != 3 {
		t.Fatalf("right PIN: %v, want accepted as tap 3", o)
	}
	if !g.settled[3].GetPinVerified() || g.settled[2].GetPinVerified() {
		t.Fatalf("tap 2 pin_verified=%v, tap 3 pin_verified=%v; want false, true", g.settled[2].GetPinVerified(), g.settled[3].GetPinVerified())
	}
	o = st.Transaction(ctx, "R 0", cardWithPIN(t, "320000002990", "4321"), time.Now())
	if o.Result != Declined || !strings.Contains(o.Reason, "2 tries left") {
		t.Fatalf("wrong PIN: %v, want declined with 2 tries left", o)
	}
	if _, sent := g.settled[5]; sent {
		t.Fatal("a tap was sent after a wrong PIN")
	}
	if n := strings.Count(prompts.String(), "PIN? "); n != 2 {
		t.Fatalf("%d prompts, want 2:\n%s", n, prompts.String())
	}
}
