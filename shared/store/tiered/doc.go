// Package tiered is a store.Store decorator that serves hot partitions from memory and
// writes them back to the wrapped store in batches. It is meant for local mode, where one
// process owns the embedded store (bbolt holds an exclusive file lock) and every gateway
// request would otherwise pay several commits for quota reservations, usage records and
// cache entries.
//
// # Semantics
//
// Keys whose PK starts with one of the configured prefixes are tiered: memory is
// authoritative for them. The first touch of a key loads it from the back store (a missing
// item is remembered as absent); Get, Put, Delete, Add and Transact then apply the port's
// shared item rules (conditions, versions, bounded counters, expiry) under a per-shard lock
// and return without touching the back store. Writes mark keys dirty, deletes included.
//
// A background flusher writes every dirty key to the back store every flush interval
// (default 100ms) as transactions of at most 100 unconditional puts and deletes carrying
// the full item state. A failed flush keeps the keys dirty, is logged at error level and
// is retried on the next tick; nothing is dropped. Flush forces a flush; Close stops the
// flusher and flushes one last time.
//
// Query on a tiered partition first flushes that partition's dirty keys synchronously and
// then queries the back store, so it sees every write made before it. A failed flush fails
// the Query.
//
// A Transact whose keys are all tiered runs in memory. A Transact mixing tiered and
// untiered keys evaluates the tiered operations in memory while holding their locks and
// sends the untiered operations together with the resulting tiered item states (as
// unconditional puts and deletes) to the back store in one transaction, so the whole
// transaction commits atomically in the back store too; tiered operation checks
// (OpCheck) are decided in memory. Keys outside the prefixes pass straight through.
//
// # Versions
//
// Versions are the memory tier's: they increase by one per write exactly as in any other
// adapter. Because a back store assigns its own version on every put, the tiered version
// is stored alongside the item in a reserved counter (HiddenVersionNum) and restored when
// the item is loaded or queried back, so versions survive eviction and restarts. Readers
// that bypass this decorator see that extra counter and the back store's own version; Nums
// names starting with "\x00" are reserved.
//
// # Limits
//
// A crash loses at most the last flush interval of writes to tiered partitions (plus any
// writes a failing back store refused); SIGTERM handling must call Close, which flushes.
// Expired items are invisible at once, flushed as deletes, and evicted from memory
// periodically. After each flush, clean items (in no particular order: not an LRU) are
// evicted while memory holds more than WithMaxItems items (default 100,000) or roughly
// WithMaxBytes bytes (default 64 MiB); an evicted item is reloaded from the back store on
// its next touch. Dirty items are never evicted, so a back store that keeps failing lets
// memory grow. Dirty items are written in chunks re-formed in arbitrary order on every
// flush, so an item the back store refuses delays, but does not block, the others. The
// decorator assumes it is the only writer of tiered partitions in the back store; another
// process writing them concurrently would be overwritten.
package tiered
