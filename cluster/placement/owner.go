package placement

import "hash/fnv"

// Owner returns the member (by address) with the highest rendezvous score
// for identity, or "" when there are no members. Ties, astronomically rare,
// go to the smaller address so every member agrees.
func Owner(identity string, members []string) string {
	var best string
	var bestScore uint64
	for _, member := range members {
		s := score(identity, member)
		if best == "" || s > bestScore || (s == bestScore && member < best) {
			best, bestScore = member, s
		}
	}
	return best
}

func score(identity, member string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(identity))
	h.Write([]byte{0})
	h.Write([]byte(member))
	return fmix64(h.Sum64())
}

// fmix64 is murmur3's finaliser: every input bit affects every output bit.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
