package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eVersion is stamped into the test binary with -ldflags, so the tests
// also prove that the build-time version reaches `webhookd version` and the
// User-Agent of deliveries.
const e2eVersion = "0.0.0-e2e"

// webhookdBin is the binary TestMain builds for the end-to-end tests.
var webhookdBin string

// TestMain builds the real binary once, the way users and CI build it:
// CGO_ENABLED=0, so a broken static build fails every end-to-end test.
func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "webhookd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temporary directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	webhookdBin = filepath.Join(dir, "webhookd")
	if runtime.GOOS == "windows" {
		webhookdBin += ".exe"
	}
	build := exec.Command("go", "build", "-ldflags=-X main.version="+e2eVersion, "-o", webhookdBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: CGO_ENABLED=0 go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// The admin the WEBHOOKD_ADMIN_* variables create in most tests.
const (
	adminEmail    = "admin@example.com"
	adminPassword = "a long admin password"
)

// adminEnv is the environment that creates the admin at start.
var adminEnv = []string{"WEBHOOKD_ADMIN_EMAIL=" + adminEmail, "WEBHOOKD_ADMIN_PASSWORD=" + adminPassword}

// processEnv is this process's environment without any WEBHOOKD_ variable,
// so a developer's settings never leak into a test, plus extra (K=V).
func processEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEBHOOKD_") {
			env = append(env, kv)
		}
	}
	// The tests' receivers listen on loopback, which the private-target
	// guard refuses by default; the guard's own test sets this to false.
	env = append(env, "WEBHOOKD_ALLOW_PRIVATE_TARGETS=true")
	return append(env, extra...)
}

// result is a finished webhookd command.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("webhookd %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// webhookd runs the binary to completion with env (K=V, added to a clean
// environment) and stdin, and returns what it printed and its exit status.
func webhookd(t testing.TB, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, webhookdBin, args...)
	cmd.Env = processEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s\ndid not finish within 30s", r)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("webhookd %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustWebhookd is webhookd that fails t unless the command exits 0.
func mustWebhookd(t testing.TB, env []string, stdin string, args ...string) result {
	t.Helper()
	r := webhookd(t, env, stdin, args...)
	if r.code != 0 {
		t.Fatalf("%s\nwant exit 0", r)
	}
	return r
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serveProc is a running `webhookd serve`.
type serveProc struct {
	t              testing.TB
	cmd            *exec.Cmd
	URL            string // http://host:port of the API
	stdout, stderr *lockedBuffer
	done           chan struct{} // closed when the process has exited
	state          *os.ProcessState
}

// freeAddr returns a 127.0.0.1 address no one listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	return addr
}

// startServe starts `webhookd serve --addr FREE --db db args…` with env and
// waits until it answers HTTP.
func startServe(t testing.TB, db string, env []string, args ...string) *serveProc {
	t.Helper()
	// A port picked free can be taken by another test before webhookd binds
	// it; then pick another.
	for try := 1; ; try++ {
		addr := freeAddr(t)
		p, err := launch(t, "http://"+addr, env, append([]string{"serve", "--addr", addr, "--db", db}, args...)...)
		if err == nil {
			return p
		}
		if !errors.Is(err, errAddrInUse) || try == 3 {
			t.Fatal(err)
		}
	}
}

// startProcess starts webhookd with args and env and waits until base
// answers HTTP.
func startProcess(t testing.TB, base string, env []string, args ...string) *serveProc {
	t.Helper()
	p, err := launch(t, base, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// errAddrInUse is wrapped by launch's error when webhookd could not bind.
var errAddrInUse = errors.New("address in use")

// launch starts webhookd and waits until it answers at base, or fails when
// it exits first. The process is killed when t ends, and its output is
// logged if t failed.
func launch(t testing.TB, base string, env []string, args ...string) (*serveProc, error) {
	t.Helper()
	p := &serveProc{t: t, URL: base, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(webhookdBin, args...)
	p.cmd.Env = processEnv(env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start webhookd %s: %w", strings.Join(args, " "), err)
	}
	go func() {
		_ = p.cmd.Wait() // the exit status is in ProcessState
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("webhookd %s\n%s", strings.Join(args, " "), p.output())
		}
	})
	// Only once this process has logged its address is an answer there
	// known to be its own, not another test's server on a reused port.
	// The line is addr=… in the text log format and "addr":"…" in JSON.
	addr := strings.TrimPrefix(base, "http://")
	listening := []string{"addr=" + addr, `"addr":"` + addr + `"`}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			err := fmt.Errorf("webhookd %s exited before answering: %s\n%s", strings.Join(args, " "), p.state, p.output())
			if strings.Contains(p.stderr.String(), "address already in use") {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return nil, err
		default:
		}
		if logged := p.stderr.String(); strings.Contains(logged, listening[0]) || strings.Contains(logged, listening[1]) {
			if resp, err := client.Get(base + "/api/v1/auth/me"); err == nil {
				resp.Body.Close()
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("webhookd %s did not answer at %s within 30s\n%s", strings.Join(args, " "), base, p.output())
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// output is everything the process printed, for failure messages.
func (p *serveProc) output() string {
	return fmt.Sprintf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
}

// signal sends sig to the process.
func (p *serveProc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("send %v to webhookd: %v", sig, err)
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// status (-1 when a signal ended it).
func (p *serveProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.state.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("webhookd did not exit within %v\n%s", timeout, p.output())
		return 0
	}
}

// stop sends SIGTERM and fails t unless the process exits 0.
func (p *serveProc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		p.t.Fatalf("webhookd exit status after SIGTERM = %d, want 0\n%s", code, p.output())
	}
}

// kill ends the process with SIGKILL, if it still runs, and waits for it.
func (p *serveProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill() // it may exit on its own meanwhile
	<-p.done
}

// waitFor polls cond until it reports true, failing t with cond's
// description of what it still waits for once the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, waiting := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", timeout, waiting)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

func TestBinaryIsStatic(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the ELF check runs on Linux")
	}
	f, err := elf.Open(webhookdBin)
	if err != nil {
		t.Fatalf("open the built binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has a PT_INTERP program header: it needs a dynamic loader, want a static binary")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("binary links %v, want no shared libraries", libs)
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	if got, want := mustWebhookd(t, nil, "", "version").stdout, "webhookd "+e2eVersion+"\n"; got != want {
		t.Errorf("webhookd version printed %q, want %q", got, want)
	}

	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := mustWebhookd(t, nil, "", args...)
		for _, cmd := range []string{"serve", "migrate up|down|status", "user create", "apikey create", "version", "help", "user create|passwd|disable|enable|delete|unlock"} {
			if !strings.Contains(r.stdout, "webhookd "+cmd) && !strings.Contains(r.stdout, "webhookd ["+cmd) {
				t.Errorf("webhookd %s does not list %q:\n%s", strings.Join(args, " "), cmd, r.stdout)
			}
		}
	}

	// help serve names the variables that choose the first user, which
	// have no flags (new-user pass).
	if r := mustWebhookd(t, nil, "", "help", "serve"); !strings.Contains(r.stdout, "WEBHOOKD_ADMIN_EMAIL") || !strings.Contains(r.stdout, "WEBHOOKD_ADMIN_PASSWORD") {
		t.Errorf("webhookd help serve does not name WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD:\n%s", r.stdout)
	}

	unknown := webhookd(t, nil, "", "frobnicate")
	if unknown.code == 0 || !strings.Contains(unknown.stderr, `unknown command "frobnicate"`) {
		t.Errorf("%s\nwant a non-zero exit naming the unknown command", unknown)
	}
}

// flagRow is one flag as a help text lists it.
type flagRow struct{ env, def string }

// helpFlags reads the flag table of a help text: --name ENV DEFAULT meaning.
func helpFlags(t testing.TB, help string) map[string]flagRow {
	t.Helper()
	rows := map[string]flagRow{}
	for _, line := range strings.Split(help, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[0], "--") {
			continue
		}
		rows[strings.TrimPrefix(f[0], "--")] = flagRow{env: f[1], def: f[2]}
	}
	if len(rows) == 0 {
		t.Fatalf("no flags in help text:\n%s", help)
	}
	return rows
}

func TestHelpListsFlagsWithEnvironmentAndDefaults(t *testing.T) {
	t.Parallel()
	// want is the documented configuration; def "" means any default.
	tests := []struct {
		cmd  string
		want map[string]flagRow
	}{
		{"serve", map[string]flagRow{
			"addr":             {"WEBHOOKD_ADDR", ":3000"},
			"db":               {"WEBHOOKD_DB", "webhookd.db"},
			"jwt-secret":       {"WEBHOOKD_JWT_SECRET", ""},
			"token-ttl":        {"WEBHOOKD_TOKEN_TTL", "24h"},
			"migrate":          {"WEBHOOKD_MIGRATE", "true"},
			"event-types":      {"WEBHOOKD_EVENT_TYPES", ""},
			"retry-schedule":   {"WEBHOOKD_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h"},
			"delivery-timeout": {"WEBHOOKD_DELIVERY_TIMEOUT", "30s"},
			"shutdown-grace":   {"WEBHOOKD_SHUTDOWN_GRACE", "10s"},
			// Issue 12 items 7, 8.
			"write-timeout":        {"WEBHOOKD_WRITE_TIMEOUT", "30s"},
			"max-connections":      {"WEBHOOKD_MAX_CONNECTIONS", "10000"},
			"max-streams":          {"WEBHOOKD_MAX_STREAMS", "1000"},
			"max-streams-per-user": {"WEBHOOKD_MAX_STREAMS_PER_USER", "10"},
		}},
		{"migrate", map[string]flagRow{"db": {"WEBHOOKD_DB", "webhookd.db"}}},
		{"user", map[string]flagRow{"db": {"WEBHOOKD_DB", "webhookd.db"}, "email": {"-", ""}, "password": {"-", ""}}},
		{"apikey", map[string]flagRow{"db": {"WEBHOOKD_DB", "webhookd.db"}, "email": {"-", ""}, "name": {"-", ""}}},
	}
	for _, tt := range tests {
		for _, args := range [][]string{{"help", tt.cmd}, {tt.cmd, "-h"}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := mustWebhookd(t, nil, "", args...)
				got := helpFlags(t, r.stdout)
				for name, want := range tt.want {
					row, ok := got[name]
					switch {
					case !ok:
						t.Errorf("--%s missing from:\n%s", name, r.stdout)
					case row.env != want.env:
						t.Errorf("--%s environment = %q, want %q", name, row.env, want.env)
					case want.def != "" && row.def != want.def:
						t.Errorf("--%s default = %q, want %q", name, row.def, want.def)
					}
				}
				if tt.cmd != "serve" {
					return
				}
				// Every serve flag is configurable through the environment.
				for name, row := range got {
					if !strings.HasPrefix(row.env, "WEBHOOKD_") {
						t.Errorf("serve --%s has no environment variable (%q)", name, row.env)
					}
				}
			})
		}
	}
}

func TestFlagSetPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantTTL time.Duration
	}{
		{"defaults", nil, nil, ":3000", 24 * time.Hour},
		{"environment", nil, map[string]string{"WEBHOOKD_ADDR": ":4000", "WEBHOOKD_TOKEN_TTL": "1h"}, ":4000", time.Hour},
		{"flag wins over environment", []string{"--addr", ":5000", "--token-ttl=2h"}, map[string]string{"WEBHOOKD_ADDR": ":4000", "WEBHOOKD_TOKEN_TTL": "1h"}, ":5000", 2 * time.Hour},
		{"flag equal to default still wins", []string{"--addr=:3000"}, map[string]string{"WEBHOOKD_ADDR": ":4000"}, ":3000", 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, c := serveFlags()
			if err := fs.parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if c.addr != tt.want {
				t.Errorf("addr = %q, want %q", c.addr, tt.want)
			}
			if c.tokenTTL != tt.wantTTL {
				t.Errorf("token TTL = %v, want %v", c.tokenTTL, tt.wantTTL)
			}
		})
	}
}

func TestFlagSetBadEnvironmentNamesVariable(t *testing.T) {
	fs, _ := serveFlags()
	err := fs.parse(nil, func(k string) string {
		if k == "WEBHOOKD_TOKEN_TTL" {
			return "a day"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "WEBHOOKD_TOKEN_TTL") {
		t.Errorf("parse with WEBHOOKD_TOKEN_TTL=\"a day\": err = %v, want an error naming the variable", err)
	}
}

func TestShortDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{24 * time.Hour, "24h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + 30*time.Second, "1h0m30s"},
		{5 * time.Minute, "5m"},
		{30 * time.Second, "30s"},
		{1500 * time.Millisecond, "1.5s"},
		{0, "0s"},
	}
	for _, tt := range tests {
		if got := shortDuration(tt.in); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := time.ParseDuration(shortDuration(tt.in)); err != nil || back != tt.in {
			t.Errorf("time.ParseDuration(shortDuration(%v)) = %v, %v; want it back", tt.in, back, err)
		}
	}
}

func TestRunHelpReturnsErrHelp(t *testing.T) {
	// main exits 0 on flag.ErrHelp; every -h must return it, not an error
	// that would exit 1.
	for _, args := range [][]string{{"serve", "-h"}, {"migrate", "-h"}, {"user", "-h"}, {"user", "create", "-h"}, {"apikey", "-h"}, {"-h"}} {
		err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("run %v: err = %v, want nil or flag.ErrHelp", args, err)
		}
	}
}

// TestMetricsServerTimeouts checks that the --metrics-addr server cuts off
// slow and idle clients as the API's does (issue 12 item 8): it had only a
// header timeout, so a client that sent a GET with a Content-Length and no
// body, or kept its connection idle after a scrape, held one of
// --max-connections for good.
func TestMetricsServerTimeouts(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := newHTTPServer(http.NotFoundHandler(), logger)
	m := newMetricsServer(http.NotFoundHandler(), 7*time.Second, logger)
	if m.ReadHeaderTimeout <= 0 || m.ReadTimeout <= 0 || m.IdleTimeout <= 0 {
		t.Errorf("metrics server timeouts: header %s, read %s, idle %s; want all positive", m.ReadHeaderTimeout, m.ReadTimeout, m.IdleTimeout)
	}
	if m.ReadTimeout != api.ReadTimeout || m.IdleTimeout != api.IdleTimeout || m.ReadHeaderTimeout != api.ReadHeaderTimeout {
		t.Errorf("metrics server timeouts differ from the API's: %s/%s/%s vs %s/%s/%s",
			m.ReadHeaderTimeout, m.ReadTimeout, m.IdleTimeout, api.ReadHeaderTimeout, api.ReadTimeout, api.IdleTimeout)
	}
	if m.WriteTimeout != 7*time.Second {
		t.Errorf("metrics server write timeout %s, want --write-timeout 7s", m.WriteTimeout)
	}
}
