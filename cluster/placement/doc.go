// Package placement decides on which cluster member each grain lives: a
// protoactor-go IdentityLookup that replaces the library's disthash.
//
// Like disthash it uses rendezvous hashing (every member scores every
// identity; the highest score owns it), so when a member joins or leaves only
// the identities it wins or held move. It differs in two ways, both measured:
//
//   - The score. disthash scores with FNV-1a-32 over identity+address, whose
//     last multiply barely separates addresses that differ in one character:
//     127.0.0.1:8101/8102/8103 split grains 50/25/25. Here the score is
//     FNV-1a-64 over identity, a separator and the address, finished with a
//     full 64-bit avalanche (murmur3's fmix64), which keeps every member within
//     a few percent of its fair share (owner_test.go).
//   - Ownership on activation. A member activates a grain only if its own
//     view of the topology says it owns it; a caller with a stale view gets
//     no PID and retries (with the call's backoff) until views agree. This
//     narrows the window in which one identity lives on two members. It does
//     not close it (views change at different moments), which is why money
//     is guarded by the ledger's version check, not by placement.
package placement
