// Package e2e tests webhookd through the built binary: the harness in
// harness_test.go builds it once per test run (CGO_ENABLED=0, as users and
// CI build it), starts `webhookd serve --addr 127.0.0.1:0` and reads the
// address the process logs, so no test picks a port and races another for
// it. The tests drive the API with internal/wiretest's client, run the
// admin commands, a real Chromium on the console, a terminal for the
// password prompt, the example receivers and the documentation's curl
// examples, on SQLite and, when WEBHOOKD_TEST_POSTGRES_URL is set,
// PostgreSQL.
//
// go test -short skips every test that needs the binary.
package e2e
