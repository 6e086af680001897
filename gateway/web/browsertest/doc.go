// Package browsertest drives the gateway's trading page (package web) in
// headless Chromium for tests: the page's own test against a fake gateway,
// and the end-to-end test of the real demo in package main.
//
// New starts Chromium with a fresh profile and ties it to the test: the
// browser is closed and its profile removed when the test ends. Without a
// Chromium binary (or when it does not start) the test is skipped, or fails
// under CI=true, where browser tests must run. $CHROMIUM names the binary;
// otherwise the usual names are looked up on $PATH.
//
// The page exposes its connection state and counters as window.gw; GW reads
// them as a State and WaitFor polls conditions on them.
//
// A Browser belongs to the goroutine of the test that created it: its
// methods take that test's testing.TB and end the test with Fatal on
// failure, so only that goroutine may call them. What the page logs is
// collected on Chromium's event goroutine and is safe to read with Logs.
package browsertest
