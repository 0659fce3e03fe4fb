// Package e2e holds the end-to-end tests of the local platform: they build and start
// functions/local as a separate process and drive it over HTTP with real clients (the
// Go openai-go SDK, the npm openai package, raw HTTP), checking every successful body
// against OpenAI's published schemas and every error against OpenAI's error shape.
//
// Run with: go test ./test/e2e/ (Node and test/tools/node_modules are required; make
// test installs them).
package e2e
