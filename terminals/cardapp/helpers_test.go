package cardapp

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"
)

func mustBlock(t testing.TB, key string) cipher.Block {
	t.Helper()
	b, err := aes.NewCipher(unhex(t, key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// counter is a deterministic "random" source: n, n+1, n+2, ...
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

// testMaster is the issuer master key of the tests (RFC 4493's key).
const testMaster = "2b7e1516 28aed2a6 abf71588 09cf4f3c"

func genuineCard(t testing.TB, id, pin string) *Card {
	t.Helper()
	key, err := DiversifyKey(unhex(t, testMaster), id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCard(CardConfig{CardID: id, Key: key, PIN: pin, Rand: &counter{n: 0xA0}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
