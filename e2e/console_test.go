package e2e

// The web console end to end: the real binary, a real headless Chromium
// (Debian's chromium package, which .ci/run installs) driven with chromedp,
// and the built-in inbox as the receiver. It walks the seed's quick start
// in the browser alone and watches the deliveries arrive live.

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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/webhookd/webhookd/store/storetest"
)

// Payloads that would run script if the console ever rendered data as
// HTML. Either one sets window.__xss.
const (
	xssName   = `<img src=x onerror=window.__xss=1>`
	xssScript = `<script>window.__xss=1</script>`
)

// consoleStepTimeout bounds one browser step (a click, a wait). It is
// generous: the test asserts what happens, not how fast.
const consoleStepTimeout = 60 * time.Second

// chromiumPath finds Debian's chromium, or skips the test outside CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not installed; .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium not installed; apt-get install chromium to run the console's browser test")
	return ""
}

// TestE2EConsole signs in to the console in Chromium, creates a webhook to
// the built-in inbox (without --allow-private-targets) named with an XSS
// payload, sends a test event and sees it arrive live in both the delivery
// log and the inbox, redelivers it, publishes an event whose data holds a
// script tag, replays, pauses, edits and deletes, and checks that nothing
// was ever rendered as HTML and that the page broke no CSP rule and threw
// nothing. Screenshots of each page land in the test artifacts folder (see
// newShots).
// quickStartMessage is the quick start's message.new payload, the
// catalogue's first example of it, compact.
const quickStartMessage = `{"messageId":"msg_123","conversationId":"conv_456","contactId":"contact_789","direction":"inbound","type":"text","content":"Hello!","timestamp":"2024-01-01T12:00:00.000Z"}`

func TestE2EConsole(t *testing.T) {
	t.Parallel()
	binary(t) // -short skips this test before it looks for Chromium
	chromium := chromiumPath(t)
	storetest.EachTarget(t, func(t *testing.T, db string) {
		runConsoleWalkthrough(t, chromium, db)
	})
}

func runConsoleWalkthrough(t *testing.T, chromium, db string) {
	// No --allow-private-targets: the inbox on webhookd's own port is
	// allowed without it.
	env := slices.Concat(adminEnv, []string{"WEBHOOKD_ALLOW_PRIVATE_TARGETS=false"})
	p := startServe(t, db, env, deliveryArgs...)
	inboxURL := p.URL + "/inbox/demo"
	shots := newShots(t)
	br := startChromium(t, chromium)

	// --- Tab A: sign in (a wrong password first), then the empty list.
	a := openTab(t, br, "tab A", shots)
	a.navigate(p.URL + "/")
	a.waitJS("the sign-in form", `document.querySelector('#login-email') !== null`)
	shots.take(a, "01-sign-in")
	a.signIn(adminEmail, "not the password")
	a.waitJS("the login error", `textOf('#login-form .error-box').includes('invalid email or password')`)
	a.signIn(adminEmail, adminPassword)
	a.waitJS("the empty webhook list", `textOf('#webhook-rows').includes('No webhooks yet')`)
	shots.take(a, "02-webhooks-empty")

	// --- The inbox, and a webhook pointing at it made from there.
	a.click(`#nav a[data-nav="inbox"]`)
	a.waitJS("the inbox page, live", `document.querySelector('#inbox-live')?.dataset.state === 'live'`)
	if got := a.text("#inbox-url"); got != inboxURL {
		t.Fatalf("inbox URL shown = %q, want %q", got, inboxURL)
	}
	a.waitJS("the empty inbox", `textOf('#inbox-list').includes('Nothing captured yet')`)
	shots.take(a, "03-inbox-empty")
	a.click("#inbox-create-webhook")
	a.waitJS("the new-webhook form", `document.querySelector('#webhook-form') !== null`)
	if got := evalJS[string](a, `document.querySelector('#wh-url').value`); got != inboxURL {
		t.Fatalf("new webhook URL prefilled with %q, want %q", got, inboxURL)
	}
	a.typeInto("#wh-name", xssName)
	a.click(`input[name="events"][value="message.new"]`)
	a.click(`input[name="events"][value="conversation.created"]`)
	shots.take(a, "04-webhook-new")
	a.click("#wh-save")
	a.waitJS("the webhook's page", `document.querySelector('#wh-title') !== null`)
	if got := a.text("#wh-title"); got != xssName {
		t.Fatalf("webhook title = %q, want the name as text %q", got, xssName)
	}
	a.waitJS("the live log, empty", `document.querySelector('#log-live')?.dataset.state === 'live' && textOf('#log-body').includes('No deliveries yet')`)

	// The secret is hidden until asked for, and then is the one the API has.
	if got := a.text("#wh-secret"); got != "whsec_••••••••••••" {
		t.Errorf("secret before asking = %q, want it masked", got)
	}
	a.click("#secret-show")
	a.waitJS("the secret", `/^whsec_[A-Za-z0-9+\/=]{40,}$/.test(textOf('#wh-secret'))`)

	// --- Tab B: the inbox, watched live while tab A sends.
	b := openTab(t, br, "tab B", shots)
	b.navigate(p.URL + "/#/inbox/demo")
	b.signIn(adminEmail, adminPassword)
	b.waitJS("the inbox, live", `document.querySelector('#inbox-live')?.dataset.state === 'live'`)

	// --- Send a test event from the form: live in the log and the inbox.
	// The catalogue describes the chosen type and offers its example,
	// the quick start's payload, as the payload; a payload its schema
	// refuses is named by pointer, and the example comes back on request.
	a.setSelect("#test-event-type", "message.new")
	a.waitJS("the type's description and schema", `textOf('#test-type-description').includes('A message arrived') && document.querySelector('#test-type-schema') !== null`)
	if got := evalJS[string](a, `JSON.stringify(JSON.parse(document.querySelector('#test-payload').value))`); got != quickStartMessage {
		t.Errorf("test payload offered = %s, want the catalogue's example %s", got, quickStartMessage)
	}
	a.setValue("#test-payload", `{"messageId": 5}`)
	a.click("#test-send")
	a.waitJS("the schema violation, named", `textOf('#test-form .form-error').includes('payload/messageId') && textOf('#test-form .field-error').includes('/messageId: got number, want string')`)
	a.click("#test-use-example")
	if got := evalJS[string](a, `JSON.stringify(JSON.parse(document.querySelector('#test-payload').value))`); got != quickStartMessage {
		t.Errorf("test payload after Use the example = %s, want %s", got, quickStartMessage)
	}
	a.click("#test-send")
	a.waitJS("the test result", `textOf('#test-result').includes('HTTP 200')`)
	a.waitJS("the test attempt, live in the log", `document.querySelectorAll('#log-body tr.log-row[data-source="stream"][data-event-type="message.new"][data-test="true"]').length === 1`)
	testDelivery := evalJS[string](a, `document.querySelector('#log-body tr.log-row[data-test="true"]').dataset.deliveryId`)
	b.waitJS("the test delivery, live in the inbox, verified", `document.querySelectorAll('#inbox-list .capture[data-source="stream"][data-signature="verified"]').length === 1`)
	if got := b.text("#inbox-list .capture .delivery-id"); got != testDelivery {
		t.Errorf("the inbox shows delivery %q, want the log's %q", got, testDelivery)
	}

	// --- Redeliver it: a second attempt of the same delivery arrives live
	// in both.
	ofTest := `[data-delivery-id="` + testDelivery + `"]`
	notTest := `:not(` + ofTest + `)`
	a.click(`#log-body tr.log-row` + ofTest + ` .redeliver`)
	a.waitJS("the redelivered attempt, live", `document.querySelector('#log-body tr.log-row[data-source="stream"][data-attempt="2"]`+ofTest+`') !== null`)
	b.waitJS("the redelivery, live in the inbox", `document.querySelectorAll('#inbox-list .capture[data-source="stream"][data-signature="verified"]').length === 2`)
	a.waitJS("the stats: two attempts and a chart", `textOf('#stat-total .stat-value') === '2' && document.querySelectorAll('#stats-svg circle.point-rate').length >= 1`)
	shots.take(a, "05-webhook-detail")

	// Expanding an entry shows what was sent and what came back.
	a.click(`#log-body tr.log-row[data-attempt="1"] .log-toggle`)
	a.waitJS("the attempt's request and response", `(() => {
		const d = document.querySelector('#log-body tr.log-detail:not([hidden])');
		return d && d.textContent.includes('X-Webhook-Signature') && textOf('#log-body tr.log-detail:not([hidden]) pre.request-body').includes('msg_123') && d.textContent.includes('HTTP 200');
	})()`)
	shots.take(a, "06-log-expanded")

	// --- Publish an event whose data holds HTML, from the console.
	a.click(`#nav a[data-nav="publish"]`)
	a.waitJS("the publish form", `document.querySelector('#publish-form') !== null`)
	a.setSelect("#publish-event", "message.new")
	a.waitJS("the publish form's type description", `textOf('#publish-type-description').includes('A message arrived')`)
	// Literally, not as \u003c escapes: the receiver gets these bytes.
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]string{"content": xssScript, "name": xssName}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(data.String(), xssScript) {
		t.Fatalf("published data %s lacks %s", data.String(), xssScript)
	}
	a.setValue("#publish-data", strings.TrimSpace(data.String()))
	a.click("#publish-submit")
	a.waitJS("the accepted event", `textOf('#publish-deliveries') === '1 webhook'`)
	shots.take(a, "07-publish")

	// In the inbox, live, its body is text.
	b.waitJS("the published event, live in the inbox", `document.querySelectorAll('#inbox-list .capture[data-source="stream"]').length === 3`)
	b.click(`#inbox-list .capture:first-child .capture-toggle`)
	b.waitJS("the captured body, as text", fmt.Sprintf(`textOf('#inbox-list .capture:first-child .capture-detail:not([hidden]) pre.capture-body').includes(%s)`, jsString(xssScript)))
	// The exact bytes received, too.
	b.click(`#inbox-list .capture:first-child .body-block .btn`)
	b.waitJS("the raw captured body, as text", fmt.Sprintf(`textOf('#inbox-list .capture:first-child pre.capture-body').startsWith('{"event":"message.new"') && textOf('#inbox-list .capture:first-child pre.capture-body').includes(%s)`, jsString(`"data":`+strings.TrimSpace(data.String()))))
	shots.take(b, "08-inbox-live")

	// --- The list shows the name as text; the log shows the body as text.
	a.click(`#nav a[data-nav="webhooks"]`)
	a.waitJS("the webhook list", `document.querySelector('#webhook-rows .webhook-name') !== null`)
	if got := a.text("#webhook-rows .webhook-name"); got != xssName {
		t.Errorf("webhook name in the list = %q, want %q", got, xssName)
	}
	shots.take(a, "09-webhooks")
	a.click("#webhook-rows .webhook-name")
	a.waitJS("the published event's attempt", `document.querySelector('#log-body tr.log-row`+notTest+`') !== null`)
	a.click(`#log-body tr.log-row` + notTest + ` .log-toggle`)
	a.waitJS("the published body in the log, as text", fmt.Sprintf(`textOf('#log-body tr.log-detail:not([hidden]) pre.request-body').includes(%s)`, jsString(xssScript)))
	shots.take(a, "10-log-xss-as-text")

	// --- Replay the last hour: the published event goes again, live.
	a.click("#replay-submit")
	a.waitJS("the replay result", `textOf('#replay-result').includes('1 delivery queued')`)
	a.waitJS("the replayed attempt, live", `document.querySelector('#log-body tr.log-row[data-source="stream"][data-attempt="2"]`+notTest+`') !== null`)
	b.waitJS("the replayed delivery, live in the inbox", `document.querySelectorAll('#inbox-list .capture[data-source="stream"]').length === 4`)

	// --- Filters: failed shows none, success shows them all.
	a.setSelect("#log-status", "failed")
	a.waitJS("no failed deliveries", `textOf('#log-body').includes('No deliveries match')`)
	a.setSelect("#log-status", "success")
	a.waitJS("four successful attempts", `document.querySelectorAll('#log-body tr.log-row').length === 4`)
	a.setSelect("#log-event-type", "conversation.created")
	a.waitJS("none of conversation.created", `textOf('#log-body').includes('No deliveries match')`)

	// --- Pause and resume.
	a.click("#wh-toggle")
	a.waitJS("paused", `textOf('#wh-state') === 'paused'`)
	a.click("#wh-toggle")
	a.waitJS("active again", `textOf('#wh-state') === 'active'`)

	// --- Edit: a field error from the API shows by its field, then a save.
	a.click("#wh-edit")
	a.waitJS("the edit form", `document.querySelector('#webhook-form') !== null && document.querySelector('#wh-name').value !== ''`)
	a.setValue("#wh-url", "http://127.0.0.1:9/elsewhere")
	a.click("#wh-save")
	a.waitJS("the guard's refusal next to the URL", `textOf('#webhook-form .field-error').includes('allow-private-targets')`)
	shots.take(a, "11-edit-error")

	// The payload filter: tried on message.new's example (its catalogue
	// example's data, or {} where the catalogue has none), a bad one
	// refused naming its place, and one that lets everything through saved.
	a.setSelect("#wh-filter-event", "message.new")
	a.setValue("#wh-filter", `{"event": "message.new", "data.nowhere": {"$exist": true}}`)
	a.click("#wh-filter-try")
	a.waitJS("the failed clause", `textOf('#wh-filter-result .filter-failed') === 'data.nowhere.$exist'`)
	if got := a.text("#wh-filter-result .filter-reason"); !strings.Contains(got, "missing") {
		t.Errorf("filter reason = %q, want it to say the field is missing", got)
	}
	a.setValue("#wh-filter", `{"event": "message.new"}`)
	a.click("#wh-filter-try")
	a.waitJS("a match", `document.querySelector('#wh-filter-result .filter-match') !== null`)
	a.setValue("#wh-filter", `{"data.type": {"$in": "text"}}`)
	a.click("#wh-filter-try")
	a.waitJS("the bad filter's place", `textOf('#wh-filter-result .error-box').includes('filter.data.type.$in')`)
	shots.take(a, "11b-filter-try")
	a.setValue("#wh-filter", `{}`)
	a.setValue("#wh-url", inboxURL)
	a.setValue("#wh-name", "Renamed & <b>bold</b>")
	a.click("#wh-save")
	a.waitJS("the renamed webhook", `textOf('#wh-title') === 'Renamed & <b>bold</b>'`)
	if got := a.text("#wh-filter-text"); got != "{}" {
		t.Errorf("saved filter shown as %q, want {}", got)
	}

	// --- A phone-sized screen still works.
	a.do("a narrow screen", chromedp.EmulateViewport(390, 844))
	shots.take(a, "12-narrow-screen")
	if w := evalJS[int](a, `document.documentElement.scrollWidth`); w > 400 {
		t.Errorf("on a 390px screen the page is %dpx wide: it scrolls sideways", w)
	}
	a.do("a wide screen", chromedp.EmulateViewport(1280, 900))

	// --- A restart of webhookd: both live views reconnect by themselves
	// and go on showing new deliveries, here a test send through the API.
	// (The inbox's capture ids start again at 1; the page keeps both.)
	p.stop()
	a.waitJS("the log noticing the restart", `document.querySelector('#log-live')?.dataset.state !== 'live'`)
	b.waitJS("the inbox noticing the restart", `document.querySelector('#inbox-live')?.dataset.state !== 'live'`)
	// On the same address: the pages reconnect to where they were.
	p = startProcess(t, env, append([]string{"serve", "--addr", strings.TrimPrefix(p.URL, "http://"), "--db", db}, deliveryArgs...)...)
	a.waitJS("the log, live again", `document.querySelector('#log-live')?.dataset.state === 'live'`)
	b.waitJS("the inbox, live again", `document.querySelector('#inbox-live')?.dataset.state === 'live'`)
	hookID := evalJS[string](a, `location.hash.split('/')[2]`)
	token := login(t, p.URL, adminEmail, adminPassword)
	api{t: t, base: p.URL, token: token}.json(http.MethodPost, "/api/v1/webhooks/"+hookID+"/test", `{"eventType":"message.new","payload":{"after":"restart"}}`, http.StatusOK, nil)
	a.waitJS("the attempt after the restart, live", `document.querySelectorAll('#log-body tr.log-row[data-source="stream"][data-test="true"]').length === 1`)
	b.waitJS("the capture after the restart, live", `document.querySelectorAll('#inbox-list .capture').length === 5 && document.querySelector('#inbox-list .capture:first-child').dataset.source === 'stream' && textOf('#inbox-list .capture:first-child .capture-body').includes('restart')`)

	// --- Nothing ran, nothing broke.
	for _, tb := range []*tab{a, b} {
		if got := evalJS[string](tb, `typeof window.__xss`); got != "undefined" {
			t.Errorf("%s: window.__xss is %s: a payload ran", tb.name, got)
		}
		if n := evalJS[int](tb, `document.querySelectorAll('img, b, script:not([src="/console/app.js"])').length`); n != 0 {
			t.Errorf("%s: %d elements made from data (img, b or script)", tb.name, n)
		}
	}

	// --- Delete, with the in-page confirmation.
	a.click("#wh-delete")
	a.click("#delete-yes")
	a.waitJS("the empty list after delete", `textOf('#webhook-rows').includes('No webhooks yet')`)
	shots.take(a, "13-deleted")

	// --- Sign out: the token goes with it.
	a.click("#signout")
	a.waitJS("the sign-in form again", `document.querySelector('#login-email') !== null`)

	for _, tb := range []*tab{a, b} {
		if probs := tb.problems(); len(probs) > 0 {
			t.Errorf("%s: the page reported problems:\n%s", tb.name, strings.Join(probs, "\n"))
		}
	}
	shots.check()
}

// browser is one Chromium with its tabs.
type browser struct {
	ctx context.Context

	mu    sync.Mutex
	front *tab // the tab last brought to the front
}

// startChromium starts one headless Chromium for the test, with the flags
// this machine's closed network needs.
func startChromium(t *testing.T, execPath string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", execPath, err)
	}
	return &browser{ctx: ctx}
}

// tab is one browser tab with the problems its page reported.
type tab struct {
	t       *testing.T
	name    string
	ctx     context.Context
	browser *browser
	shots   *shots

	mu   sync.Mutex
	errs []string
}

// openTab opens a new tab in the browser and records every uncaught
// exception, console error and CSP violation of its page.
func openTab(t *testing.T, br *browser, name string, sh *shots) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(br.ctx)
	t.Cleanup(cancel)
	tb := &tab{t: t, name: name, ctx: ctx, browser: br, shots: sh}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open: %v", name, err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			tb.problem("uncaught exception: " + exceptionText(ev.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" || ev.Type == "assert" {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, remoteText(a))
				}
				tb.problem("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			e := ev.Entry
			// Failed requests are the API answering 4xx on purpose (a wrong
			// password, a refused URL); the page shows those itself.
			if (e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork) ||
				strings.Contains(e.Text, "Content Security Policy") {
				tb.problem("log " + string(e.Source) + ": " + e.Text)
			}
		}
	})
	if err != nil {
		t.Fatalf("%s: listen: %v", name, err)
	}
	return tb
}

func (tb *tab) problem(s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.errs = append(tb.errs, s)
}

func (tb *tab) problems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.errs)
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d:%d)", s, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Value)
}

// front brings the tab to the front, so clicks and screenshots reach a
// visible page.
func (tb *tab) front() {
	tb.t.Helper()
	tb.browser.mu.Lock()
	defer tb.browser.mu.Unlock()
	if tb.browser.front == tb {
		return
	}
	if _, err := chromedp.Call(tb.ctx, page.BringToFront, cdp.Empty{}); err != nil {
		tb.t.Fatalf("%s: bring to front: %v", tb.name, err)
	}
	tb.browser.front = tb
}

// do runs actions in the tab, failing the test (with a screenshot of the
// moment) when one fails.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	tb.front()
	ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fail(what, err)
	}
}

func (tb *tab) fail(what string, err error) {
	tb.t.Helper()
	if tb.shots != nil {
		tb.shots.failure(tb)
	}
	body := evalQuiet(tb, `document.querySelector('#app') ? document.querySelector('#app').innerText.slice(0, 3000) : ''`)
	flash := evalQuiet(tb, `document.querySelector('#flash') ? document.querySelector('#flash').innerText : ''`)
	tb.t.Fatalf("%s: %s: %v\nflash: %s\npage text:\n%s\nproblems: %v", tb.name, what, err, flash, body, tb.problems())
}

func (tb *tab) navigate(url string) {
	tb.t.Helper()
	tb.do("navigate to "+url, chromedp.Navigate(url))
}

// The helpers the page's predicates use, installed in each page that
// needs them: textOf(sel) is the element's textContent, or "".
const jsHelpers = `window.textOf = window.textOf || ((sel) => { const n = document.querySelector(sel); return n ? n.textContent : ''; });`

// waitJS waits until the JavaScript predicate holds in the page.
func (tb *tab) waitJS(what, predicate string) {
	tb.t.Helper()
	tb.front()
	ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
	defer cancel()
	expr := `(() => { ` + jsHelpers + ` try { return !!(` + predicate + `); } catch (e) { return false; } })()`
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(consoleStepTimeout)))
	if err != nil {
		tb.fail("waiting for "+what, err)
	}
}

// click clicks the element as the page's own code would see a user's
// click. It goes through the DOM, not the mouse at screen coordinates:
// a coordinate click races any layout change between finding the element
// and pressing, and on a slow machine it then lands on whatever moved
// there instead.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.waitJS("a visible "+sel, fmt.Sprintf(`(() => { const n = document.querySelector(%s); return n !== null && n.getClientRects().length > 0 && !n.disabled; })()`, jsString(sel)))
	ok := evalJS[bool](tb, fmt.Sprintf(`(() => {
		const n = document.querySelector(%s);
		if (!n) return false;
		n.scrollIntoView({block: 'center'});
		n.click();
		return true;
	})()`, jsString(sel)))
	if !ok {
		tb.fail("click "+sel, errors.New("the element went away before the click"))
	}
}

// typeInto replaces an input's text by typing it.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.setValue(sel, "")
	tb.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// setValue sets a field's value as a paste would, firing input.
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	tb.setField(sel, value, "input")
}

// setSelect chooses an option, firing change.
func (tb *tab) setSelect(sel, value string) {
	tb.t.Helper()
	tb.setField(sel, value, "change")
}

func (tb *tab) setField(sel, value, event string) {
	tb.t.Helper()
	ok := evalJS[bool](tb, fmt.Sprintf(`(() => {
		const n = document.querySelector(%s);
		if (!n) return false;
		n.value = %s;
		n.dispatchEvent(new Event(%s, {bubbles: true}));
		return n.value === %s;
	})()`, jsString(sel), jsString(value), jsString(event), jsString(value)))
	if !ok {
		tb.fail("set "+sel, fmt.Errorf("no such field, or it refused %q", value))
	}
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return evalJS[string](tb, `(() => { const n = document.querySelector(`+jsString(sel)+`); return n ? n.textContent : '<missing>'; })()`)
}

func (tb *tab) signIn(email, password string) {
	tb.t.Helper()
	tb.waitJS("the sign-in form", `document.querySelector('#login-email') !== null`)
	tb.typeInto("#login-email", email)
	tb.typeInto("#login-password", password)
	tb.click("#login-submit")
}

// evalJS evaluates expression in the tab and decodes its value.
func evalJS[T any](tb *tab, expression string) T {
	tb.t.Helper()
	tb.front()
	ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		tb.fail("evaluate "+expression, err)
	}
	return v
}

// evalQuiet evaluates for a failure message, never failing itself.
func evalQuiet(tb *tab, expression string) string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expression))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return v
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// shots saves screenshots of the pages, in the test artifacts folder:
// $WEBHOOKD_TEST_ARTIFACTS/screenshots/<test name>/ when that is set (.ci/run
// sets it and lists the files in its log), else a folder in the test's
// temporary directory. $WEBHOOKD_TEST_SCREENSHOTS, when set, gets a copy.
type shots struct {
	t     *testing.T
	dir   string
	extra string // $WEBHOOKD_TEST_SCREENSHOTS/<test name>, or ""
	taken []string
	fails int
}

func newShots(t *testing.T) *shots {
	t.Helper()
	s := &shots{t: t, dir: filepath.Join(t.TempDir(), "screenshots")}
	if d := os.Getenv("WEBHOOKD_TEST_ARTIFACTS"); d != "" {
		s.dir = filepath.Join(d, "screenshots", strings.ReplaceAll(t.Name(), "/", "_"))
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("WEBHOOKD_TEST_SCREENSHOTS"); d != "" {
		s.extra = filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(s.extra, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// take saves a full-page PNG of the tab as name.png.
func (s *shots) take(tb *tab, name string) {
	s.t.Helper()
	tb.front()
	ctx, cancel := context.WithTimeout(tb.ctx, consoleStepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("%s: screenshot %s: %v", tb.name, name, err)
	}
	s.write(name+".png", png)
	s.taken = append(s.taken, name+".png")
}

// failure saves what the tab showed when a step failed; best effort.
func (s *shots) failure(tb *tab) {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	s.fails++
	s.write(fmt.Sprintf("failure-%d-%s.png", s.fails, strings.ReplaceAll(tb.name, " ", "-")), png)
}

func (s *shots) write(name string, png []byte) {
	s.t.Helper()
	for _, dir := range []string{s.dir, s.extra} {
		if dir == "" {
			continue
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			s.t.Fatalf("write %s: %v", path, err)
		}
	}
}

// check asserts every screenshot is a non-empty PNG on disk.
func (s *shots) check() {
	s.t.Helper()
	pngMagic := []byte("\x89PNG\r\n\x1a\n")
	for _, name := range s.taken {
		path := filepath.Join(s.dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			s.t.Errorf("screenshot %s: %v", name, err)
			continue
		}
		if len(b) < 1000 || !bytes.HasPrefix(b, pngMagic) {
			s.t.Errorf("screenshot %s: %d bytes, not a PNG of a page", name, len(b))
		}
	}
	where := s.dir
	if s.extra != "" {
		where += " and " + s.extra
	}
	s.t.Logf("%d screenshots in %s", len(s.taken), where)
}
