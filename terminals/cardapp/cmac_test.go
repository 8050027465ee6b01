package cardapp

import (
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The four examples of RFC 4493, section 4.
func TestCMACRFC4493(t *testing.T) {
	key := "2b7e1516 28aed2a6 abf71588 09cf4f3c"
	msg := "6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51" +
		"30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710"
	for _, tc := range []struct {
		len int
		mac string
	}{
		{0, "bb1d6929 e9593728 7fa37d12 9b756746"},
		{16, "070a16b4 6b4d4144 f79bdd9d d04a287c"},
		{40, "dfa66747 de9ae630 30ca3261 1497c827"},
		{64, "51f0bebf 7e3b9d92 fc497417 79363cfe"},
	} {
		got, err := CMAC(unhex(t, key), unhex(t, msg)[:tc.len])
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, tc.mac); string(got[:]) != string(want) {
			t.Errorf("CMAC of %d bytes = %x, want %x", tc.len, got, want)
		}
	}
}

// The subkeys of RFC 4493 section 4 come out of the same code path; a
// mistake in them would break the vectors above, but say so directly.
func TestCMACSubkeysRFC4493(t *testing.T) {
	block, l := mustBlock(t, "2b7e1516 28aed2a6 abf71588 09cf4f3c"), [MACSize]byte{}
	block.Encrypt(l[:], l[:])
	if want := unhex(t, "7df76b0c 1ab899b3 3e42f047 b91b546f"); string(l[:]) != string(want) {
		t.Fatalf("L = %x", l)
	}
	var k1, k2 [MACSize]byte
	shiftLeft(&k1, &l) // L's top bit is 0: no xor
	if want := unhex(t, "fbeed618 35713366 7c85e08f 7236a8de"); string(k1[:]) != string(want) {
		t.Fatalf("K1 = %x", k1)
	}
	shiftLeft(&k2, &k1)
	k2[MACSize-1] ^= 0x87 // K1's top bit is 1
	if want := unhex(t, "f7ddac30 6ae266cc f90bc11e e46d513b"); string(k2[:]) != string(want) {
		t.Fatalf("K2 = %x", k2)
	}
}

func TestDiversifiedKeysDifferByCardAndMaster(t *testing.T) {
	master := unhex(t, "2b7e1516 28aed2a6 abf71588 09cf4f3c")
	a, _ := DiversifyKey(master, "320000002990")
	b, _ := DiversifyKey(master, "320000003006")
	other := append([]byte(nil), master...)
	other[0] ^= 1
	c, _ := DiversifyKey(other, "320000002990")
	if a == b || a == c {
		t.Fatalf("keys collide: %x %x %x", a, b, c)
	}
	if _, err := DiversifyKey(master[:15], "1"); err == nil {
		t.Fatal("a 15-byte master key was accepted")
	}
}
