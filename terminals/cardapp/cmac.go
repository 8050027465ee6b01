package cardapp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
)

// KeySize is the size of every key of the card application: AES-128.
const KeySize = 16

// MACSize is the size of an AES-CMAC tag.
const MACSize = 16

// CMAC computes AES-CMAC of msg under key (RFC 4493). key is 16, 24 or 32
// bytes; the card application uses 16.
func CMAC(key, msg []byte) ([MACSize]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return [MACSize]byte{}, fmt.Errorf("cmac: %w", err)
	}
	return cmac(block, msg), nil
}

func cmac(block cipher.Block, msg []byte) [MACSize]byte {
	// Subkeys K1, K2 (RFC 4493 2.3).
	var l, k1, k2 [MACSize]byte
	block.Encrypt(l[:], l[:])
	shiftLeft(&k1, &l)
	if l[0]&0x80 != 0 {
		k1[MACSize-1] ^= 0x87
	}
	shiftLeft(&k2, &k1)
	if k1[0]&0x80 != 0 {
		k2[MACSize-1] ^= 0x87
	}
	// All blocks but the last go through CBC; the last is xored with K1
	// when complete, padded with 10* and xored with K2 when not (or empty).
	n := (len(msg) + MACSize - 1) / MACSize
	complete := n > 0 && len(msg)%MACSize == 0
	if n == 0 {
		n = 1
	}
	var x [MACSize]byte
	for i := 0; i < n-1; i++ {
		subtle.XORBytes(x[:], x[:], msg[i*MACSize:(i+1)*MACSize])
		block.Encrypt(x[:], x[:])
	}
	var last [MACSize]byte
	tail := msg[(n-1)*MACSize:]
	if complete {
		subtle.XORBytes(last[:], tail, k1[:])
	} else {
		copy(last[:], tail)
		last[len(tail)] = 0x80
		subtle.XORBytes(last[:], last[:], k2[:])
	}
	subtle.XORBytes(x[:], x[:], last[:])
	block.Encrypt(x[:], x[:])
	return x
}

func shiftLeft(dst, src *[MACSize]byte) {
	var carry byte
	for i := MACSize - 1; i >= 0; i-- {
		b := src[i]
		dst[i] = b<<1 | carry
		carry = b >> 7
	}
}

// Domain separation bytes: the first byte of every CMAC input says what
// the MAC is for, so a value computed for one purpose is never accepted as
// another.
const (
	domainCardKey      = 0x01 // K_card = CMAC(master, 0x01 || card id)
	domainInternalAuth = 0x02 // MAC = CMAC(K_card, 0x02 || RND.ICC || RND.IFD)
)

// DiversifyKey derives a card's own key from the issuer's master key:
// K_card = AES-CMAC(master, 0x01 || card id). A terminal holding the master
// key can check any card; a card holds only its own key, so reading one card
// reveals nothing about another.
func DiversifyKey(master []byte, cardID string) ([KeySize]byte, error) {
	if len(master) != KeySize {
		return [KeySize]byte{}, fmt.Errorf("master key is %d bytes, want %d", len(master), KeySize)
	}
	msg := append([]byte{domainCardKey}, cardID...)
	return CMAC(master, msg)
}

// authMAC is the card's answer to INTERNAL AUTHENTICATE.
func authMAC(cardKey []byte, cardChallenge, terminalChallenge []byte) ([MACSize]byte, error) {
	msg := make([]byte, 0, 1+2*ChallengeSize)
	msg = append(msg, domainInternalAuth)
	msg = append(msg, cardChallenge...)
	msg = append(msg, terminalChallenge...)
	return CMAC(cardKey, msg)
}
