// Package faults drives the whole platform, in process, against fake upstreams that
// misbehave in every way an upstream can (see providertest.Fault): rate limits with and
// without Retry-After, server errors, resets, silence, a slow first token, streams cut,
// stalled, malformed or left without their terminator, context-length and content-filter
// refusals, and an outage that recovers. Each fault meets each route (streamed and not,
// with a fallback and alone) through the real OpenAI Go client, and the tests check what
// the client reads, which model answered, and the usage record the request left.
//
// Run with: go test ./test/faults/
package faults
