// Package browser drives the web console in headless Chromium (Debian's chromium with
// npm playwright-core) against a local platform: sign-in, each page's main action, role
// restrictions, accessibility and session hygiene, with a screenshot of every page saved
// under test/browser/artifacts/ (gitignored).
package browser
