package e2e

// The console's pages and fixes of issue 19, each checked in Chromium at a
// desktop width (1280 px) and a phone's (390 px), with a screenshot of each
// in the test artifacts folder (see newShots).

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2EConsoleItems walks the first-run sign-in hint (and its absence
// after a restart), the API keys, members and password pages, a portal
// session's navigation, the webhook list as cards and the delivery log on a
// phone, the publish page's outcomes, the pretty body's numbers, the
// latency axis, toasts and secret rotation.
func TestE2EConsoleItems(t *testing.T) {
	t.Parallel()
	binary(t)
	chromium := chromiumPath(t)
	storetest.EachTarget(t, func(t *testing.T, db string) {
		runConsoleItems(t, chromium, db)
	})
}

// both screenshots the tab at 1280 px and at 390 px as name-desktop.png
// and name-390.png, checking at 390 px that the page does not scroll
// sideways, and leaves it at 1280 px.
func both(t *testing.T, tb *tab, shots *shots, name string) {
	t.Helper()
	tb.do("a wide screen", chromedp.EmulateViewport(1280, 900))
	shots.take(tb, name+"-desktop")
	narrow(tb)
	shots.take(tb, name+"-390")
	if w := evalJS[int](tb, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("%s: at 390 px the page is %d px wide: it scrolls sideways", name, w)
	}
	tb.do("a wide screen", chromedp.EmulateViewport(1280, 900))
}

// awaitJS evaluates expression, a promise, in the tab and decodes what it
// resolves to.
func awaitJS[T any](tb *tab, expression string) T {
	tb.t.Helper()
	tb.front()
	ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail("evaluate "+expression, err)
	}
	return v
}

func narrow(tb *tab) {
	tb.t.Helper()
	tb.do("a narrow screen", chromedp.EmulateViewport(390, 844))
}

// geomJS evaluates expr with two helpers in scope: rect(sel), the
// element's client rectangle or null when there is none or it is not
// shown, and overlap(a, b) of two rectangles.
func geomJS(expr string) string {
	return `(() => { ` + rectJS + ` return (` + expr + `); })()`
}

const rectJS = `const rect = (sel) => { const n = document.querySelector(sel); if (!n || !n.getClientRects().length) return null; const r = n.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom, w: r.width}; };
const overlap = (a, b) => a && b && a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b;`

func runConsoleItems(t *testing.T, chromium, db string) {
	// --- The first start creates the admin: the sign-in page names it
	// until it signs in.
	p := startServe(t, db, adminEnv, deliveryArgs...)
	shots := newShots(t)
	br := startChromium(t, chromium)
	a := openTab(t, br, "tab", shots)
	a.navigate(p.URL + "/")
	a.waitJS("the first user named", `textOf('#login-first-user') === `+jsString(adminEmail))
	both(t, a, shots, "01-sign-in-first-user")
	a.signIn(adminEmail, adminPassword)
	a.waitJS("the webhook list", `document.querySelector('#webhook-rows') !== null && !textOf('#webhook-rows').includes('Loading')`)
	a.click("#signout")
	a.waitJS("the sign-in form", `document.querySelector('#login-email') !== null`)
	a.waitJS("the hint's answer", `document.querySelector('#login-hint') !== null`)
	// The page asks again on each showing; give it its answer's time.
	var cfg struct {
		FirstUserEmail *string `json:"firstUserEmail"`
	}
	api{t: t, base: p.URL}.json(http.MethodGet, "/api/v1/console/config", "", http.StatusOK, &cfg)
	if cfg.FirstUserEmail != nil {
		t.Errorf("after the first user signed in, console config names %q", *cfg.FirstUserEmail)
	}
	if got := evalJS[string](a, `document.body.innerText`); strings.Contains(got, adminEmail) {
		t.Errorf("after the first user signed in, the sign-in page still names it:\n%s", got)
	}

	// --- A second start on the same database creates nobody and names
	// nobody.
	p.stop()
	p = startServe(t, db, adminEnv, deliveryArgs...)
	a.navigate(p.URL + "/")
	a.waitJS("the sign-in form", `document.querySelector('#login-hint') !== null`)
	api{t: t, base: p.URL}.json(http.MethodGet, "/api/v1/console/config", "", http.StatusOK, &cfg)
	if cfg.FirstUserEmail != nil {
		t.Errorf("a second start's console config names %q", *cfg.FirstUserEmail)
	}
	if got := evalJS[string](a, `document.body.innerText`); strings.Contains(got, adminEmail) || strings.Contains(got, "admin@localhost") {
		t.Errorf("a second start's sign-in page names an email:\n%s", got)
	}
	shots.take(a, "02-sign-in-second-start")
	a.signIn(adminEmail, adminPassword)
	a.waitJS("the webhook list", `document.querySelector('#webhook-rows') !== null && !textOf('#webhook-rows').includes('Loading')`)

	token := login(t, p.URL, adminEmail, adminPassword)
	user := api{t: t, base: p.URL, token: token}
	longURL := p.URL + "/inbox/demo?customer=acme-corporation-international&region=eu-west-1&signature=abcdefghijklmnopqrstuvwxyz0123456789"
	var hook webhookWire
	user.json(http.MethodPost, "/api/v1/webhooks", fmt.Sprintf(`{"name":"CRM receiver","url":%q,"events":["*"]}`, longURL), http.StatusCreated, &hook)

	// --- The webhook list: a card per webhook at 390 px, its URL on a
	// line of the card's width.
	a.click(`#nav a[data-nav="inbox"]`)
	a.click(`#nav a[data-nav="webhooks"]`)
	a.waitJS("the webhook in the list", `document.querySelector('#webhook-rows .webhook-name') !== null`)
	both(t, a, shots, "03-webhooks")
	narrow(a)
	urlW := evalJS[float64](a, geomJS(`rect('#webhook-rows td.url code').w`))
	if urlW <= 200 {
		t.Errorf("at 390 px the webhook URL's line is %.0f px wide, want more than 200", urlW)
	}
	if got := a.text("#webhook-rows td.url code"); got != longURL {
		t.Errorf("URL shown = %q, want %q", got, longURL)
	}
	a.do("a wide screen", chromedp.EmulateViewport(1280, 900))

	// --- API keys: create (shown once, with a copy button and the
	// warning), the key works, revoke with a confirmation.
	a.click(`#nav a[data-nav="api-keys"]`)
	a.waitJS("the API keys page", `textOf('#api-key-rows').includes('No API keys yet')`)
	a.setValue("#api-key-name", "")
	a.click("#api-key-create")
	a.waitJS("the missing name", `textOf('#api-key-form .field-error').includes('must be 1 to 255 characters')`)
	a.setValue("#api-key-name", "crm publisher")
	a.click("#api-key-create")
	a.waitJS("the new key, shown once", `/^whk_/.test(textOf('#api-key-value')) && document.querySelectorAll('#api-key-rows tr.api-key-row').length === 1`)
	if got := a.text("#api-key-warning"); !strings.Contains(got, "shown once") {
		t.Errorf("the new key's warning says %q, want it to say it is shown once", got)
	}
	if !visibleJS(a, "#api-key-copy") {
		t.Error("no copy button beside the new key")
	}
	key := a.text("#api-key-value")
	api{t: t, base: p.URL, token: key}.json(http.MethodGet, "/api/v1/webhooks", "", http.StatusOK, nil)
	both(t, a, shots, "04-api-key-created")
	a.click("#api-key-rows .api-key-revoke")
	a.waitJS("the revoke question", `textOf('#api-key-rows .confirm').includes('crm publisher')`)
	shots.take(a, "05-api-key-revoke")
	a.click("#api-key-rows .api-key-revoke-yes")
	a.waitJS("no keys left", `textOf('#api-key-rows').includes('No API keys yet')`)
	api{t: t, base: p.URL, token: key}.json(http.MethodGet, "/api/v1/webhooks", "", http.StatusUnauthorized, nil)

	// --- Members: the admin, marked as you.
	a.click(`#nav a[data-nav="members"]`)
	a.waitJS("the members", `document.querySelectorAll('#member-rows tr.member-row').length === 1`)
	if got := a.text("#member-rows .member-email"); got != adminEmail+" you" {
		t.Errorf("member shown as %q, want %q", got, adminEmail+" you")
	}
	both(t, a, shots, "06-members")

	// --- Change my password: a wrong current one is said once, by its
	// field; then the change keeps this tab signed in, and another tab
	// signed in before it is sent to the sign-in page with a toast that
	// says why.
	other := openTab(t, br, "other tab", shots)
	other.navigate(p.URL + "/#/members")
	other.signIn(adminEmail, adminPassword)
	other.waitJS("the members", `document.querySelectorAll('#member-rows tr.member-row').length === 1`)
	a.click("#nav-user")
	a.waitJS("the account page", `textOf('#account-email') === `+jsString(adminEmail))
	const newPassword = "an even longer admin password"
	a.setValue("#pw-current", "not the password at all")
	a.setValue("#pw-new", newPassword)
	a.setValue("#pw-again", newPassword)
	a.click("#pw-submit")
	a.waitJS("the wrong current password", `textOf('#pw-form .field-error') === 'is not your current password'`)
	if n := evalJS[int](a, `document.querySelector('#pw-form').innerText.split('is not your current password').length - 1`); n != 1 {
		t.Errorf("the wrong current password's message shows %d times, want once", n)
	}
	both(t, a, shots, "07-password-error")
	a.setValue("#pw-current", adminPassword)
	a.setValue("#pw-new", newPassword)
	a.setValue("#pw-again", newPassword)
	a.click("#pw-submit")
	a.waitJS("the changed password", `textOf('#pw-result').includes('Password changed')`)
	api{t: t, base: p.URL, token: token}.json(http.MethodGet, "/api/v1/webhooks", "", http.StatusUnauthorized, nil)
	token = login(t, p.URL, adminEmail, newPassword)
	other.click(`#nav a[data-nav="webhooks"]`)
	other.waitJS("the other tab signed out, saying why", `document.querySelector('#login-email') !== null && textOf('#flash .toast-error').includes('Your session ended')`)
	shots.take(other, "07b-session-ended")
	user = api{t: t, base: p.URL, token: token}
	a.click(`#nav a[data-nav="webhooks"]`)
	a.waitJS("the list, still signed in", `document.querySelector('#webhook-rows .webhook-name') !== null`)

	// --- Publish: an error said once, an error clearing the success
	// before it, an idempotent replay said to be one.
	a.click(`#nav a[data-nav="publish"]`)
	a.waitJS("the publish form", `document.querySelector('#publish-form') !== null`)
	a.setSelect("#publish-event", "message.new")
	a.setValue("#publish-data", `{"messageId": 5}`)
	a.click("#publish-submit")
	a.waitJS("the schema violation", `textOf('#publish-form .field-error').includes('got number, want string')`)
	if n := evalJS[int](a, `document.querySelector('#publish-page').innerText.split('got number, want string').length - 1`); n != 1 {
		t.Errorf("the publish error shows %d times, want once:\n%s", n, evalJS[string](a, `document.querySelector('#publish-form').innerText`))
	}
	both(t, a, shots, "08-publish-error")
	a.setSelect("#publish-event", "campaign.completed")
	a.setValue("#publish-data", `{"campaignId": "cmp_1", "amount": 2.50}`)
	a.setValue("#publish-key", "order-42")
	a.click("#publish-submit")
	a.waitJS("the accepted event", `document.querySelector('#publish-result')?.dataset.outcome === 'accepted' && textOf('#publish-deliveries') === '1 webhook'`)
	a.setValue("#publish-data", `{"campaignId": }`)
	a.click("#publish-submit")
	a.waitJS("the JSON error", `textOf('#publish-form .field-error') === 'not valid JSON'`)
	if !evalJS[bool](a, `document.querySelector('#publish-result').hidden && textOf('#publish-result') === ''`) {
		t.Error("after an error the previous success is still shown")
	}
	a.setValue("#publish-data", `{"campaignId": "cmp_1", "amount": 2.50}`)
	a.click("#publish-submit")
	a.waitJS("the replay", `document.querySelector('#publish-result')?.dataset.outcome === 'replayed' && textOf('#publish-badge') === 'replayed'`)
	if got := a.text("#publish-result"); !strings.Contains(got, "created nothing new") {
		t.Errorf("the replay says %q", got)
	}
	both(t, a, shots, "09-publish-replayed")

	// --- A webhook's page: the pretty body keeps numbers as sent, the
	// delivery log keeps time and result in view at 390 px.
	a.do("open the webhook's page", chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString("#/webhooks/"+hook.ID)))
	a.waitJS("the published event's attempt", `document.querySelector('#log-body tr.log-row[data-status="success"]') !== null`)
	a.click(`#log-body tr.log-row .log-toggle`)
	a.waitJS("the pretty body", `textOf('#log-body tr.log-detail:not([hidden]) pre.request-body').includes('"amount": 2.50')`)
	if got := a.text("#log-body tr.log-detail:not([hidden]) pre.request-body"); strings.Contains(got, "2.5\n") || !strings.Contains(got, "\n  \"data\": {\n    \"campaignId\": \"cmp_1\",\n    \"amount\": 2.50\n  }") {
		t.Errorf("pretty body:\n%s\nwant data's amount as 2.50, indented", got)
	}
	both(t, a, shots, "10-delivery-pretty")
	narrow(a)
	for _, sel := range []string{"#log-body tr.log-row td.log-time", "#log-body tr.log-row td.log-time time", "#log-body tr.log-row td.log-result", "#log-body tr.log-row td.log-result .badge"} {
		ok := evalJS[bool](a, geomJS(`((r) => r !== null && r.w > 0 && r.l >= 0 && r.r <= 390)(rect(`+jsString(sel)+`))`))
		if !ok {
			t.Errorf("at 390 px %s is not in view", sel)
		}
	}
	a.do("a wide screen", chromedp.EmulateViewport(1280, 900))

	// --- The latency axis: exact labels, equal steps.
	ticks := awaitJS[[]string](a, `(() => import('/console/chart.js').then((m) => [...m.drawChart({bucketSeconds: 3600, buckets: [
		{start: new Date().toISOString(), total: 2, success: 2, failed: 0, successRate: 1, avgDurationMs: 0.25, maxDurationMs: 0.3},
		{start: new Date().toISOString(), total: 1, success: 1, failed: 0, successRate: 1, avgDurationMs: 1, maxDurationMs: 1}]}).querySelectorAll('.tick-right')].map((n) => n.textContent)))()`)
	if got := strings.Join(ticks, ","); got != "0 ms,0.25 ms,0.5 ms,0.75 ms,1 ms" {
		t.Errorf("latency ticks for up to 1 ms = %s, want 0 ms,0.25 ms,0.5 ms,0.75 ms,1 ms", got)
	}
	a.waitJS("the chart", `document.querySelectorAll('#stats-svg .tick-right').length >= 2`)
	if got := evalJS[string](a, `[...document.querySelectorAll('#stats-svg .tick-right')].map((n) => n.textContent).join(',')`); !strings.HasPrefix(got, "0 ms,") {
		t.Errorf("the page's latency ticks = %s, want them to start at 0 ms", got)
	}

	// --- Toasts: out of the way of the control that made them and of
	// the page's head, clicks pass beside them, and gone on navigation.
	a.click("#wh-toggle")
	a.waitJS("paused, with a toast", `textOf('#wh-state') === 'paused' && document.querySelectorAll('#flash .toast').length === 1`)
	for _, sel := range []string{"#wh-toggle", "#wh-edit", "#nav", "#wh-title"} {
		if evalJS[bool](a, geomJS(`overlap(rect('#flash .toast'), rect(`+jsString(sel)+`))`)) {
			t.Errorf("the toast covers %s", sel)
		}
	}
	if got := evalJS[string](a, `getComputedStyle(document.querySelector('#flash')).pointerEvents`); got != "none" {
		t.Errorf("the toast stack takes clicks (pointer-events %s)", got)
	}
	both(t, a, shots, "11-toast")
	// At 390 px no corner is free of controls: the toast must sit beside
	// the page, not over it, whatever the page has scrolled to.
	narrow(a)
	evalJS[bool](a, `(document.querySelector('#app').scrollTop = 1e6, window.scrollTo(0, 1e6), true)`)
	if covered := evalJS[string](a, geomJS(`[...document.querySelectorAll('a, button, input, select, textarea, summary, [tabindex]')]
		.filter((n) => !n.closest('#flash') && n.getClientRects().length)
		.filter((n) => { const r = n.getBoundingClientRect(); const toast = rect('#flash .toast'); return overlap(toast, {l: r.left, r: r.right, t: r.top, b: r.bottom}); })
		.map((n) => n.id || n.textContent.trim() || n.tagName).join(', ')`)); covered != "" {
		t.Errorf("at 390 px the toast covers: %s", covered)
	}
	a.do("a wide screen", chromedp.EmulateViewport(1280, 900))
	a.click("#wh-toggle")
	a.waitJS("active again", `textOf('#wh-state') === 'active'`)
	a.click(`#nav a[data-nav="webhooks"]`)
	a.waitJS("the list, without toasts", `document.querySelector('#webhook-rows .webhook-name') !== null && document.querySelectorAll('#flash .toast').length === 0 && document.querySelector('#flash').hidden`)

	// --- Secret rotation: a new secret shown before it takes effect, the
	// headers explained, and one of the user's own choosing.
	a.click("#webhook-rows .webhook-name")
	a.waitJS("the webhook's page", `document.querySelector('#secret-rotate') !== null`)
	a.click("#secret-rotate")
	a.waitJS("the proposed secret", `/^whsec_[A-Za-z0-9+\/]{43}=$/.test(document.querySelector('#secret-new').value)`)
	proposed := evalJS[string](a, `document.querySelector('#secret-new').value`)
	a.click("#secret-generate")
	if again := evalJS[string](a, `document.querySelector('#secret-new').value`); again == proposed || !strings.HasPrefix(again, "whsec_") {
		t.Errorf("Generate another gave %q after %q", again, proposed)
	}
	note := a.text("#settings-card .rotate-notes")
	if !strings.Contains(note, "X-Webhook-Signature") || !strings.Contains(note, "one signature") || !strings.Contains(note, "webhook-signature") || !strings.Contains(note, "both signatures") {
		t.Errorf("the rotation note says %q", note)
	}
	both(t, a, shots, "12-rotate")
	a.setValue("#secret-new", "short")
	a.click("#secret-rotate-yes")
	a.waitJS("the refused secret", `textOf('#secret-rotate-error').includes('secret')`)
	const mine = "my-own-receiver-secret-2026"
	a.setValue("#secret-new", mine)
	a.click("#secret-rotate-yes")
	a.waitJS("the new secret shown", `textOf('#wh-secret') === `+jsString(mine))
	var got webhookWire
	user.json(http.MethodGet, "/api/v1/webhooks/"+hook.ID, "", http.StatusOK, &got)
	if got.Secret != mine {
		t.Errorf("secret after rotation = %q, want %q", got.Secret, mine)
	}
	// At 390 px the form opens a screen or two below the button: the page
	// brings it into view and puts the cursor in the new secret.
	narrow(a)
	a.navigate(p.URL + "/#/webhooks")
	a.waitJS("the list", `document.querySelector('#webhook-rows .webhook-name') !== null`)
	a.click("#webhook-rows .webhook-name")
	a.waitJS("the webhook's page", `document.querySelector('#secret-rotate') !== null`)
	a.click("#secret-rotate")
	a.waitJS("the rotation form in view, focused", `(() => { const n = document.querySelector('#secret-new'); if (!n) return false; const r = n.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && document.activeElement === n; })()`)
	a.do("a wide screen", chromedp.EmulateViewport(1280, 900))

	// --- A portal session sees no keys, members or password page.
	svcKey := strings.TrimSpace(mustWebhookd(t, nil, "", "apikey", "create", "--service", "--name", "crm", "--db", db).stdout)
	svc := api{t: t, base: p.URL, token: svcKey}.client()
	svc.JSON(t, http.MethodPut, "/api/v1/tenants/acme", `{"name":"Acme"}`, http.StatusCreated, nil)
	var ps portalSessionWire
	svc.JSON(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", `{}`, http.StatusCreated, &ps)
	portal := openTab(t, br, "portal", shots)
	portal.navigate(ps.URL)
	portal.waitJS("the portal's list", `document.querySelector('#nav-tenant-id') !== null && document.querySelector('#webhook-rows') !== null`)
	for _, sel := range []string{`#nav a[data-nav="api-keys"]`, `#nav a[data-nav="members"]`, `#nav-user`} {
		if visibleJS(portal, sel) {
			t.Errorf("a portal session shows %s", sel)
		}
	}
	portal.do("open the keys page", chromedp.Evaluate[chromedp.Void](`location.hash = '#/api-keys'`))
	portal.waitJS("the page refused", `document.querySelector('#not-for-portal') !== null && document.querySelector('#api-key-form') === null`)
	both(t, portal, shots, "13-portal-no-keys")

	for _, tb := range []*tab{a, other, portal} {
		if probs := tb.problems(); len(probs) > 0 {
			t.Errorf("%s: the page reported problems:\n%s", tb.name, strings.Join(probs, "\n"))
		}
	}
	shots.check()
}
