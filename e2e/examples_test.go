package e2e

// The receivers under examples/ and the repository's test-webhooks-api.sh
// against the real webhookd binary: each receiver gets real signed
// deliveries and must verify every one and reject a tampered body, a stale
// timestamp and accept a replay only as a duplicate. (Moved here from
// examples/examples_test.go.)

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/wiretest"
)

// exampleEmail and examplePassword are the user every examples test logs
// in as.
const (
	exampleEmail    = "examples@example.com"
	examplePassword = "examples-password-123"
)

// exampleDeadline bounds every wait on another process. It is generous:
// CI runs under -race on a small, busy machine.
const exampleDeadline = 60 * time.Second

// receiverBuild is the Go example receiver, built once per test run on
// first use, beside the webhookd binary.
var receiverBuild struct {
	once sync.Once
	path string
	err  error
}

// receiverGo returns the built Go example receiver.
func receiverGo(t testing.TB) string {
	t.Helper()
	webhookdBin := binary(t)
	receiverBuild.once.Do(func() {
		receiverBuild.path = filepath.Join(filepath.Dir(webhookdBin), "receiver-go")
		cmd := exec.Command("go", "build", "-o", receiverBuild.path, "./examples/go")
		cmd.Dir = moduleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			receiverBuild.err = fmt.Errorf("go build ./examples/go: %w\n%s", err, out)
		}
	})
	if receiverBuild.err != nil {
		t.Fatalf("build: %v", receiverBuild.err)
	}
	return receiverBuild.path
}

// need skips the test when a program it runs is not installed.
func need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it); skipping", p)
		}
	}
}

// output collects a process's output lines and lets tests wait for one.
type output struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.lines = append(o.lines, string(o.partial[:i]))
		o.partial = o.partial[i+1:]
		added = true
	}
	if added {
		close(o.changed)
		o.changed = make(chan struct{})
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n") + string(o.partial)
}

// waitFor returns the first line match accepts, waiting until exited is
// closed or the exampleDeadline passes.
func (o *output) waitFor(t testing.TB, what string, exited <-chan struct{}, match func(string) bool) string {
	t.Helper()
	timeout := time.After(exampleDeadline)
	for {
		o.mu.Lock()
		for _, l := range o.lines {
			if match(l) {
				o.mu.Unlock()
				return l
			}
		}
		changed := o.changed
		o.mu.Unlock()
		select {
		case <-changed:
		case <-exited:
			t.Fatalf("process exited before %s; output:\n%s", what, o)
		case <-timeout:
			t.Fatalf("no %s within %s; output:\n%s", what, exampleDeadline, o)
		}
	}
}

// process is a started program whose output is collected.
type process struct {
	cmd    *exec.Cmd
	out    *output
	exited chan struct{}
	err    error // set before exited is closed
}

// start runs argv with extra environment, stopping it with SIGTERM when the
// test ends if it is still running.
func start(t testing.TB, env []string, argv ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(argv[0], argv[1:]...), out: newOutput(), exited: make(chan struct{})}
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM, waits for the process to exit (killing it after the
// exampleDeadline) and returns its exit code.
func (p *process) stop(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(exampleDeadline):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("%s did not exit within %s of SIGTERM; killed; output:\n%s", p.cmd.Path, exampleDeadline, p.out)
		}
	}
	return p.cmd.ProcessState.ExitCode()
}

// served is a running webhookd serve and a logged-in client for it.
type served struct {
	proc *serveProc
	base string
	api  wiretest.Client
}

// startWebhookd runs the built binary with a fresh SQLite database, a short
// retry schedule and the examples' user, and logs in.
func startWebhookd(t testing.TB) *served {
	t.Helper()
	return startWebhookdOn(t, filepath.Join(t.TempDir(), "webhookd.db"))
}

// startWebhookdOn is startWebhookd on the database db (an SQLite path or
// a PostgreSQL URL), with extra serve flags.
func startWebhookdOn(t testing.TB, db string, extra ...string) *served {
	t.Helper()
	args := []string{"--log-format", "json", "--retry-schedule", "1s,1s,1s", "--delivery-timeout", "10s", "--shutdown-grace", "2s",
		// The receivers listen on loopback, which the private-target
		// guard refuses unless told otherwise.
		"--allow-private-targets"}
	p := startServe(t, db,
		[]string{"WEBHOOKD_ADMIN_EMAIL=" + exampleEmail, "WEBHOOKD_ADMIN_PASSWORD=" + examplePassword},
		append(args, extra...)...)
	w := &served{proc: p, base: p.URL, api: wiretest.Client{HTTP: httpClient, Base: p.URL}}
	var login wiretest.Login
	w.decode(t, w.do(t, "POST", "/api/v1/auth/login", map[string]string{"email": exampleEmail, "password": examplePassword}, 200), &login)
	w.api.Token = login.AccessToken
	return w
}

// do makes one API request (a string body is sent as written, anything
// else JSON-encoded) and fails the test unless it answers want.
func (w *served) do(t testing.TB, method, path string, body any, want int) []byte {
	t.Helper()
	resp := w.api.Do(t, method, path, body)
	if resp.Status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.Status, resp.Body, want)
	}
	return resp.Body
}

func (w *served) decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// logEntry is a log entry as the shared wire structs read it.
type logEntry = wiretest.Log

// requestBody is the body a logged attempt sent, "" when it shows none.
func requestBody(l logEntry) string {
	if l.RequestBody == nil {
		return ""
	}
	return *l.RequestBody
}

// waitDelivered polls the webhook's logs until n attempts succeeded, and
// fails at once if any attempt failed: every delivery must verify.
func (w *served) waitDelivered(t testing.TB, webhookID string, n int, receiver *process) []logEntry {
	t.Helper()
	stop := time.Now().Add(exampleDeadline)
	for {
		var page wiretest.Page[logEntry]
		w.decode(t, w.do(t, "GET", "/api/v1/webhooks/"+webhookID+"/logs?limit=500", nil, 200), &page)
		success := 0
		for _, l := range page.Data {
			if l.Status != "success" {
				t.Fatalf("attempt %s (%s) failed: status %v, answer %v; receiver output:\n%s",
					l.ID, l.EventType, deref(l.StatusCode), deref(l.ResponseBody), receiver.out)
			}
			success++
		}
		if success == n {
			return page.Data
		}
		if time.Now().After(stop) {
			t.Fatalf("%d of %d deliveries succeeded within %s; receiver output:\n%s", success, n, exampleDeadline, receiver.out)
		}
		select {
		case <-receiver.exited:
			t.Fatalf("receiver exited; output:\n%s", receiver.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// deliveryHeaders are every header webhookd sends, as documented.
var deliveryHeaders = []string{"Content-Type", "User-Agent", "X-Webhook-Event", "X-Webhook-Id", "X-Webhook-Signature",
	"webhook-id", "webhook-timestamp", "webhook-signature"}

// exampleEvents are published to each receiver: payloads with spaces to
// compact, non-ASCII text, HTML characters, escapes and number forms that
// re-serialising would change, so only raw-body verification passes.
var exampleEvents = []struct{ event, data string }{
	{"message.new", `{"messageId":"msg_123","conversationId":"conv_456","contactId":"contact_789","direction":"inbound","type":"text","content":"Hello!","timestamp":"2024-01-01T12:00:00.000Z"}`},
	{"conversation.created", `{ "name": "Zoë <b>&</b>", "emoji": "👋", "escaped": "\u00e9\u2028", "numbers": [1, 2.50, 1e3, -0],
	  "nested": {"deep": [{"a": null, "b": true}]} }`},
	{"campaign.started", `"a bare \"string\" as data"`},
}

// expressShim stands in for the express package, which CI does not
// install: just enough of express(), express.raw, app.post, app.listen,
// res.status and res.send to run examples/node/express-app.js unchanged.
const expressShim = `'use strict';
const http = require('node:http');
function express() {
  const routes = [];
  return {
    post(path, ...handlers) { routes.push({ path, handlers }); },
    listen(port, cb) {
      const server = http.createServer((req, res) => {
        res.status = (code) => { res.statusCode = code; return res; };
        res.send = (text) => { res.setHeader('Content-Type', 'text/plain'); res.end(text); return res; };
        const route = routes.find((r) => req.method === 'POST' && req.url.split('?')[0] === r.path);
        if (!route) { res.status(404).send('Not Found'); return; }
        let i = 0;
        const next = () => { const h = route.handlers[i++]; if (h) h(req, res, next); };
        next();
      });
      return server.listen(port, cb);
    },
  };
}
express.raw = ({ type }) => (req, res, next) => {
  req.body = {};
  if ((req.headers['content-type'] || '').split(';')[0].trim() !== type) { next(); return; }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => { req.body = Buffer.concat(chunks); next(); });
};
module.exports = express;
`

// expressApp lays out examples/node/express-app.js and receiver.js with the
// express shim in a temporary directory and returns the app's path.
func expressApp(t testing.TB, root string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"express-app.js", "receiver.js"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "node", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules", "express"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "node_modules", "express", "index.js"), []byte(expressShim), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "express-app.js")
}

// clientReceiver lays out examples/node/client-receiver.mjs with
// @webhookd/client installed, and returns the copy's path.
func clientReceiver(t testing.TB, root string) string {
	t.Helper()
	return withNodeClient(t, root, "client-receiver.mjs")
}

// withNodeClient copies examples/node/name into a temporary folder with
// @webhookd/client installed the way `npm install <repo>/clients/node`
// installs it, a link to the folder, and returns the copy's path.
func withNodeClient(t testing.TB, root, name string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(root, "examples", "node", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules", "@webhookd"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "clients", "node"), filepath.Join(dir, "node_modules", "@webhookd", "client")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// receiverCase is one example receiver.
type receiverCase struct {
	name   string
	argv   func(t testing.TB) []string
	secret string // "" lets webhookd generate one
}

// TestReceivers sends real signed deliveries from the built webhookd to each
// example receiver, then a replay, a tampered body and a stale timestamp.
// Each receiver must verify every real delivery, answer the replay as a
// duplicate, reject the other two with 401, and exit 0 with a summary that
// says so.
func TestReceivers(t *testing.T) {
	wd := startWebhookd(t)
	root := moduleRoot(t)
	cases := []receiverCase{
		{"node", func(t testing.TB) []string {
			need(t, "node")
			return []string{"node", filepath.Join(root, "examples", "node", "receiver.js")}
		}, "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))},
		{"python", func(t testing.TB) []string {
			need(t, "python3")
			return []string{"python3", filepath.Join(root, "examples", "python", "receiver.py")}
		}, "plain-secret-for-python"},
		{"go", func(t testing.TB) []string {
			return []string{receiverGo(t)}
		}, ""},
		{"express", func(t testing.TB) []string {
			need(t, "node")
			return []string{"node", expressApp(t, root)}
		}, "whsec_" + base64.StdEncoding.EncodeToString([]byte("express-secret-0123456789"))},
		{"node-client", func(t testing.TB) []string {
			need(t, "node")
			return []string{"node", clientReceiver(t, root)}
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runReceiver(t, wd, c) })
	}
}

func runReceiver(t *testing.T, wd *served, c receiverCase) {
	argv := c.argv(t)
	// The Express variant is the document's snippet, which keeps no counts.
	summarises := c.name != "express"

	// The webhook is created paused, to learn its secret before the
	// receiver starts, then pointed at the receiver and resumed.
	create := map[string]any{"name": "examples " + c.name, "url": "http://127.0.0.1:9/webhook", "events": []string{"*"}, "isActive": false}
	if c.secret != "" {
		create["secret"] = c.secret
	}
	var hook wiretest.Webhook
	wd.decode(t, wd.do(t, "POST", "/api/v1/webhooks", create, 201), &hook)
	t.Cleanup(func() {
		// Later cases must not get this receiver's deliveries.
		wd.do(t, "DELETE", "/api/v1/webhooks/"+hook.ID, nil, 204)
	})

	// The receiver holds the secret the webhook is rotated to at the end
	// beside the current one, as WEBHOOKS-DOCUMENTATION.md says to do before
	// rotating to a secret of your choosing: new first, then old.
	next := nextSecret(c)
	rc := start(t, []string{"WEBHOOK_SECRET=" + next + " " + hook.Secret, "PORT=0", "EXPECT_REJECTED=2"}, argv...)
	line := rc.out.waitFor(t, "listening line", rc.exited, func(l string) bool { return strings.HasPrefix(l, "listening on :") })
	port := strings.TrimPrefix(line, "listening on :")
	url := "http://127.0.0.1:" + port + "/webhook"
	wd.do(t, "PATCH", "/api/v1/webhooks/"+hook.ID, map[string]any{"url": url, "isActive": true}, 200)

	for _, e := range exampleEvents {
		var acc wiretest.Accepted
		wd.decode(t, wd.do(t, "POST", "/api/v1/events", `{"event":"`+e.event+`","data":`+e.data+`}`, 202), &acc)
		if acc.Deliveries != 1 {
			t.Fatalf("publish %s: deliveries = %d, want 1", e.event, acc.Deliveries)
		}
	}
	var test wiretest.TestResult
	wd.decode(t, wd.do(t, "POST", "/api/v1/webhooks/"+hook.ID+"/test",
		`{"eventType":"message.new","payload":{"messageId":"test_123","content":"Hello World"}}`, 200), &test)
	if !test.Success {
		t.Fatalf("test send failed: %v; receiver output:\n%s", deref(test.Error), rc.out)
	}
	logs := wd.waitDelivered(t, hook.ID, len(exampleEvents)+1, rc)

	// Capture one real delivery in full: the conversation.created one,
	// whose payload re-serialising would change.
	var captured logEntry
	for _, l := range logs {
		if l.EventType == "conversation.created" {
			wd.decode(t, wd.do(t, "GET", "/api/v1/webhooks/"+hook.ID+"/logs/"+l.ID, nil, 200), &captured)
		}
	}
	for _, h := range deliveryHeaders {
		if captured.RequestHeaders[h] == "" {
			t.Errorf("delivery header %s missing; sent %v", h, captured.RequestHeaders)
		}
	}
	if id := captured.RequestHeaders["webhook-id"]; id != captured.DeliveryID || captured.RequestHeaders["X-Webhook-Id"] != id {
		t.Errorf("webhook-id %q, X-Webhook-Id %q, want both the deliveryId %q", id, captured.RequestHeaders["X-Webhook-Id"], captured.DeliveryID)
	}
	body := []byte(requestBody(captured))
	if !bytes.Contains(body, []byte(`"numbers":[1,2.50,1e3,-0]`)) || !bytes.Contains(body, []byte(`"escaped":"\u00e9\u2028"`)) {
		t.Errorf("delivered body %s: want the data compacted byte for byte", body)
	}

	verifyShell(t, hook.Secret, captured)

	send := func(what string, headers map[string]string, body []byte, want int) {
		t.Helper()
		req, err := http.NewRequest("POST", url, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for k, v := range headers {
			req.Header[k] = []string{v}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: receiver answered %d %s, want %d", what, resp.StatusCode, answer, want)
		}
	}
	send("replay of a real delivery", captured.RequestHeaders, body, 200)
	send("tampered body", captured.RequestHeaders, bytes.Replace(body, []byte("Zo"), []byte("Jo"), 1), 401)
	stale := time.Now().Add(-10 * time.Minute)
	id := "msg_stale_" + strconv.FormatInt(stale.UnixNano(), 10)
	send("stale timestamp", map[string]string{
		"Content-Type":        "application/json",
		"X-Webhook-Signature": delivery.SignatureHeader(hook.Secret, body),
		"webhook-id":          id,
		"webhook-timestamp":   strconv.FormatInt(stale.Unix(), 10),
		"webhook-signature":   delivery.StandardSignature(hook.Secret, id, stale.Unix(), body),
	}, body, 401)

	if c.name == "python" {
		seedPythonFails(t, hook.Secret, captured)
	}

	rotateAndDeliver(t, wd, hook.ID, hook.Secret, next, rc, len(exampleEvents)+2)

	code := rc.stop(t)
	if !summarises {
		return
	}
	summary := fmt.Sprintf("summary verified=%d rejected=2 duplicates=1", len(exampleEvents)+2)
	if !strings.Contains(rc.out.String(), summary) || code != 0 {
		t.Errorf("receiver exit code %d, output:\n%s\nwant exit 0 and %q", code, rc.out, summary)
	}
}

// nextSecret is the secret a receiver case's webhook is rotated to: a
// whsec_ secret, or a plain one for the case whose first secret is plain.
func nextSecret(c receiverCase) string {
	if c.secret != "" && !strings.HasPrefix(c.secret, "whsec_") {
		return "rotated-" + c.secret
	}
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("rotated secret for %-12s", c.name)))
}

// rotateAndDeliver rotates a webhook to next, which its receiver already
// holds beside old, publishes one event and checks the delivery made during
// the grace period: webhook-signature carries the new and the old secret's
// signatures, X-Webhook-Signature the new one's, the receiver verifies it
// (total attempts in all, every one a success), and verify.sh accepts it
// with the old secret alone only by webhook-signature.
func rotateAndDeliver(t *testing.T, wd *served, hookID, old, next string, rc *process, total int) {
	t.Helper()
	var rotated struct {
		Secret                  string
		PreviousSecretExpiresAt *string
	}
	wd.decode(t, wd.do(t, "POST", "/api/v1/webhooks/"+hookID+"/rotate-secret", map[string]string{"secret": next}, 200), &rotated)
	if rotated.Secret != next || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotate-secret: secret %q, previousSecretExpiresAt %v; want %q and a time", rotated.Secret, deref(rotated.PreviousSecretExpiresAt), next)
	}
	wd.do(t, "POST", "/api/v1/events", `{"event":"campaign.completed","data":{"rotated":true}}`, 202)
	var l logEntry
	for _, e := range wd.waitDelivered(t, hookID, total, rc) {
		if e.EventType == "campaign.completed" {
			wd.decode(t, wd.do(t, "GET", "/api/v1/webhooks/"+hookID+"/logs/"+e.ID, nil, 200), &l)
		}
	}
	h, body := l.RequestHeaders, []byte(requestBody(l))
	ts, err := strconv.ParseInt(h["webhook-timestamp"], 10, 64)
	if err != nil {
		t.Fatalf("webhook-timestamp %q: %v", h["webhook-timestamp"], err)
	}
	want := []string{delivery.StandardSignature(next, h["webhook-id"], ts, body), delivery.StandardSignature(old, h["webhook-id"], ts, body)}
	if got := strings.Fields(h["webhook-signature"]); !slices.Equal(got, want) {
		t.Errorf("webhook-signature during the grace period = %q, want the new secret's then the old one's %q", got, want)
	}
	if got, want := h["X-Webhook-Signature"], delivery.SignatureHeader(next, body); got != want {
		t.Errorf("X-Webhook-Signature during the grace period = %q, want the new secret's %q", got, want)
	}

	if _, err := exec.LookPath("bash"); err != nil {
		return
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		return
	}
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	standard := []string{file, h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"]}
	for _, c := range []struct {
		name, secrets string
		args          []string
		want          int
	}{
		{"webhook-signature, old secret only", old, standard, 0},
		{"X-Webhook-Signature, old secret only", old, []string{file, h["X-Webhook-Signature"]}, 1},
		{"X-Webhook-Signature, new and old", next + " " + old, []string{file, h["X-Webhook-Signature"]}, 0},
		{"webhook-signature, new and old", next + " " + old, standard, 0},
	} {
		if got := runVerifySh(t, c.secrets, c.args...); got != c.want {
			t.Errorf("verify.sh (%s) exit %d, want %d", c.name, got, c.want)
		}
	}
}

// runVerifySh runs examples/shell/verify.sh with WEBHOOK_SECRET set to
// secrets and returns its exit code.
func runVerifySh(t testing.TB, secrets string, args ...string) int {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(moduleRoot(t), "examples", "shell", "verify.sh")}, args...)...)
	cmd.Env = append(cleanEnv(), "WEBHOOK_SECRET="+secrets)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		t.Fatalf("verify.sh did not run: %s", out)
	}
	t.Logf("verify.sh: %s", strings.TrimSpace(string(out)))
	return cmd.ProcessState.ExitCode()
}

// verifyShell checks examples/shell/verify.sh on a captured delivery: both
// schemes verify, a tampered body fails both, and a second use of one
// webhook-id is a duplicate.
func verifyShell(t *testing.T, secret string, l logEntry) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Log("bash not installed; skipping verify.sh")
		return
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Log("openssl not installed; skipping verify.sh")
		return
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "body.json"), filepath.Join(dir, "tampered.json")
	if err := os.WriteFile(good, []byte(requestBody(l)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(requestBody(l)+" "), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(moduleRoot(t), "examples", "shell", "verify.sh")
	h := l.RequestHeaders
	seen := filepath.Join(dir, "seen-ids")
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want int
	}{
		{"X-Webhook-Signature", []string{good, h["X-Webhook-Signature"]}, nil, 0},
		{"webhook-signature", []string{good, h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"]}, nil, 0},
		{"X-Webhook-Signature, tampered", []string{bad, h["X-Webhook-Signature"]}, nil, 1},
		{"webhook-signature, tampered", []string{bad, h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"]}, nil, 1},
		{"webhook-signature, first sight", []string{good, h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"]}, []string{"SEEN_IDS_FILE=" + seen}, 0},
		{"webhook-signature, seen before", []string{good, h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"]}, []string{"SEEN_IDS_FILE=" + seen}, 3},
	} {
		cmd := exec.Command("bash", append([]string{script}, c.args...)...)
		cmd.Env = append(cleanEnv(), append(c.env, "WEBHOOK_SECRET="+secret)...)
		out, _ := cmd.CombinedOutput()
		if got := cmd.ProcessState.ExitCode(); got != c.want {
			t.Errorf("verify.sh (%s) exit %d, want %d; output: %s", c.name, got, c.want, out)
		}
	}
}

// seedPythonFails shows what WEBHOOKS-INTEGRATION-EXAMPLE.md says: the
// seed's Python snippet hashes json.dumps of the parsed body, which adds
// spaces, so it rejects a real delivery that hashing the raw body accepts.
func seedPythonFails(t *testing.T, secret string, l logEntry) {
	t.Helper()
	const prog = `
import hashlib, hmac, json, sys
secret, body, signature = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
seed = 'sha256=' + hmac.new(secret.encode(), json.dumps(json.loads(body)).encode(), hashlib.sha256).hexdigest()
raw = 'sha256=' + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
print(hmac.compare_digest(seed, signature), hmac.compare_digest(raw, signature))
`
	out, err := exec.Command("python3", "-c", prog, secret, requestBody(l), l.RequestHeaders["X-Webhook-Signature"]).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "False True" {
		t.Errorf("seed snippet verified, raw body verified = %s, want False True", got)
	}
}

// TestAPIScript runs test-webhooks-api.sh against the built binary with a
// receiver that answers 200, so every step, the test send and the delivery
// of the published event must succeed; then with a wrong password, which
// must stop it at login with a non-zero exit.
func TestAPIScript(t *testing.T) {
	need(t, "bash", "curl")
	wd := startWebhookd(t)
	var mu sync.Mutex
	var received []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.Header.Get("X-Webhook-Event"))
		mu.Unlock()
		fmt.Fprintln(w, "OK")
	}))
	t.Cleanup(recv.Close)
	script := filepath.Join(moduleRoot(t), "test-webhooks-api.sh")
	env := []string{"BASE_URL=" + wd.base, "EMAIL=" + exampleEmail, "WEBHOOK_URL=" + recv.URL + "/webhook", "EXPECT_DELIVERY=1"}

	ctx, cancel := context.WithTimeout(context.Background(), 2*exampleDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(cleanEnv(), append(env, "PASSWORD="+examplePassword)...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "all steps passed") {
		t.Fatalf("test-webhooks-api.sh: %v\n%s\nwebhookd log:\n%s", err, out, wd.proc.output())
	}
	steps := regexp.MustCompile(`(?m)^ok +(\S+)`).FindAllStringSubmatch(string(out), -1)
	var names []string
	for _, s := range steps {
		names = append(names, s[1])
	}
	want := []string{"ready", "login", "create", "list", "get", "update", "rotate", "test", "publish", "logs", "redeliver", "stats", "delete"}
	if !slices.Equal(names, want) {
		t.Errorf("steps = %v, want %v\n%s", names, want, out)
	}
	mu.Lock()
	if len(received) < 2 {
		t.Errorf("receiver got %v, want the test send and the published event", received)
	}
	mu.Unlock()

	cmd = exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(cleanEnv(), append(env, "PASSWORD=wrong-password-123")...)
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "FAIL login") || strings.Contains(string(out), "ok   create") {
		t.Errorf("with a wrong password: err %v, output:\n%s\nwant a non-zero exit at login", err, out)
	}
}
