package e2e

// End-to-end tests: the real binary (built by TestMain), real databases
// (storetest.EachTarget: an SQLite file and a fresh PostgreSQL schema), real
// HTTP receivers, and the process itself killed, stopped and restarted.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// The seed guide's request bodies, as the guide writes them.
const (
	seedLoginBody = `{
    "email": %q,
    "password": %q
  }`
	seedCreateBody = `{
    "name": "My First Webhook",
    "url": %q,
    "events": ["message.new", "conversation.created"]
  }`
	seedTestBody = `{
    "eventType": "message.new",
    "payload": {
      "messageId": "test_123",
      "content": "Hello World"
    }
  }`
)

// apiTime is the wire format of times: UTC with milliseconds.
var apiTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestE2ESeedQuickStart(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		p := startServe(t, db, adminEnv)
		t.Run("the first admin", func(t *testing.T) { seedQuickStart(t, p.URL, adminEmail, adminPassword) })
		// Issue 15: a user made by 'webhookd user create' (no --tenant)
		// has a tenant of its own and the guide's flow is unchanged.
		const email, password = "quickstart@example.com", "a quick start password"
		mustWebhookd(t, nil, "", "user", "create", "--email", email, "--password", password, "--db", db)
		t.Run("a user made by user create", func(t *testing.T) { seedQuickStart(t, p.URL, email, password) })
	})
}

// seedQuickStart runs the seed guide's quick start as email: login, a
// webhook, a test send, its log and the stats.
func seedQuickStart(t *testing.T, base, email, password string) {
	t.Helper()
	rc := newReceiver(t)

	// 1. Login.
	var l loginWire
	api{t: t, base: base}.json(http.MethodPost, "/api/v1/auth/login", fmt.Sprintf(seedLoginBody, email, password), http.StatusOK, &l)
	if l.AccessToken == "" || l.TokenType != "Bearer" || l.ExpiresIn != 86400 || l.User.Email != email || l.User.ID == "" {
		t.Fatalf("login answer %+v, want an accessToken, tokenType Bearer, expiresIn 86400 and user %s", l, email)
	}
	if l.User.Tenant != l.User.ID {
		t.Errorf("login's user has tenant %q, want a tenant of its own named by its id %q", l.User.Tenant, l.User.ID)
	}
	a := api{t: t, base: base, token: l.AccessToken}

	// 2. Create a webhook: the seed's body, pointed at the receiver.
	var hook webhookWire
	a.json(http.MethodPost, "/api/v1/webhooks", fmt.Sprintf(seedCreateBody, rc.URL+"/webhook"), http.StatusCreated, &hook)
	if hook.ID == "" || hook.Name != "My First Webhook" || hook.URL != rc.URL+"/webhook" || !hook.IsActive ||
		!slices.Equal(hook.Events, []string{"message.new", "conversation.created"}) {
		t.Errorf("created webhook %+v, want the seed's name, url and events, active", hook)
	}
	if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(hook.Secret, "whsec_")); !strings.HasPrefix(hook.Secret, "whsec_") || err != nil || len(key) != 32 {
		t.Errorf("generated secret %q, want whsec_ and the base64 of 32 bytes", hook.Secret)
	}
	if !apiTime.MatchString(hook.CreatedAt) || !apiTime.MatchString(hook.UpdatedAt) {
		t.Errorf("createdAt %q, updatedAt %q; want UTC times with milliseconds", hook.CreatedAt, hook.UpdatedAt)
	}

	// Troubleshooting 1: the webhook is there and active.
	var got webhookWire
	a.json(http.MethodGet, "/api/v1/webhooks/"+hook.ID, "", http.StatusOK, &got)
	if got.ID != hook.ID || got.Name != hook.Name || got.URL != hook.URL || !got.IsActive || !slices.Equal(got.Events, hook.Events) {
		t.Errorf("GET webhook = %+v, want %+v", got, hook)
	}

	// Test your webhook: one signed delivery, answered with its outcome.
	var test struct {
		Success        bool    `json:"success"`
		StatusCode     *int    `json:"statusCode"`
		ResponseTimeMs *int64  `json:"responseTimeMs"`
		ResponseBody   *string `json:"responseBody"`
		Error          *string `json:"error"`
		LogID          string  `json:"logId"`
	}
	a.json(http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/test", seedTestBody, http.StatusOK, &test)
	if !test.Success || test.StatusCode == nil || *test.StatusCode != 200 || test.ResponseTimeMs == nil ||
		test.ResponseBody == nil || *test.ResponseBody != "ok" || test.Error != nil || test.LogID == "" {
		t.Errorf("test answer %+v, want success, statusCode 200, a responseTimeMs, responseBody \"ok\", no error and a logId", test)
	}
	arrivals := rc.all()
	if len(arrivals) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(arrivals))
	}
	checkSeedDelivery(t, arrivals[0], hook.Secret)

	// Check delivery logs: the test send is there, marked test.
	var logs wiretest.Page[wiretest.Log]
	a.json(http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs", "", http.StatusOK, &logs)
	if len(logs.Data) != 1 {
		t.Fatalf("logs hold %d entries, want 1: %+v", len(logs.Data), logs.Data)
	}
	if e := logs.Data[0]; e.ID != test.LogID || e.WebhookID != hook.ID || e.DeliveryID != arrivals[0].id || e.EventType != "message.new" ||
		e.Attempt != 1 || e.Status != "success" || e.StatusCode == nil || *e.StatusCode != 200 || !e.Test || !apiTime.MatchString(e.CreatedAt) {
		t.Errorf("log entry %+v, want log %s of delivery %s: message.new, attempt 1, success, 200, test", e, test.LogID, arrivals[0].id)
	}

	// Check webhook statistics.
	s := stats(t, a, hook.ID)
	if s.TotalDeliveries != 1 || s.SuccessfulDeliveries != 1 || s.FailedDeliveries != 0 || s.PendingDeliveries != 0 ||
		s.SuccessRate != 100 || s.LastSuccessAt == nil || s.LastFailureAt != nil || s.ConsecutiveFailures != 0 {
		t.Errorf("stats %+v, want the one successful attempt", s)
	}
}

// checkSeedDelivery checks the test send's request: the seed's envelope,
// the seed's signature and the Standard Webhooks one.
func checkSeedDelivery(t testing.TB, a arrival, secret string) {
	t.Helper()
	body := regexp.MustCompile(`^\{"event":"message\.new","timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","data":\{"messageId":"test_123","content":"Hello World"\}\}$`)
	if !body.Match(a.body) {
		t.Errorf("delivered body %s, want the seed's envelope with the payload as given", a.body)
	}
	for name, want := range map[string]string{
		"Content-Type":    "application/json",
		"User-Agent":      "webhookd/" + e2eVersion,
		"X-Webhook-Event": "message.new",
	} {
		if got := a.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(a.body)
	if got, want := a.header.Get("X-Webhook-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("X-Webhook-Signature %q, want %q (HMAC-SHA256 of the body keyed with the secret)", got, want)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("decode secret: %v", err)
	}
	mac = hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", a.header.Get("webhook-id"), a.header.Get("webhook-timestamp"), a.body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if sigs := strings.Fields(a.header.Get("webhook-signature")); !slices.Contains(sigs, want) {
		t.Errorf("webhook-signature %q does not hold %q", sigs, want)
	}
}

func TestE2EFirstStartPrintsAdminPasswordOnce(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		passwordLine := regexp.MustCompile(`password:\s+(\S+)\n`)
		p := startServe(t, db, nil)
		// The copy of the process's stdout into the buffer may trail the
		// HTTP answer by a moment.
		waitFor(t, 10*time.Second, func() (bool, string) {
			return passwordLine.MatchString(p.stdout.String()), "the first start to print a password"
		})
		password := passwordLine.FindStringSubmatch(p.stdout.String())[1]
		login(t, p.URL, "admin@localhost", password)
		p.stop()
		if out := p.stdout.String(); strings.Count(out, "admin@localhost") != 1 || len(passwordLine.FindAllString(out, -1)) != 1 {
			t.Errorf("first start printed:\n%s\nwant admin@localhost and its password once", out)
		}
		checkMentionedCommands(t, p.stdout.String())

		p = startServe(t, db, nil)
		login(t, p.URL, "admin@localhost", password)
		p.stop() // stdout is complete once the process has exited
		if out := p.stdout.String(); strings.Contains(out, "admin@localhost") || strings.Contains(out, "password") {
			t.Errorf("second start printed:\n%s\nwant no first-user password again", out)
		}
		// Issue 19: every start names the console's address, on its own
		// line, with the port serve listens on.
		if out, want := p.stdout.String(), "console: http://"; !strings.Contains(out, want) || !strings.Contains(out, p.URL[strings.LastIndex(p.URL, ":"):]+"/\n") {
			t.Errorf("second start printed:\n%s\nwant a line %q… with the port of %s", out, want, p.URL)
		}
	})
}

// checkMentionedCommands checks that every 'webhookd …' command a message
// tells users to run exists: it answers -h with exit status 0.
func checkMentionedCommands(t testing.TB, text string) {
	t.Helper()
	for _, m := range regexp.MustCompile(`'webhookd ([a-z ]+)'`).FindAllStringSubmatch(text, -1) {
		args := append(strings.Fields(m[1]), "-h")
		if r := webhookd(t, nil, "", args...); r.code != 0 {
			t.Errorf("the message %q tells users to run %q, which does not exist:\n%s", text, m[0], r)
		}
	}
}

func TestE2ETokensSurviveRestart(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		p := startServe(t, db, adminEnv)
		token := login(t, p.URL, adminEmail, adminPassword)
		p.stop()

		p = startServe(t, db, adminEnv)
		var me struct {
			Email string `json:"email"`
		}
		api{t: t, base: p.URL, token: token}.json(http.MethodGet, "/api/v1/auth/me", "", http.StatusOK, &me)
		if me.Email != adminEmail {
			t.Errorf("GET /api/v1/auth/me with the token from before the restart: email %q, want %q", me.Email, adminEmail)
		}
		if code, _ := (api{t: t, base: p.URL, token: token + "x"}).call(http.MethodGet, "/api/v1/auth/me", ""); code != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/auth/me with a tampered token: status %d, want 401", code)
		}
	})
}

// migrationStatus runs `migrate status` and returns each version's state
// ("applied" or "pending") in the order listed.
func migrationStatus(t testing.TB, db string) (versions []int64, state map[int64]string) {
	t.Helper()
	r := mustWebhookd(t, nil, "", "migrate", "status", "--db", db)
	state = map[int64]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("migrate status line %q, want VERSION NAME STATE", line)
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("migrate status line %q: version: %v", line, err)
		}
		versions = append(versions, v)
		state[v] = f[2]
	}
	if len(versions) == 0 {
		t.Fatalf("migrate status listed no migrations:\n%s", r)
	}
	return versions, state
}

// refusedVersions runs `serve --migrate=false`, which must exit non-zero,
// and returns the versions its message names as pending.
func refusedVersions(t testing.TB, db string) []int64 {
	t.Helper()
	r := webhookd(t, adminEnv, "", "serve", "--migrate=false", "--addr", "127.0.0.1:0", "--db", db)
	i := strings.Index(r.stderr, "pending")
	if r.code == 0 || i < 0 {
		t.Fatalf("%s\nwant a non-zero exit naming the pending migrations", r)
	}
	checkMentionedCommands(t, r.stderr)
	line, _, _ := strings.Cut(r.stderr[i:], "\n")
	var out []int64
	for _, m := range regexp.MustCompile(`\d+`).FindAllString(line, -1) {
		v, _ := strconv.ParseInt(m, 10, 64)
		out = append(out, v)
	}
	return out
}

func TestE2EMigrations(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		// serve creates the database (migrate status only reads one) and
		// refuses to start with migrations pending.
		refused := refusedVersions(t, db)
		versions, state := migrationStatus(t, db)
		for _, v := range versions {
			if state[v] != "pending" {
				t.Errorf("fresh database: migration %d is %q, want pending", v, state[v])
			}
		}
		if !slices.Equal(refused, versions) {
			t.Errorf("serve --migrate=false on a fresh database named versions %v, want %v", refused, versions)
		}

		up := mustWebhookd(t, nil, "", "migrate", "up", "--db", db)
		for _, v := range versions {
			if !strings.Contains(up.stdout, fmt.Sprintf("applied %05d", v)) {
				t.Errorf("migrate up printed:\n%s\nwant applied %05d", up.stdout, v)
			}
		}
		if _, state := migrationStatus(t, db); !allState(state, "applied") {
			t.Errorf("after migrate up: %v, want every migration applied", state)
		}

		last := versions[len(versions)-1]
		// Issue 19: without a terminal to ask at, down needs --yes and
		// rolls nothing back without it.
		if r := webhookd(t, nil, "", "migrate", "down", "--db", db); r.code == 0 || !strings.Contains(r.stderr, "--yes") || !strings.Contains(r.stderr, fmt.Sprintf("%05d", last)) {
			t.Errorf("%s\nwant migrate down without --yes to fail naming --yes and migration %05d", r, last)
		}
		if _, state := migrationStatus(t, db); !allState(state, "applied") {
			t.Errorf("after a refused migrate down: %v, want every migration still applied", state)
		}
		down := mustWebhookd(t, nil, "", "migrate", "down", "--yes", "--db", db)
		if want := fmt.Sprintf("rolled back %05d", last); !strings.Contains(down.stdout, want) {
			t.Errorf("migrate down printed %q, want %q", down.stdout, want)
		}
		if _, state := migrationStatus(t, db); state[last] != "pending" || !allState(without(state, last), "applied") {
			t.Errorf("after migrate down: %v, want only %d pending", state, last)
		}
		if got := refusedVersions(t, db); !slices.Equal(got, []int64{last}) {
			t.Errorf("serve --migrate=false after migrate down named versions %v, want [%d]", got, last)
		}
		if up := mustWebhookd(t, nil, "", "migrate", "up", "--db", db); strings.TrimSpace(up.stdout) != fmt.Sprintf("applied %05d", last) {
			t.Errorf("second migrate up printed %q, want only applied %05d", up.stdout, last)
		}

		p := startServe(t, db, adminEnv, "--migrate=false")
		login(t, p.URL, adminEmail, adminPassword)
		p.stop()
		if up := mustWebhookd(t, nil, "", "migrate", "up", "--db", db); !strings.Contains(up.stdout, "no pending migrations") {
			t.Errorf("migrate up on a current database printed %q, want no pending migrations", up.stdout)
		}
		if r := webhookd(t, nil, "", "migrate", "sideways", "--db", db); r.code == 0 {
			t.Errorf("%s\nwant a non-zero exit for an unknown action", r)
		}
	})
}

func allState(state map[int64]string, want string) bool {
	for _, s := range state {
		if s != want {
			return false
		}
	}
	return true
}

func without(state map[int64]string, v int64) map[int64]string {
	out := map[int64]string{}
	for k, s := range state {
		if k != v {
			out[k] = s
		}
	}
	return out
}

func TestE2EUserAndAPIKeyCommands(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		const (
			alice, alicePassword = "alice@example.com", "correct horse battery"
			bob, bobPassword     = "bob@example.com", "bob's password from stdin"
			dave, davePassword   = "dave@example.com", "twelve chars" // exactly the minimum
		)
		dbEnv := "WEBHOOKD_DB=" + db
		// The user commands never create or set up a database.
		mustWebhookd(t, nil, "", "migrate", "up", "--db", db)

		// --email and --password, the database from WEBHOOKD_DB.
		if r := mustWebhookd(t, []string{dbEnv}, "", "user", "create", "--email", alice, "--password", alicePassword); !strings.Contains(r.stdout, "created user "+alice) {
			t.Errorf("user create printed %q, want created user %s", r.stdout, alice)
		}
		// The password on stdin, the database from --db.
		mustWebhookd(t, nil, bobPassword+"\n", "user", "create", "--email", bob, "--db", db)
		mustWebhookd(t, nil, "", "user", "create", "--email", dave, "--password", davePassword, "--db", db)
		for _, r := range []result{
			webhookd(t, nil, "", "user", "create", "--email", "carol@example.com", "--password", "eleven char", "--db", db),
			webhookd(t, nil, "eleven char\n", "user", "create", "--email", "carol@example.com", "--db", db),
		} {
			if r.code == 0 || !strings.Contains(r.stderr, "12") {
				t.Errorf("%s\nwant a non-zero exit saying passwords need 12 characters", r)
			}
		}
		if r := webhookd(t, nil, "", "user", "create", "--email", alice, "--password", alicePassword, "--db", db); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
			t.Errorf("%s\nwant a non-zero exit: the user already exists", r)
		}

		key := strings.TrimSpace(mustWebhookd(t, []string{dbEnv}, "", "apikey", "create", "--email", alice, "--name", "crm").stdout)
		if !strings.HasPrefix(key, "whk_") || strings.ContainsAny(key, " \n") {
			t.Errorf("apikey create printed %q, want one whk_ key", key)
		}
		if r := webhookd(t, nil, "", "apikey", "create", "--email", "nobody@example.com", "--name", "crm", "--db", db); r.code == 0 {
			t.Errorf("%s\nwant a non-zero exit for an unknown user", r)
		}

		// serve takes its address from WEBHOOKD_ADDR and its database from
		// WEBHOOKD_DB.
		p := startProcess(t, []string{"WEBHOOKD_ADDR=127.0.0.1:0", dbEnv}, "serve")
		aliceAPI := api{t: t, base: p.URL, token: login(t, p.URL, alice, alicePassword)}
		login(t, p.URL, bob, bobPassword)
		login(t, p.URL, dave, davePassword)
		if code, body := (api{t: t, base: p.URL}).call(http.MethodPost, "/api/v1/auth/login", fmt.Sprintf(seedLoginBody, "carol@example.com", "eleven char")); code != http.StatusUnauthorized {
			t.Errorf("login as the refused user: status %d, want 401; body %s", code, body)
		}

		// The CRM publishes with the key as a Bearer credential.
		rc := newReceiver(t)
		hook := createWebhook(t, aliceAPI, rc.URL)
		publish(t, api{t: t, base: p.URL, token: key}, 1)
		rc.waitAnswered(t, 1)
		if got := rc.all()[0].header.Get("X-Webhook-Signature"); got == "" {
			t.Errorf("event published with the API key delivered without a signature")
		}
		waitSettled(t, aliceAPI, hook.ID, 1)
		if code, body := (api{t: t, base: p.URL, token: "whk_" + strings.Repeat("0", 40)}).call(http.MethodPost, "/api/v1/events", `{"event":"message.new","data":{}}`); code != http.StatusUnauthorized {
			t.Errorf("publish with an unknown API key: status %d, want 401; body %s", code, body)
		}

		// Issue 19: apikey list and revoke, beside the running serve; a
		// service key is revoked like any other.
		created := webhookd(t, []string{dbEnv}, "", "apikey", "create", "--service", "--name", "backend")
		service := strings.TrimSpace(created.stdout)
		if created.code != 0 || !strings.Contains(created.stderr, "shown once") {
			t.Errorf("%s\nwant the service key on stdout and a note on stderr that it is shown once", created)
		}
		all := mustWebhookd(t, []string{dbEnv}, "", "apikey", "list").stdout
		if strings.Contains(all, key) || strings.Contains(all, service) {
			t.Errorf("apikey list printed a whole key:\n%s", all)
		}
		if !strings.Contains(all, "crm") || !strings.Contains(all, "backend") || !strings.Contains(all, "any tenant (service)") {
			t.Errorf("apikey list printed:\n%s\nwant the crm key and the backend service key", all)
		}
		onlyService := mustWebhookd(t, []string{dbEnv}, "", "apikey", "list", "--service").stdout
		if strings.Contains(onlyService, "crm") || !strings.Contains(onlyService, "backend") {
			t.Errorf("apikey list --service printed:\n%s\nwant the service key alone", onlyService)
		}
		var serviceID string
		for _, line := range strings.Split(onlyService, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[2] == "backend" {
				serviceID = f[0]
			}
		}
		serviceAPI := api{t: t, base: p.URL, token: service}
		if code, body := serviceAPI.call(http.MethodGet, "/api/v1/tenants", ""); code != http.StatusOK {
			t.Fatalf("the service key before revoking: status %d, want 200; body %s", code, body)
		}
		if r := mustWebhookd(t, []string{dbEnv}, "", "apikey", "revoke", "--id", serviceID); !strings.Contains(r.stdout, "revoked API key "+serviceID) {
			t.Errorf("apikey revoke printed %q, want it to name %s", r.stdout, serviceID)
		}
		if code, body := serviceAPI.call(http.MethodGet, "/api/v1/tenants", ""); code != http.StatusUnauthorized {
			t.Errorf("the service key after revoking: status %d, want 401; body %s", code, body)
		}
		if r := webhookd(t, []string{dbEnv}, "", "apikey", "revoke", "--id", serviceID); r.code == 0 || !strings.Contains(r.stderr, "no API key with id") {
			t.Errorf("%s\nwant revoking it again to fail saying there is no such key", r)
		}
		if r := webhookd(t, []string{dbEnv}, "", "apikey", "revoke"); r.code == 0 || !strings.Contains(r.stderr, "--id is required") {
			t.Errorf("%s\nwant apikey revoke without --id to fail naming --id", r)
		}
		// The tenant's key still publishes.
		publish(t, api{t: t, base: p.URL, token: key}, 1)
	})
}

func TestE2EFlagWinsOverEnvironment(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		// The test holds WEBHOOKD_ADDR's port, so a serve that listened
		// there instead of on --addr could not start.
		held, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("hold a port: %v", err)
		}
		defer held.Close()
		envAddr := held.Addr().String()
		env := append([]string{
			"WEBHOOKD_ADDR=" + envAddr,
			// Were the variable used, serve could not start at all.
			"WEBHOOKD_DB=postgres://nobody@127.0.0.1:1/none?connect_timeout=1",
			"WEBHOOKD_TOKEN_TTL=1h",
		}, adminEnv...)
		p := startProcess(t, env, "serve", "--addr", "127.0.0.1:0", "--db", db, "--token-ttl", "2h")
		var l loginWire
		api{t: t, base: p.URL}.json(http.MethodPost, "/api/v1/auth/login", fmt.Sprintf(seedLoginBody, adminEmail, adminPassword), http.StatusOK, &l)
		if l.ExpiresIn != 7200 {
			t.Errorf("expiresIn %d with --token-ttl 2h and WEBHOOKD_TOKEN_TTL=1h, want 7200", l.ExpiresIn)
		}
		p.stop()

		// Without the flag, the variable applies.
		p = startServe(t, db, []string{"WEBHOOKD_TOKEN_TTL=1h"}, "--jwt-secret", "a secret for this test only")
		api{t: t, base: p.URL}.json(http.MethodPost, "/api/v1/auth/login", fmt.Sprintf(seedLoginBody, adminEmail, adminPassword), http.StatusOK, &l)
		if l.ExpiresIn != 3600 {
			t.Errorf("expiresIn %d with WEBHOOKD_TOKEN_TTL=1h, want 3600", l.ExpiresIn)
		}
	})
}

// deliveryArgs keep retries and timeouts short without racing the held
// requests: an attempt gets far longer than any test holds it.
var deliveryArgs = []string{"--retry-schedule", "200ms,200ms,200ms,200ms,200ms", "--delivery-timeout", "20s"}

func TestE2EKill9LosesNoEvent(t *testing.T) {
	t.Parallel()
	const events, passFirst, perWebhook = 30, 5, 8
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		rc := newGatedReceiver(t, passFirst)
		args := append([]string{"--max-in-flight-per-webhook", strconv.Itoa(perWebhook)}, deliveryArgs...)
		p := startServe(t, db, adminEnv, args...)
		a := api{t: t, base: p.URL, token: login(t, p.URL, adminEmail, adminPassword)}
		hook := createWebhook(t, a, rc.URL)
		publish(t, a, events)

		// The first passFirst deliveries were answered; now the webhook's
		// cap of sends is held in flight, and the rest wait in the queue.
		waitFor(t, 30*time.Second, func() (bool, string) {
			n := len(rc.heldIDs())
			return n == perWebhook, fmt.Sprintf("%d deliveries held in flight, have %d", perWebhook, n)
		})
		answered := 0
		for _, arr := range rc.all() {
			if arr.answered {
				answered++
			}
		}
		t.Logf("SIGKILL with %d deliveries answered, %d held in flight, the rest queued", answered, perWebhook)
		p.signal(syscall.SIGKILL)
		p.wait(30 * time.Second)
		rc.waitNoneHeld(t)
		// Everything that reached the receiver came from the killed process.
		beforeRestart := map[int]bool{}
		for _, arr := range rc.all() {
			beforeRestart[arr.n] = true
		}
		rc.release()

		if strings.HasPrefix(db, "postgres") {
			// A dead process's PostgreSQL leases come back when they expire
			// (2×--delivery-timeout+30s, not configurable from the command
			// line); expire them now rather than wait.
			expireLeases(t, db)
		}
		p = startServe(t, db, adminEnv, args...)
		a.base = p.URL
		rc.waitAnswered(t, events)
		waitSettled(t, a, hook.ID, events)

		// At least once; more than once only for what the killed process
		// had sent.
		for n, count := range rc.answeredByN() {
			if count > 1 && !beforeRestart[n] {
				t.Errorf("event %d delivered %d times, though the killed process never sent it", n, count)
			}
			if count > 2 {
				t.Errorf("event %d delivered %d times across one kill, want at most 2", n, count)
			}
		}
		rc.checkStableIDs(t)
	})
}

// expireLeases does to every lease in db what time would do to a dead
// process's leases: makes their deliveries due now.
func expireLeases(t testing.TB, db string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatalf("open %s to expire leases: %v", db, err)
	}
	defer st.Close()
	if _, err := st.ReleaseAllLeases(ctx); err != nil {
		t.Fatalf("expire leases: %v", err)
	}
}

func TestE2ESIGTERM(t *testing.T) {
	t.Parallel()
	const events, perWebhook = 20, 4
	tests := []struct {
		name  string
		grace string
		// finish says whether the held deliveries are let through within
		// the grace period; if not, the grace runs out and they are cut off.
		finish bool
	}{
		{"in-flight deliveries finish", "20s", true},
		{"grace runs out", "500ms", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.EachTarget(t, func(t *testing.T, db string) {
				t.Parallel()
				rc := newGatedReceiver(t, 0)
				args := append([]string{"--max-in-flight-per-webhook", strconv.Itoa(perWebhook), "--shutdown-grace", tt.grace}, deliveryArgs...)
				p := startServe(t, db, adminEnv, args...)
				a := api{t: t, base: p.URL, token: login(t, p.URL, adminEmail, adminPassword)}
				hook := createWebhook(t, a, rc.URL)
				publish(t, a, events)
				var inFlight []string
				waitFor(t, 30*time.Second, func() (bool, string) {
					inFlight = rc.heldIDs()
					return len(inFlight) == perWebhook, fmt.Sprintf("%d deliveries held in flight, have %d", perWebhook, len(inFlight))
				})

				p.signal(syscall.SIGTERM)
				if tt.finish {
					// It stops taking requests while the held deliveries
					// keep it running.
					host := strings.TrimPrefix(p.URL, "http://")
					waitFor(t, 30*time.Second, func() (bool, string) {
						conn, err := net.DialTimeout("tcp", host, time.Second)
						if err != nil {
							return true, ""
						}
						conn.Close()
						return false, "webhookd to stop accepting connections after SIGTERM"
					})
					if held := rc.heldIDs(); !slices.Equal(held, inFlight) {
						t.Errorf("held deliveries after the listener closed: %v, want still %v", held, inFlight)
					}
					rc.release()
				}
				if code := p.wait(30 * time.Second); code != 0 {
					t.Fatalf("exit status after SIGTERM = %d, want 0\n%s", code, p.output())
				}
				if !tt.finish {
					rc.waitNoneHeld(t)
				}
				answered := map[string]bool{}
				for _, arr := range rc.all() {
					if arr.answered {
						answered[arr.id] = true
					}
				}
				for _, id := range inFlight {
					if answered[id] != tt.finish {
						t.Errorf("delivery %s in flight at SIGTERM: answered before exit = %v, want %v", id, answered[id], tt.finish)
					}
				}
				rc.release()

				p = startServe(t, db, adminEnv, args...)
				a.base = p.URL
				rc.waitAnswered(t, events)
				waitSettled(t, a, hook.ID, events)
				// A clean stop recorded every answered delivery and gave the
				// rest back, so nothing is sent twice.
				for n, count := range rc.answeredByN() {
					if count != 1 {
						t.Errorf("event %d delivered %d times, want exactly once", n, count)
					}
				}
				rc.checkStableIDs(t)
			})
		})
	}
}

func TestE2ESecondServe(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		p := startServe(t, db, adminEnv)
		if strings.HasPrefix(db, "postgres") {
			// PostgreSQL is the multi-process mode: a second process on the
			// same database serves beside the first.
			second := startServe(t, db, adminEnv)
			login(t, second.URL, adminEmail, adminPassword)
			login(t, p.URL, adminEmail, adminPassword)
			return
		}
		r := webhookd(t, adminEnv, "", "serve", "--addr", "127.0.0.1:0", "--db", db)
		if r.code == 0 || !strings.Contains(r.stderr, "another webhookd process") {
			t.Errorf("%s\nwant a non-zero exit saying another webhookd process uses the database", r)
		}
		if !strings.Contains(r.stderr, db) {
			t.Errorf("second serve's error %q does not name the database file %s", r.stderr, db)
		}
		// The first process is unaffected.
		login(t, p.URL, adminEmail, adminPassword)
	})
}
