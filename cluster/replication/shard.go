package replication

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// Names of the Raft groups of a cluster.
const (
	// RegistryGroup is the small group for institutions, terminals and
	// cards' metadata.
	RegistryGroup = "registry"
	// shardGroupPrefix + the shard number names a ledger shard.
	shardGroupPrefix = "shard-"
)

// ShardOf returns the ledger shard, in [0, shards), that holds cardID: FNV-1a
// (64-bit) of the id's bytes, modulo shards. It is part of the on-disk
// contract: a card's money lives in the shard this names, so the function
// and a cluster's shard count must never change once cards are open. It
// panics if shards < 1.
func ShardOf(cardID string, shards int) int {
	if shards < 1 {
		panic(fmt.Sprintf("replication: ShardOf with %d shards", shards))
	}
	h := fnv.New64a()
	h.Write([]byte(cardID)) // never fails
	return int(h.Sum64() % uint64(shards))
}

// ShardGroup names the Raft group of ledger shard i: "shard-0", "shard-1"...
func ShardGroup(i int) string {
	return shardGroupPrefix + strconv.Itoa(i)
}
