package tiered

// ShardIndex exposes the shard a key lives in, so tests can steer eviction.
var ShardIndex = shardIndex
