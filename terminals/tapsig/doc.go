// Package tapsig signs and verifies terminals' taps with ed25519.
//
// A terminal holds its own ed25519 private key; the ledger holds the public
// key (civicard.v1.Terminal.public_key, set by `civicard admin terminals
// register`). The signature covers every field of the TapRequest but the
// signature itself, in one fixed encoding (not the protobuf wire form, which
// is not canonical):
//
//	"civicard.v1.TapRequest/2\x00"
//	u16 len || terminal_id
//	u64 sequence
//	u16 len || card_id
//	i64 time_unix_ms
//	u16 len || service_code
//	u32 quantity
//	u16 len || line
//	u16 len || stop
//	i32 direction
//	u8  pin_verified (0 or 1)
//
// all integers big-endian. A field added to TapRequest later is added here,
// under a new domain string, so an old signature never covers a new meaning.
package tapsig
