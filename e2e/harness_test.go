package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// build is the binary built once per test run, on first use.
var build struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	err  error
}

// TestMain removes the built binary once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// moduleRoot is the repository root, the parent of this package.
func moduleRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("module root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	return root
}

// binary returns the webhookd binary, building it on the first call the
// way users and CI build it: CGO_ENABLED=0, so a broken static build fails
// every end-to-end test. With -short it skips t instead.
func binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test of the built binary")
	}
	root := moduleRoot(t)
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "webhookd-e2e-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "webhookd")
		if runtime.GOOS == "windows" {
			build.path += ".exe"
		}
		cmd := exec.Command("go", "build", "-ldflags=-X main.version="+e2eVersion, "-o", build.path, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("CGO_ENABLED=0 go build: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatalf("e2e: %v", build.err)
	}
	return build.path
}

// The admin the WEBHOOKD_ADMIN_* variables create in most tests.
const (
	adminEmail    = "admin@example.com"
	adminPassword = "a long admin password"
)

// adminEnv is the environment that creates the admin at start.
var adminEnv = []string{"WEBHOOKD_ADMIN_EMAIL=" + adminEmail, "WEBHOOKD_ADMIN_PASSWORD=" + adminPassword}

// cleanEnv is this process's environment without any WEBHOOKD_ variable,
// so a developer's settings never leak into a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEBHOOKD_") {
			env = append(env, kv)
		}
	}
	return env
}

// processEnv is cleanEnv for webhookd, plus extra (K=V).
func processEnv(extra ...string) []string {
	// The tests' receivers listen on loopback, which the private-target
	// guard refuses by default; the guard's own test sets this to false.
	env := append(cleanEnv(), "WEBHOOKD_ALLOW_PRIVATE_TARGETS=true")
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
	return runIn(t, "", env, stdin, args...)
}

// webhookdIn runs the binary to completion in dir, as a user would run it
// in the wrong folder.
func webhookdIn(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	return runIn(t, dir, env, "", args...)
}

// runIn is webhookd run in dir ("" for this process's).
func runIn(t testing.TB, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	// The binary first: the first test to ask builds it, which on a
	// loaded machine can take longer than the command's own bound.
	bin := binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, processEnv(env...)
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
	URL            string // http://host:port of the API, as the process logged it
	stdout, stderr *lockedBuffer
	done           chan struct{} // closed when the process has exited
	state          *os.ProcessState
}

// startServe starts `webhookd serve --addr 127.0.0.1:0 --db db args…` with
// env and waits until it answers HTTP at the address it logged.
func startServe(t testing.TB, db string, env []string, args ...string) *serveProc {
	t.Helper()
	return startProcess(t, env, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
}

// startProcess starts webhookd with args and env, which must make it serve,
// and waits until it answers HTTP at the address it logged. The process is
// killed when t ends, and its output is logged if t failed.
func startProcess(t testing.TB, env []string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{t: t, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Env = processEnv(env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start webhookd %s: %v", strings.Join(args, " "), err)
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
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("webhookd %s exited before answering: %s\n%s", strings.Join(args, " "), p.state, p.output())
		default:
		}
		if p.URL == "" {
			if addr := p.loggedAddr("webhookd listening"); addr != "" {
				p.URL = "http://" + addr
			}
		}
		if p.URL != "" {
			if resp, err := client.Get(p.URL + "/api/v1/auth/me"); err == nil {
				resp.Body.Close()
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhookd %s did not answer within 30s (at %q)\n%s", strings.Join(args, " "), p.URL, p.output())
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// textAddr is the addr attribute of a line in the text log format.
var textAddr = regexp.MustCompile(`(?:^| )addr=(\S+)`)

// loggedAddr returns the addr of the first complete log line whose message
// is msg ("webhookd listening", "metrics listening"), in the text or the
// JSON format, or "" when there is none yet. serve logs the address it
// bound, so with port 0 this is the port the system chose.
func (p *serveProc) loggedAddr(msg string) string {
	out := p.stderr.String()
	for _, line := range strings.Split(out[:strings.LastIndex(out, "\n")+1], "\n") {
		if strings.HasPrefix(line, "{") {
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == msg {
				return l.Addr
			}
			continue
		}
		if strings.Contains(line, `msg="`+msg+`"`) {
			if m := textAddr.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		}
	}
	return ""
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
