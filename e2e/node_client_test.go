package e2e

// The Node client (clients/node) against the built binary: node --test
// runs clients/node/test/ with the credentials made here. The tests run
// against dist/, the compiled output committed beside the sources, which
// TestNodeClientDistIsBuilt keeps equal to what tsc makes of src/.

import (
	"bytes"
	"context"
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
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store/storetest"
)

// nodeClientDeadline bounds one run of the Node client's tests; they take
// seconds, but the machine may be loaded.
const nodeClientDeadline = 5 * time.Minute

// needNode returns the node binary, skipping t without it, or failing t
// when $CI is set: .ci/run installs node, so CI must run these tests.
func needNode(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("node is not installed; .ci/run installs it (apt-get install nodejs)")
	}
	t.Skip("node is not installed; skipping the Node client's tests")
	return ""
}

// TestNodeClient runs the Node client's tests (node --test) against the
// real webhookd, on SQLite and on PostgreSQL: publishing with retries
// through a flaky proxy, batches, webhook management, errors, and
// verifySignature on real deliveries.
func TestNodeClient(t *testing.T) {
	node := needNode(t)
	binary(t) // -short skips here, before anything starts
	t.Run("sqlite", func(t *testing.T) { runNodeClient(t, node, filepath.Join(t.TempDir(), "webhookd.db")) })
	t.Run("postgres", func(t *testing.T) { runNodeClient(t, node, storetest.PostgresURL(t)) })
}

// apiKeyPattern finds the key in apikey create's output.
var apiKeyPattern = regexp.MustCompile(`whk_\S+`)

func runNodeClient(t *testing.T, node, db string) {
	wd := startWebhookdOn(t, db)
	key := func(args ...string) string {
		t.Helper()
		out := mustWebhookd(t, nil, "", append([]string{"apikey", "create", "--db", db}, args...)...).stdout
		k := apiKeyPattern.FindString(out)
		if k == "" {
			t.Fatalf("apikey create %v printed no key: %q", args, out)
		}
		return k
	}
	apiKey := key("--email", exampleEmail, "--name", "node-client")
	serviceKey := key("--service", "--name", "node-client-service")
	var me struct{ Tenant string }
	wd.decode(t, wd.do(t, "GET", "/api/v1/auth/me", nil, 200), &me)
	if me.Tenant == "" {
		t.Fatal("auth/me names no tenant")
	}

	ctx, cancel := context.WithTimeout(context.Background(), nodeClientDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "test/")
	cmd.Dir = filepath.Join(moduleRoot(t), "clients", "node")
	cmd.Env = append(cleanEnv(),
		"WEBHOOKD_URL="+wd.base,
		"WEBHOOKD_API_KEY="+apiKey,
		"WEBHOOKD_SERVICE_KEY="+serviceKey,
		"WEBHOOKD_TENANT="+me.Tenant,
		"WEBHOOKD_TOKEN="+wd.api.Token,
		"NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node --test did not finish within %v:\n%s", nodeClientDeadline, out.String())
	}
	if err != nil {
		t.Fatalf("node --test clients/node/test/: %v\n%s", err, out.String())
	}
	// Every test ran: none skipped for want of the environment.
	if s := regexp.MustCompile(`(?m)^ℹ skipped (\d+)$`).FindStringSubmatch(out.String()); s == nil || s[1] != "0" {
		t.Fatalf("node --test skipped tests (or printed no summary):\n%s", out.String())
	}
	t.Logf("node --test:\n%s", out.String())
}

// TestNodeClientHasNoDependencies checks the promise clients/node/README.md
// makes: the package installs nothing beside itself, and is the ES module
// its exports name.
func TestNodeClientHasNoDependencies(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "clients", "node", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg map[string]json.RawMessage
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("clients/node/package.json: %v", err)
	}
	for _, field := range []string{"dependencies", "peerDependencies", "optionalDependencies", "bundleDependencies"} {
		if v, ok := pkg[field]; ok && string(v) != "{}" {
			t.Errorf("clients/node/package.json has %s %s: the client must have no runtime dependencies", field, v)
		}
	}
	if string(pkg["name"]) != `"@webhookd/client"` || string(pkg["type"]) != `"module"` {
		t.Errorf("clients/node/package.json: name %s, type %s; want \"@webhookd/client\", \"module\"", pkg["name"], pkg["type"])
	}
	for _, f := range []string{"dist/index.js", "dist/index.d.ts"} {
		if _, err := os.Stat(filepath.Join(moduleRoot(t), "clients", "node", f)); err != nil {
			t.Errorf("clients/node/%s, which package.json exports, is missing: %v", f, err)
		}
	}
}

func (s clientStep) stepName() string { return s.Step }

// clientStep is one line client-publisher.mjs prints.
type clientStep struct {
	Step           string
	ID             string
	Event          string
	Deliveries     int
	Replayed       any // a bool for publish, a list for batch
	IDs            []string
	IdempotencyKey string
}

// TestNodeClientPublisherExample runs examples/node/client-publisher.mjs,
// which clients/node/README.md quotes, twice against webhookd with a
// tenant's API key: the first run creates the webhook and publishes three
// messages, which the receiver gets signed with the webhook's secret; the
// second finds the webhook, and its idempotency keys answer the first
// events again (replayed) instead of publishing new ones.
func TestNodeClientPublisherExample(t *testing.T) {
	node := needNode(t)
	binary(t)
	t.Run("sqlite", func(t *testing.T) { runClientPublisher(t, node, filepath.Join(t.TempDir(), "webhookd.db")) })
	t.Run("postgres", func(t *testing.T) { runClientPublisher(t, node, storetest.PostgresURL(t)) })
}

func runClientPublisher(t *testing.T, node, db string) {
	wd := startWebhookdOn(t, db)
	out := mustWebhookd(t, nil, "", "apikey", "create", "--email", exampleEmail, "--name", "crm", "--db", db).stdout
	apiKey := apiKeyPattern.FindString(out)
	if apiKey == "" {
		t.Fatalf("apikey create printed no key: %q", out)
	}
	var mu sync.Mutex
	var got []crmDelivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, crmDelivery{body: body, signature: r.Header.Get("X-Webhook-Signature")})
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	script := withNodeClient(t, moduleRoot(t), "client-publisher.mjs")

	run := func() map[string]clientStep {
		t.Helper()
		return runNodeSteps[clientStep](t, node, script,
			[]string{"WEBHOOKD_URL=" + wd.base, "WEBHOOKD_API_KEY=" + apiKey, "RECEIVER_URL=" + recv.URL + "/hooks", "MESSAGE_ID=msg_e2e"},
			"webhook", "publish", "batch", "event")
	}

	first := run()
	if s := first["publish"]; s.ID == "" || s.Deliveries != 1 || s.Replayed != false {
		t.Errorf("first publish %+v, want a new event to 1 webhook", s)
	}
	if s := first["batch"]; len(s.IDs) != 2 || !slices.Equal(s.Replayed.([]any), []any{false, false}) {
		t.Errorf("first batch %+v, want 2 new events", s)
	}
	if s := first["event"]; s.ID != first["publish"].ID || s.Event != "message.new" || s.IdempotencyKey != "message-msg_e2e" {
		t.Errorf("event step %+v, want the published event with key message-msg_e2e", s)
	}

	second := run()
	if second["webhook"].ID != first["webhook"].ID {
		t.Errorf("second run's webhook %q, want the first's %q", second["webhook"].ID, first["webhook"].ID)
	}
	if s := second["publish"]; s.ID != first["publish"].ID || s.Replayed != true {
		t.Errorf("second publish %+v, want %s replayed", s, first["publish"].ID)
	}
	if s := second["batch"]; !slices.Equal(s.IDs, first["batch"].IDs) || !slices.Equal(s.Replayed.([]any), []any{true, true}) {
		t.Errorf("second batch %+v, want %v replayed", s, first["batch"].IDs)
	}

	var hook struct{ Secret string }
	wd.decode(t, wd.do(t, "GET", "/api/v1/webhooks/"+first["webhook"].ID, nil, 200), &hook)
	waitFor(t, exampleDeadline, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3, fmt.Sprintf("3 deliveries (got %d)", len(got))
	})
	mu.Lock()
	defer mu.Unlock()
	for _, d := range got {
		if want := delivery.SignatureHeader(hook.Secret, d.body); d.signature != want {
			t.Errorf("delivery %s: X-Webhook-Signature %q, want %q", d.body, d.signature, want)
		}
	}
}

// TestNodeClientReadmeQuotesExamples checks that clients/node/README.md
// quotes the runnable publisher in full, so its usage cannot drift from
// the file CI runs.
func TestNodeClientReadmeQuotesExamples(t *testing.T) {
	root := moduleRoot(t)
	var quoted []string
	for _, f := range fences(t, filepath.Join(root, "clients", "node", "README.md")) {
		quoted = append(quoted, f.text)
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", "node", "client-publisher.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(quoted, string(b)) {
		t.Error("clients/node/README.md does not quote examples/node/client-publisher.mjs in full (copy the file into a code block)")
	}
}

// catalogList is the body of catalogEventTypes in the client's sources.
var catalogList = regexp.MustCompile(`(?s)catalogEventTypes = \[(.*?)\]`)

// TestNodeClientEventTypes checks that the client's typed event names are
// the built-in catalogue's, in src/ and in the compiled dist/.
func TestNodeClientEventTypes(t *testing.T) {
	c, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	want := c.Types()
	root := moduleRoot(t)
	for _, f := range []string{"src/events.ts", "dist/events.js"} {
		b, err := os.ReadFile(filepath.Join(root, "clients", "node", f))
		if err != nil {
			t.Fatal(err)
		}
		m := catalogList.FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no catalogEventTypes list", f)
		}
		var got []string
		for _, q := range regexp.MustCompile(`'([^']*)'`).FindAllSubmatch(m[1], -1) {
			got = append(got, string(q[1]))
		}
		if !slices.Equal(got, want) {
			t.Errorf("clients/node/%s catalogEventTypes = %q, want the catalogue's %q", f, got, want)
		}
	}
}

// TestNodeClientDistIsBuilt compiles clients/node/src with the pinned
// TypeScript into a temporary folder and compares it with the committed
// dist/, so a change to src/ without `npm run build` fails. It needs
// clients/node/node_modules (`npm ci` there; .ci/run does it): without
// it the test skips, or fails when $CI is set. tsc takes a few seconds, so
// -short skips it.
func TestNodeClientDistIsBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the TypeScript compile")
	}
	node := needNode(t)
	dir := filepath.Join(moduleRoot(t), "clients", "node")
	tsc := filepath.Join(dir, "node_modules", "typescript", "bin", "tsc")
	if _, err := os.Stat(tsc); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v; .ci/run runs npm ci in clients/node", tsc, err)
		}
		t.Skip("clients/node/node_modules is missing: run npm ci in clients/node to check dist/")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, tsc, "-p", "tsconfig.json", "--outDir", out)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, b)
	}
	built := listFiles(t, out)
	committed := listFiles(t, filepath.Join(dir, "dist"))
	if !slices.Equal(built, committed) {
		t.Fatalf("clients/node/dist holds %q, tsc makes %q: run npm run build in clients/node", committed, built)
	}
	for _, name := range built {
		a, _ := os.ReadFile(filepath.Join(out, name))
		b, _ := os.ReadFile(filepath.Join(dir, "dist", name))
		if !bytes.Equal(a, b) {
			t.Errorf("clients/node/dist/%s differs from what tsc makes of src/: run npm run build in clients/node", name)
		}
	}
}

// listFiles is the sorted relative paths of the files under dir.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		names = append(names, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}
