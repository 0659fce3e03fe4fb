// Package quota enforces per-tenant and per-key rate limits (requests and tokens per
// minute) and budgets (daily and monthly tokens and USD) across any number of gateway
// instances sharing one store.
//
// # Protocol
//
// Before calling a model the gateway reserves one request plus the request's worst case
// (input tokens + max_tokens, priced with the registry's prices). After the call it
// reconciles the reservation with the provider-reported usage (the difference may be
// negative). If the provider reported no usage (a stream cut short), the caller reconciles
// with the reserved amounts and flags the usage record as estimated: spend is never
// recorded as zero. A cache hit reconciles to zero tokens and zero cost: it costs one
// request in the rate window and nothing in token or USD budgets.
//
// # Storage and round trips
//
// Counters live on at most two items per subject (the tenant, and the key when it has
// limits of its own), in partition QUOTA#<tenant>:
//
//	[K#<key>#]D#<yyyymmdd>  r:<hhmm> t:<hhmm> (minute windows), tok, usd (day)
//	[K#<key>#]M#<yyyymm>    tok, usd (month)
//
// USD counters hold integer micro-dollars, so sums are exact. The day item carries at most
// 2 × 1440 minute counters (tens of kilobytes, well under DynamoDB's 400 KB item limit) and
// expires two days after its day; the month item expires a week after its month. Only the
// items that carry a configured limit are written.
//
// Reserve makes exactly one store round trip in the common case: one conditional Add
// (a DynamoDB UpdateItem with ADD and a condition) when one item carries limits, or one
// Transact of conditional Adds (TransactWriteItems) when several do. A tenant without
// limits costs no round trip. A refusal costs one more round trip (a read of the items to
// say which limit refused and when to retry). Reconcile makes one round trip when the
// actual usage differs from the reservation and none otherwise.
//
// On DynamoDB, concurrent TransactWriteItems touching the same items may be cancelled with
// TransactionConflict (nothing is written); the store adapter and Reserve retry those with
// jittered backoff, so a hot tenant whose limits span two items pays retries under heavy
// contention, while limits on one item (minute and daily limits, or monthly limits alone)
// use a plain conditional UpdateItem, which DynamoDB serialises per item without conflicts.
//
// # Guarantee
//
// Every counter with a limit is changed only by an Add whose bound (Max) is the limit: the
// check and the increment are one atomic operation in the store, and a reservation that
// would overshoot any of its bounds changes nothing. Hence, with any number of gateway
// instances sharing the store, the requests admitted in a minute window never exceed its
// limit, and reserved (and thus recorded) tokens and spend never exceed a budget, provided
// providers honour max_tokens so actual usage never exceeds the reservation. When a
// provider does exceed it, the overage is recorded truthfully (reconciliation adds it
// without a bound) and further requests are refused until the window or period ends.
// The concurrency test (200 racing requests through 4 instances on one store) checks that
// exactly the feasible number of requests is admitted and that no counter passes its limit.
//
// Periods are UTC minutes, days and calendar months. A limit set in the middle of a period
// counts from the moment its item starts being written.
//
// Why counters in the store and not an in-process token bucket (golang.org/x/time/rate,
// which rag uses to pace one process's embedding calls): a bucket per process admits its
// limit once per gateway instance, and Lambda runs many; the Guarantee above is the
// behaviour contract that keeps this code.
package quota
