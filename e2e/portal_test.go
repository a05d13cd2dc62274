package e2e

// A tenant's portal end to end (issue 15, "An embeddable portal"): the
// real binary, a service key made with its CLI, two tenants with a
// webhook each, and the console opened in headless Chromium from portal
// session URLs, on its own and inside an iframe of a CRM's page.

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/store/storetest"
)

// portalJWTSecret is the binary's --jwt-secret, so that the test can sign
// portal tokens that end when it needs them to (webhookd's own refuse an
// expiresIn under 60 s).
const portalJWTSecret = "portal e2e secret, 32 bytes long"

// portalSessionWire is POST /api/v1/tenants/{id}/portal-sessions's answer.
type portalSessionWire struct {
	URL       string `json:"url"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
	ReadOnly  bool   `json:"readOnly"`
}

// TestE2EPortal opens tenant A's portal in Chromium: it shows A's webhook
// and not B's, sends a test whose attempt appears in the log, and keeps
// the token out of the address and the history. A read-only session
// shows no control that changes anything, on any page, and the API
// refuses its writes with 403. The portal loads in an iframe of the
// origin --portal-frame-ancestors names and is refused in another's. A
// session that has expired says so, when it opens and when its time
// runs out in front of the user, and asks the API nothing more.
func TestE2EPortal(t *testing.T) {
	t.Parallel()
	binary(t) // -short skips this test before it looks for Chromium
	chromium := chromiumPath(t)
	storetest.EachTarget(t, func(t *testing.T, db string) {
		runPortal(t, chromium, db)
	})
}

// crmPage serves a CRM's page that shows the URL in its src query
// parameter in an iframe.
func crmPage(t *testing.T) *httptest.Server {
	t.Helper()
	tmpl := template.Must(template.New("crm").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>CRM</title></head>
<body><h1>CRM</h1><iframe id="portal" src="{{.}}" width="1200" height="800"></iframe></body></html>`))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := tmpl.Execute(w, r.URL.Query().Get("src")); err != nil {
			t.Errorf("crm page: %v", err)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func runPortal(t *testing.T, chromium, db string) {
	allowed, other := crmPage(t), crmPage(t)
	p := startServe(t, db, adminEnv, append([]string{"--jwt-secret", portalJWTSecret, "--portal-frame-ancestors", allowed.URL}, deliveryArgs...)...)

	// --- The CRM's side: a service key from the CLI, two tenants, a
	// webhook each (to the built-in inbox), and portal sessions for A.
	key := strings.TrimSpace(mustWebhookd(t, nil, "", "apikey", "create", "--service", "--name", "t", "--db", db).stdout)
	if !strings.HasPrefix(key, "whk_") {
		t.Fatalf("apikey create --service printed %q, want one whk_ key", key)
	}
	svc := api{t: t, base: p.URL, token: key}.client()
	hooks := map[string]webhookWire{}
	for _, tenant := range []string{"A", "B"} {
		svc.JSON(t, http.MethodPut, "/api/v1/tenants/"+tenant, `{"name":"Tenant `+tenant+`"}`, http.StatusCreated, nil)
		var w webhookWire
		callJSON(t, svc, http.MethodPost, "/api/v1/webhooks",
			fmt.Sprintf(`{"name":"%s's hook","url":%q,"events":["message.new"]}`, tenant, p.URL+"/inbox/portal-"+strings.ToLower(tenant)),
			http.StatusCreated, &w, "Webhookd-Tenant", tenant)
		hooks[tenant] = w
	}
	session := func(body string) portalSessionWire {
		t.Helper()
		var s portalSessionWire
		svc.JSON(t, http.MethodPost, "/api/v1/tenants/A/portal-sessions", body, http.StatusCreated, &s)
		if !strings.HasPrefix(s.URL, p.URL+"/#portal=") || s.Token == "" || !strings.HasSuffix(s.URL, s.Token) {
			t.Fatalf("portal session %+v: want url %s/#portal=<token>", s, p.URL)
		}
		return s
	}
	full, readOnly := session(`{}`), session(`{"readOnly":true}`)
	if full.ReadOnly || !readOnly.ReadOnly {
		t.Fatalf("portal sessions answered readOnly %v and %v, want false and true", full.ReadOnly, readOnly.ReadOnly)
	}

	shots := newShots(t)
	br := startChromium(t, chromium)
	hookA, hookB := hooks["A"], hooks["B"]

	// --- A's portal: A's webhook, not B's; the token leaves the address
	// and the history at once.
	a := openTab(t, br, "portal A", shots)
	a.navigate(full.URL)
	a.waitJS("A's webhook in the portal", `textOf('#webhook-rows .webhook-name') === "A's hook"`)
	shots.take(a, "01-portal")
	checkTokenGone(t, a, full.Token)
	if got := a.text("#nav-tenant-id"); got != "A" {
		t.Errorf("the nav shows tenant %q, want A", got)
	}
	if n := evalJS[int](a, `document.querySelectorAll('#webhook-rows .webhook-row').length`); n != 1 {
		t.Errorf("A's portal lists %d webhooks, want 1 (A's)", n)
	}
	if got := evalJS[string](a, `document.body.innerText`); strings.Contains(got, "B's hook") || strings.Contains(got, hookB.ID) {
		t.Errorf("A's portal shows tenant B's webhook:\n%s", got)
	}
	// No sign-in and no sign-out in a portal; the publish form is there
	// for a session that may change things.
	for sel, visible := range map[string]bool{"#signout": false, "#login-email": false, "#new-webhook": true, `#nav a[data-nav="publish"]`: true, "#nav-read-only": false} {
		if got := visibleJS(a, sel); got != visible {
			t.Errorf("A's portal: %s visible = %v, want %v", sel, got, visible)
		}
	}
	// B's webhook answers 404 to A's token, by id and by naming B.
	if got := pageFetch(a, full.Token, http.MethodGet, "/api/v1/webhooks/"+hookB.ID, "", nil); got != http.StatusNotFound {
		t.Errorf("GET B's webhook with A's portal token: %d, want 404", got)
	}
	if got := pageFetch(a, full.Token, http.MethodGet, "/api/v1/webhooks", "", map[string]string{"Webhookd-Tenant": "B"}); got != http.StatusNotFound {
		t.Errorf("GET /api/v1/webhooks naming tenant B with A's portal token: %d, want 404", got)
	}

	// A test send from the webhook's page: the attempt appears in the log.
	a.click("#webhook-rows .webhook-name")
	a.waitJS("the webhook's page, its log live", `textOf('#wh-title') === "A's hook" && document.querySelector('#log-live')?.dataset.state === 'live'`)
	for _, sel := range []string{"#wh-edit", "#wh-toggle", "#secret-rotate", "#test-send", "#replay-submit", "#wh-delete"} {
		if !visibleJS(a, sel) {
			t.Errorf("A's portal, webhook page: %s is missing from a session that may change things", sel)
		}
	}
	a.click("#test-send")
	a.waitJS("the test result", `textOf('#test-result').includes('HTTP 200')`)
	a.waitJS("the test attempt in the log", `document.querySelectorAll('#log-body tr.log-row[data-test="true"]').length === 1`)
	shots.take(a, "02-portal-test-send")

	// --- A read-only session of A: no control that changes anything, on
	// any page, and 403 from the API for every write.
	ro := openTab(t, br, "portal A read-only", shots)
	ro.navigate(readOnly.URL)
	ro.waitJS("A's webhook, read-only", `textOf('#webhook-rows .webhook-name') === "A's hook" && document.querySelector('#nav-read-only') !== null`)
	checkTokenGone(t, ro, readOnly.Token)
	editControls := []string{
		"#new-webhook", `#nav a[data-nav="publish"]`, "#signout", "#login-email", // the list and the nav
		"#wh-edit", "#wh-toggle", "#secret-rotate", "#test-form", "#test-send", "#replay-form", "#wh-delete", ".redeliver", // the webhook's page
		"#inbox-create-webhook", // the inbox
	}
	noEditControls := func(where string) {
		t.Helper()
		for _, sel := range editControls {
			if visibleJS(ro, sel) {
				t.Errorf("read-only portal, %s: %s is shown", where, sel)
			}
		}
	}
	noEditControls("webhook list")
	if got := evalJS[string](ro, `textOf('#webhook-rows')`); strings.Contains(got, "Create one") {
		t.Errorf("read-only portal: the list offers to create a webhook: %q", got)
	}
	ro.click("#webhook-rows .webhook-name")
	// The log has the test attempt, so a row with no Redeliver button is
	// a row without one, not an empty log.
	ro.waitJS("the webhook's page with its log and statistics", `textOf('#wh-title') === "A's hook" && document.querySelectorAll('#log-body tr.log-row .log-toggle').length === 1 && textOf('#stat-total .stat-value') === '1'`)
	noEditControls("webhook page")
	if n := evalJS[int](ro, `[...document.querySelector('#webhook-detail').childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).length`); n != 0 {
		t.Errorf("read-only portal, webhook page: %d stray text nodes where the left-out cards were", n)
	}
	ro.click("#log-body tr.log-row .log-toggle")
	ro.waitJS("the attempt's details", `textOf('#log-body tr.log-detail:not([hidden])').includes('X-Webhook-Signature')`)
	shots.take(ro, "03-read-only-webhook")
	ro.click(`#nav a[data-nav="inbox"]`)
	ro.waitJS("the inbox, live", `document.querySelector('#inbox-live')?.dataset.state === 'live'`)
	noEditControls("inbox")
	for _, hash := range []string{"#/webhooks/new", "#/webhooks/" + hookA.ID + "/edit", "#/publish"} {
		ro.do("open "+hash, chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString(hash)))
		ro.waitJS("the read-only page at "+hash, `textOf('#app h1') === 'Read-only'`)
		if visibleJS(ro, "form") {
			t.Errorf("read-only portal at %s shows a form", hash)
		}
	}
	writes := []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/webhooks", `{"name":"x","url":"https://example.com/x","events":["message.new"]}`},
		{http.MethodPatch, "/api/v1/webhooks/" + hookA.ID, `{"isActive":false}`},
		{http.MethodDelete, "/api/v1/webhooks/" + hookA.ID, ""},
		{http.MethodPost, "/api/v1/webhooks/" + hookA.ID + "/test", `{"eventType":"webhook.test"}`},
		{http.MethodPost, "/api/v1/webhooks/" + hookA.ID + "/rotate-secret", `{}`},
		{http.MethodPost, "/api/v1/webhooks/" + hookA.ID + "/replay", `{}`},
		{http.MethodPost, "/api/v1/events", `{"event":"message.new","data":{}}`},
	}
	for _, w := range writes {
		if got := pageFetch(ro, readOnly.Token, w.method, w.path, w.body, nil); got != http.StatusForbidden {
			t.Errorf("%s %s with the read-only portal token, from the page: %d, want 403", w.method, w.path, got)
		}
	}
	// Nothing changed: still active, still one attempt.
	var after webhookWire
	callJSON(t, svc, http.MethodGet, "/api/v1/webhooks/"+hookA.ID, nil, http.StatusOK, &after, "Webhookd-Tenant", "A")
	if !after.IsActive || after.Secret != hookA.Secret {
		t.Errorf("after the read-only writes A's webhook is %+v, want it unchanged", after)
	}

	// --- Framed by the CRM: allowed from the origin the flag names,
	// refused from another.
	crm := openTab(t, br, "crm allowed", shots)
	crm.navigate(allowed.URL + "/?src=" + url.QueryEscape(session(`{}`).URL))
	frame := childFrame(t, crm)
	waitInFrame(t, crm, frame, "A's webhook inside the CRM's iframe", `(() => { const n = document.querySelector('#webhook-rows .webhook-name'); return !!n && n.textContent === "A's hook"; })()`)
	if f := childFrame(t, crm); !strings.HasPrefix(f.URL, p.URL+"/") || f.UnreachableURL != "" || strings.Contains(f.URLFragment, "portal=") {
		t.Errorf("the allowed iframe is at %q%q (unreachable %q), want the console at #/webhooks", f.URL, f.URLFragment, f.UnreachableURL)
	}
	shots.take(crm, "04-framed-allowed")

	refused := openTab(t, br, "crm refused", shots)
	refused.navigate(other.URL + "/?src=" + url.QueryEscape(session(`{}`).URL))
	// Chromium says why in the console, and the frame holds its error
	// page instead of the console.
	waitFor(t, consoleStepTimeout, func() (bool, string) {
		for _, pr := range refused.problems() {
			if strings.Contains(pr, "frame-ancestors") && strings.Contains(pr, allowed.URL) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no frame-ancestors refusal in the console: %q", refused.problems())
	})
	f := childFrame(t, refused)
	if f.UnreachableURL == "" && strings.HasPrefix(f.URL, p.URL) {
		t.Errorf("the refused iframe is at %q: it loaded the console", f.URL)
	}
	if got := evalInFrame[bool](t, refused, f.ID, `document.querySelector('#app') !== null || document.querySelector('#webhook-rows') !== null`); got {
		t.Error("the refused iframe shows the console")
	}
	shots.take(refused, "05-framed-refused")

	// --- Expired sessions. Signed here with the binary's --jwt-secret,
	// since webhookd's own last at least a minute.
	tokens, err := auth.NewTokens([]byte(portalJWTSecret), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A session names its tenant's creation time, as the server signs it.
	var tenantA struct {
		CreatedAt string `json:"createdAt"`
	}
	svc.JSON(t, http.MethodGet, "/api/v1/tenants/A", nil, http.StatusOK, &tenantA)
	createdA, err := time.Parse(time.RFC3339Nano, tenantA.CreatedAt)
	if err != nil {
		t.Fatalf("tenant A's createdAt %q: %v", tenantA.CreatedAt, err)
	}
	// One that expired before the page opened: /auth/me answers 401.
	gone, _, err := tokens.IssuePortal("A", createdA, false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	goneClient := api{t: t, base: p.URL, token: gone}.client()
	waitFor(t, 30*time.Second, func() (bool, string) {
		r := goneClient.Do(t, http.MethodGet, "/api/v1/auth/me", nil)
		return r.Status == http.StatusUnauthorized, fmt.Sprintf("GET /api/v1/auth/me with the 1 s token: %d", r.Status)
	})
	old := openTab(t, br, "portal expired", shots)
	old.navigate(p.URL + "/#portal=" + gone)
	old.waitJS("the expired message", `textOf('#portal-ended-title') === 'This portal session has expired' && textOf('#portal-ended-detail').includes('expired')`)
	checkEnded(t, old, hookA.ID)
	shots.take(old, "06-expired")

	// One that runs out while its list is shown: the page's timer ends
	// it (the list page asks the API nothing after loading, so no 401
	// can be what ends it; the timer's page has no server message).
	const ttl = 12 * time.Second
	short, expires, err := tokens.IssuePortal("A", createdA, false, ttl)
	if err != nil {
		t.Fatal(err)
	}
	timed := openTab(t, br, "portal timing out", shots)
	timed.navigate(p.URL + "/#portal=" + short)
	timed.waitJS("A's webhook before the session runs out", `textOf('#webhook-rows .webhook-name') === "A's hook"`)
	if time.Now().After(expires) {
		t.Fatalf("the page took over %s to show the list; the timer cannot be tested", ttl)
	}
	timed.waitJS("the expired message from the timer", `textOf('#portal-ended-title') === 'This portal session has expired' && document.querySelector('#portal-ended-detail') === null`)
	checkEnded(t, timed, hookA.ID)

	for _, tb := range []*tab{a, ro, crm, old, timed} {
		if probs := tb.problems(); len(probs) > 0 {
			t.Errorf("%s: the page reported problems:\n%s", tb.name, strings.Join(probs, "\n"))
		}
	}
	shots.check()
}

// callJSON is wiretest's Client.JSON with request headers (name, value
// pairs), such as Webhookd-Tenant for a service key.
func callJSON(t *testing.T, c wiretest.Client, method, path string, body any, want int, out any, headers ...string) {
	t.Helper()
	r := c.Do(t, method, path, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s %v: status %d, want %d; body %s", method, path, headers, r.Status, want, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
}

// checkTokenGone checks that the portal's token is in neither the
// address nor any entry of the tab's history, and that the console went
// on at #/webhooks.
func checkTokenGone(t *testing.T, tb *tab, token string) {
	t.Helper()
	if got := evalJS[string](tb, `location.hash`); got != "#/webhooks" {
		t.Errorf("%s: the address's fragment is %q, want #/webhooks", tb.name, got)
	}
	ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
	defer cancel()
	h, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		t.Fatalf("%s: navigation history: %v", tb.name, err)
	}
	for _, e := range h.Entries {
		if strings.Contains(e.URL, token) || strings.Contains(e.URL, "portal=") {
			t.Errorf("%s: the history holds the token: %s", tb.name, e.URL)
		}
	}
}

// checkEnded checks an ended portal session's page: no sign-in form, and
// no request to the API once ended, even when the address asks for a
// page that would make some.
func checkEnded(t *testing.T, tb *tab, hookID string) {
	t.Helper()
	const apiCalls = `performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname.startsWith('/api/')).length`
	before := evalJS[int](tb, apiCalls)
	tb.do("open a webhook's page", chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString("#/webhooks/"+hookID)))
	tb.waitJS("the expired message again", `location.hash.startsWith('#/webhooks/') && textOf('#portal-ended-title') === 'This portal session has expired'`)
	if got := evalJS[int](tb, apiCalls); got != before {
		t.Errorf("%s: %d API requests after the session ended, want none", tb.name, got-before)
	}
	for _, sel := range []string{"#login-email", "#nav", "#webhook-rows"} {
		if visibleJS(tb, sel) {
			t.Errorf("%s: %s is shown after the session ended", tb.name, sel)
		}
	}
}

// visibleJS reports whether an element matching sel is on the page and
// laid out (not hidden).
func visibleJS(tb *tab, sel string) bool {
	tb.t.Helper()
	return evalJS[bool](tb, fmt.Sprintf(`[...document.querySelectorAll(%s)].some((n) => n.getClientRects().length > 0)`, jsString(sel)))
}

// pageFetch sends a request from the page's own context, as its script
// would, with token as the bearer credential, and answers the status.
func pageFetch(tb *tab, token, method, path, body string, headers map[string]string) int {
	tb.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	init := fmt.Sprintf(`{method: %s, headers: %s, cache: 'no-store'}`, jsString(method), jsObject(h))
	if body != "" {
		init = fmt.Sprintf(`{method: %s, headers: %s, cache: 'no-store', body: %s}`, jsString(method), jsObject(h), jsString(body))
	}
	tb.front()
	ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
	defer cancel()
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch(`+jsString(path)+`, `+init+`).then((r) => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail("fetch "+method+" "+path, err)
	}
	return status
}

// jsObject writes a string map as a JavaScript object literal.
func jsObject(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = jsString(k) + ": " + jsString(m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// childFrame is the one iframe of the tab's page, once Chromium has
// committed something in it.
func childFrame(t *testing.T, tb *tab) *cdp.Frame {
	t.Helper()
	var f *cdp.Frame
	waitFor(t, consoleStepTimeout, func() (bool, string) {
		ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
		defer cancel()
		tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			t.Fatalf("%s: frame tree: %v", tb.name, err)
		}
		if len(tree.FrameTree.ChildFrames) != 1 {
			return false, fmt.Sprintf("%s: %d child frames, want 1", tb.name, len(tree.FrameTree.ChildFrames))
		}
		f = tree.FrameTree.ChildFrames[0].Frame
		return f.URL != "" && f.URL != "about:blank", fmt.Sprintf("%s: the iframe is still at %q", tb.name, f.URL)
	})
	return f
}

// evalInFrame evaluates expression in an isolated world of the frame,
// which sees the frame's DOM (not its script's variables).
func evalInFrame[T any](t *testing.T, tb *tab, frame cdp.FrameID, expression string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
	defer cancel()
	world, err := chromedp.Call(ctx, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: frame, WorldName: "e2e"})
	if err != nil {
		t.Fatalf("%s: isolated world in frame %s: %v", tb.name, frame, err)
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression, func(p *runtime.EvaluateParams) { p.ContextID = world.ExecutionContextID }))
	if err != nil {
		t.Fatalf("%s: evaluate in frame %s: %s: %v", tb.name, frame, expression, err)
	}
	return v
}

// waitInFrame waits until the predicate holds in the frame.
func waitInFrame(t *testing.T, tb *tab, frame *cdp.Frame, what, predicate string) {
	t.Helper()
	waitFor(t, consoleStepTimeout, func() (bool, string) {
		return evalInFrame[bool](t, tb, frame.ID, `(() => { try { return !!(`+predicate+`); } catch (e) { return false; } })()`), what
	})
}
