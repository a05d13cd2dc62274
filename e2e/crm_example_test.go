package e2e

// examples/node/crm-publisher.js, a CRM's backend publishing for a tenant
// with a service key, against the real binary on SQLite and PostgreSQL.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store/storetest"
)

// runNodeSteps runs a Node example (with the node binary named) that prints one JSON object a line,
// each naming its "step", and answers them by step; the steps must come in
// the order want gives.
func runNodeSteps[T interface{ stepName() string }](t *testing.T, node, script string, env []string, want ...string) map[string]T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exampleDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(cleanEnv(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	name := filepath.Base(script)
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", name, err, out, stderr.String())
	}
	steps := map[string]T{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var s T
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("%s printed %q: %v", name, line, err)
		}
		steps[s.stepName()] = s
		order = append(order, s.stepName())
	}
	if !slices.Equal(order, want) {
		t.Fatalf("%s: steps %v, want %v:\n%s", name, order, want, out)
	}
	return steps
}

func (s crmStep) stepName() string { return s.Step }

// crmStep is one line the example prints.
type crmStep struct {
	Step       string   `json:"step"`
	ID         string   `json:"id"`
	Created    bool     `json:"created"`
	Tenant     string   `json:"tenant"`
	Event      string   `json:"event"`
	Deliveries any      `json:"deliveries"`
	IDs        []string `json:"ids"`
	URL        string   `json:"url"`
	ExpiresAt  string   `json:"expiresAt"`
	ReadOnly   bool     `json:"readOnly"`
}

// TestCRMPublisherExample runs the example twice against a webhookd with a
// service key made by the CLI: the first run creates the tenant and its
// webhook and publishes three messages, which the receiver gets signed
// with the webhook's secret; the portal URL's token acts for that tenant
// alone. The second run changes nothing: the tenant and webhook exist, and
// the idempotency keys answer the first events again.
func TestCRMPublisherExample(t *testing.T) {
	need(t, "node")
	t.Run("sqlite", func(t *testing.T) { runCRMPublisher(t, filepath.Join(t.TempDir(), "webhookd.db")) })
	t.Run("postgres", func(t *testing.T) { runCRMPublisher(t, storetest.PostgresURL(t)) })
}

type crmDelivery struct {
	body      []byte
	signature string
}

func runCRMPublisher(t *testing.T, db string) {
	wd := startWebhookdOn(t, db)
	key := strings.TrimSpace(mustWebhookd(t, nil, "", "apikey", "create", "--service", "--name", "crm-backend", "--db", db).stdout)

	var mu sync.Mutex
	var got []crmDelivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, crmDelivery{body: body, signature: r.Header.Get("X-Webhook-Signature")})
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	receiverURL := recv.URL + "/hooks"

	run := func() map[string]crmStep {
		t.Helper()
		return runNodeSteps[crmStep](t, "node", filepath.Join(moduleRoot(t), "examples", "node", "crm-publisher.js"),
			[]string{"WEBHOOKD_URL=" + wd.base, "WEBHOOKD_SERVICE_KEY=" + key, "TENANT=acme", "RECEIVER_URL=" + receiverURL, "MESSAGE_ID=msg_e2e"},
			"tenant", "webhook", "publish", "batch", "portal")
	}

	first := run()
	if s := first["tenant"]; s.ID != "acme" || !s.Created {
		t.Errorf("tenant step %+v, want acme created", s)
	}
	if s := first["webhook"]; s.Tenant != "acme" || s.ID == "" {
		t.Errorf("webhook step %+v, want a webhook of acme", s)
	}
	if s := first["publish"]; s.Event != "message.new" || s.Deliveries != float64(1) {
		t.Errorf("publish step %+v, want message.new to 1 webhook", s)
	}
	if s := first["batch"]; len(s.IDs) != 2 || !slices.Equal(s.Deliveries.([]any), []any{float64(1), float64(1)}) {
		t.Errorf("batch step %+v, want 2 events to 1 webhook each", s)
	}
	portal := first["portal"]
	token, ok := strings.CutPrefix(portal.URL, wd.base+"/#portal=")
	if !ok || token == "" || portal.ReadOnly {
		t.Fatalf("portal step %+v, want %s/#portal=<token>, not read-only", portal, wd.base)
	}

	// The receiver gets the three messages, signed with the webhook's
	// secret, which the service key reads for acme.
	var hook struct {
		Secret string `json:"secret"`
		Tenant string `json:"tenant"`
	}
	apiGet(t, wd.base+"/api/v1/webhooks/"+first["webhook"].ID, key, "acme", &hook)
	if hook.Tenant != "acme" || hook.Secret == "" {
		t.Fatalf("GET the webhook as acme: %+v", hook)
	}
	waitFor(t, exampleDeadline, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3, "3 deliveries at the receiver"
	})
	mu.Lock()
	var messages []string
	for _, d := range got {
		if want := delivery.SignatureHeader(hook.Secret, d.body); d.signature != want {
			t.Errorf("delivery %s signed %q, want %q", d.body, d.signature, want)
		}
		var env struct {
			Event string `json:"event"`
			Data  struct {
				MessageID string `json:"messageId"`
			} `json:"data"`
		}
		if err := json.Unmarshal(d.body, &env); err != nil || env.Event != "message.new" {
			t.Errorf("delivery %s: %v, want a message.new envelope", d.body, err)
		}
		messages = append(messages, env.Data.MessageID)
	}
	mu.Unlock()
	slices.Sort(messages)
	if want := []string{"msg_e2e", "msg_e2e-2", "msg_e2e-3"}; !slices.Equal(messages, want) {
		t.Errorf("receiver got messages %v, want %v", messages, want)
	}

	// The portal token is acme's, and sees acme's webhook.
	var me struct {
		ID, Tenant string
	}
	apiGet(t, wd.base+"/api/v1/auth/me", token, "", &me)
	if me.ID != "portal" || me.Tenant != "acme" {
		t.Errorf("/auth/me with the portal token: %+v, want portal of acme", me)
	}
	var hooks struct {
		Data []struct{ ID string }
	}
	apiGet(t, wd.base+"/api/v1/webhooks", token, "", &hooks)
	if len(hooks.Data) != 1 || hooks.Data[0].ID != first["webhook"].ID {
		t.Errorf("the portal's webhooks: %+v, want acme's one", hooks.Data)
	}

	// Run again: nothing new.
	second := run()
	if second["tenant"].Created {
		t.Error("second run: the tenant was created again")
	}
	if second["webhook"].ID != first["webhook"].ID {
		t.Errorf("second run: webhook %s, want the first run's %s", second["webhook"].ID, first["webhook"].ID)
	}
	if second["publish"].ID != first["publish"].ID || !slices.Equal(second["batch"].IDs, first["batch"].IDs) {
		t.Errorf("second run published %s %v, want the first run's %s %v (same idempotency keys)",
			second["publish"].ID, second["batch"].IDs, first["publish"].ID, first["batch"].IDs)
	}
}

// apiGet GETs url with the bearer credential (and Webhookd-Tenant when
// tenant is set) and decodes the 200 answer into v.
func apiGet(t testing.TB, url, credential, tenant string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+credential)
	if tenant != "" {
		req.Header.Set("Webhookd-Tenant", tenant)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}
