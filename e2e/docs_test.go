package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store/storetest"
)

// fence is one fenced code block of a Markdown file.
type fence struct {
	lang, text string
	line       int
}

// fences returns the fenced code blocks of a Markdown file in order.
func fences(t testing.TB, path string) []fence {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var out []fence
	var cur *fence
	for i, l := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &fence{lang: strings.TrimPrefix(l, "```"), line: i + 1}
		case cur != nil && l == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unclosed code block", path, cur.line)
	}
	return out
}

// openAPI is the repository's OpenAPI document, parsed.
type openAPI map[string]any

func loadOpenAPI(t testing.TB) openAPI {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "server", "openapi.json"))
	if err != nil {
		t.Fatalf("read openapi.json: %v", err)
	}
	var doc openAPI
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// operations lists every "METHOD /path/{param}" the document describes.
func (o openAPI) operations() []string {
	var ops []string
	for path, item := range o["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// match finds the documented operation for a concrete method and path.
// A literal segment beats a parameter, as the router's own ordering does:
// .../logs/stream is not the log whose id is "stream".
func (o openAPI) match(method, path string) (string, map[string]any) {
	best, bestParams := "", -1
	var bestOp map[string]any
	for tpl, item := range o["paths"].(map[string]any) {
		re := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tpl), `[^/]+`) + "$"
		if !regexp.MustCompile(re).MatchString(path) {
			continue
		}
		op, ok := item.(map[string]any)[strings.ToLower(method)].(map[string]any)
		if n := strings.Count(tpl, "{"); ok && (bestParams < 0 || n < bestParams) {
			best, bestParams, bestOp = method+" "+tpl, n, op
		}
	}
	return best, bestOp
}

// resolve follows a local $ref.
func (o openAPI) resolve(v map[string]any) map[string]any {
	for {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		var cur any = map[string]any(o)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		v = cur.(map[string]any)
	}
}

// responseSchema is the JSON schema of an operation's answer with status,
// nil when it has no JSON body, and false when the status is undocumented.
func (o openAPI) responseSchema(op map[string]any, status string) (map[string]any, bool) {
	r, ok := op["responses"].(map[string]any)[status].(map[string]any)
	if !ok {
		return nil, false
	}
	r = o.resolve(r)
	content, _ := r["content"].(map[string]any)
	js, _ := content["application/json"].(map[string]any)
	if js == nil {
		return nil, true
	}
	return js["schema"].(map[string]any), true
}

// validate checks v against the subset of JSON Schema the document uses
// ($ref, type, properties, required, additionalProperties, items, enum,
// const) and returns every mismatch.
func (o openAPI) validate(schema map[string]any, v any, at string) []string {
	schema = o.resolve(schema)
	var errs []string
	if types, ok := schema["type"]; ok {
		var want []string
		switch ts := types.(type) {
		case string:
			want = []string{ts}
		case []any:
			for _, t := range ts {
				want = append(want, t.(string))
			}
		}
		if !slices.Contains(want, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(want, "number")) {
			return append(errs, fmt.Sprintf("%s: %s, want %v", at, jsonType(v), want))
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v not in %v", at, v, enum))
	}
	if c, ok := schema["const"]; ok && !reflect.DeepEqual(c, v) {
		errs = append(errs, fmt.Sprintf("%s: %v, want %v", at, v, c))
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := v[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required field %q missing", at, r))
			}
		}
		for k, fv := range v {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, o.validate(ps, fv, at+"."+k)...)
			} else if ap, ok := schema["additionalProperties"]; ok {
				if ap == false {
					errs = append(errs, fmt.Sprintf("%s: field %q is not documented", at, k))
				} else if aps, ok := ap.(map[string]any); ok {
					errs = append(errs, o.validate(aps, fv, at+"."+k)...)
				}
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, iv := range v {
				errs = append(errs, o.validate(items, iv, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

func asStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		out = append(out, s.(string))
	}
	return out
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

var (
	wantStatusRE = regexp.MustCompile(`(?m)^# → (\d{3})\b`)
	curlOutRE    = regexp.MustCompile(`^(\d{3}) ([A-Z]+) (\S+)$`)
)

// TestDocumentationExamples runs every curl example of
// WEBHOOKS-DOCUMENTATION.md that shows its status ("# → 201 Created")
// against the built binary, in the order written, with the placeholders
// filled in from earlier answers. Each answer must have that status and
// match server/openapi.json, and so must the JSON example shown right after
// the command. Every documented operation must have a passing example.
//
// It runs on SQLite and, when WEBHOOKD_TEST_POSTGRES_URL is set, on
// PostgreSQL. What the examples need first is done as the document shows
// it: serve is started with the flags of its "webhookd serve
// --trusted-jwt-secret" command, the CRM's tokens (YOUR_CRM_TOKEN…) are
// signed with that secret and the claims shown after it, and the service
// key (YOUR_SERVICE_KEY) is made by its "webhookd apikey create --service"
// command.
func TestDocumentationExamples(t *testing.T) {
	need(t, "bash", "curl")
	doc := loadOpenAPI(t)
	path := filepath.Join(moduleRoot(t), "WEBHOOKS-DOCUMENTATION.md")
	blocks := fences(t, path)
	t.Run("sqlite", func(t *testing.T) {
		runDocumentationExamples(t, doc, blocks, filepath.Join(t.TempDir(), "webhookd.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		runDocumentationExamples(t, doc, blocks, storetest.PostgresURL(t))
	})
}

// documentedCommand returns the words of the first command in a bash
// block that starts with prefix (a webhookd command the document shows;
// a line ending in a backslash goes on), with shell quotes taken off, so
// that the test runs what the reader would, and the block's index.
func documentedCommand(t testing.TB, blocks []fence, prefix string) ([]string, int) {
	t.Helper()
	for i, b := range blocks {
		if b.lang != "bash" {
			continue
		}
		text := strings.ReplaceAll(b.text, "\\\n", " ")
		for _, line := range strings.Split(text, "\n") {
			line, _, _ = strings.Cut(line, " #")
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			var words []string
			for _, m := range regexp.MustCompile(`'([^']*)'|"([^"]*)"|(\S+)`).FindAllStringSubmatch(line, -1) {
				words = append(words, m[1]+m[2]+m[3])
			}
			return words, i
		}
	}
	t.Fatalf("WEBHOOKS-DOCUMENTATION.md shows no command starting %q", prefix)
	return nil, 0
}

// flagValue is the value of --name in a command's words ("" when absent).
func flagValue(words []string, name string) string {
	for i, w := range words {
		if v, ok := strings.CutPrefix(w, name+"="); ok {
			return v
		}
		if w == name && i+1 < len(words) {
			return words[i+1]
		}
	}
	return ""
}

// crmTokens signs, as the CRM would, the claims the document shows in the
// first JSON block after its "webhookd serve --trusted-jwt-secret" command,
// with the secret that command gives: YOUR_CRM_TOKEN valid for an hour,
// YOUR_CRM_TOKEN_WITHOUT_TENANT without the tenant claim and
// YOUR_EXPIRED_CRM_TOKEN an hour past its exp.
func crmTokens(t testing.TB, blocks []fence, serve []string, at int) map[string]string {
	t.Helper()
	secret := flagValue(serve, "--trusted-jwt-secret")
	tenantClaim := flagValue(serve, "--trusted-tenant-claim")
	if tenantClaim == "" {
		tenantClaim = "tenant"
	}
	var claims map[string]any
	for _, b := range blocks[at+1:] {
		if b.lang == "json" {
			if err := json.Unmarshal([]byte(b.text), &claims); err != nil {
				t.Fatalf("WEBHOOKS-DOCUMENTATION.md:%d: the CRM token's claims: %v", b.line, err)
			}
			break
		}
	}
	if _, ok := claims[tenantClaim]; !ok {
		t.Fatalf("the CRM token's claims after the trusted serve command %v have no %q claim", claims, tenantClaim)
	}
	sign := func(edit func(c jwt.MapClaims)) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		c["exp"] = time.Now().Add(time.Hour).Unix()
		edit(c)
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
		if err != nil {
			t.Fatalf("sign the CRM token: %v", err)
		}
		return s
	}
	return map[string]string{
		"YOUR_CRM_TOKEN":                sign(func(jwt.MapClaims) {}),
		"YOUR_CRM_TOKEN_WITHOUT_TENANT": sign(func(c jwt.MapClaims) { delete(c, tenantClaim) }),
		"YOUR_EXPIRED_CRM_TOKEN":        sign(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }),
	}
}

// runDocumentationExamples is TestDocumentationExamples on the database db.
func runDocumentationExamples(t *testing.T, doc openAPI, blocks []fence, db string) {
	// serve as the document starts it to trust the CRM's tokens.
	serve, at := documentedCommand(t, blocks, "webhookd serve --trusted-jwt-secret ")
	wd := startWebhookdOn(t, db, serve[2:]...)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("OK")) }))
	t.Cleanup(recv.Close)

	// The CRM's service key, made as the document shows, beside the
	// running serve.
	keyCmd, _ := documentedCommand(t, blocks, "webhookd apikey create --service ")
	serviceKey := strings.TrimSpace(mustWebhookd(t, nil, "", append(keyCmd[1:], "--db", db)...).stdout)
	if !strings.HasPrefix(serviceKey, "whk_") {
		t.Fatalf("%s printed %q, want a key", strings.Join(keyCmd, " "), serviceKey)
	}

	vars := map[string]string{
		"http://localhost:3000":               wd.base,
		"https://webhook.site/your-unique-id": recv.URL + "/webhook",
		"you@example.com":                     exampleEmail,
		"your-password":                       examplePassword,
		"YOUR_SERVICE_KEY":                    serviceKey,
	}
	maps.Copy(vars, crmTokens(t, blocks, serve, at))
	dir := t.TempDir()
	bodyFile, headerFile := filepath.Join(dir, "body"), filepath.Join(dir, "headers")
	const prelude = `set -euo pipefail
curl() { command curl -sS -o "$DOC_BODY" -D "$DOC_HEADERS" -w '%{http_code} %{method} %{url_effective}\n' "$@"; }
`
	covered := map[string]bool{}
	ran := 0
	for i, b := range blocks {
		m := wantStatusRE.FindStringSubmatch(b.text)
		if b.lang != "bash" || m == nil || !strings.Contains(b.text, "curl ") {
			continue
		}
		ran++
		want := m[1]
		where := fmt.Sprintf("WEBHOOKS-DOCUMENTATION.md:%d", b.line)
		script := b.text
		// Longest first, so that no placeholder is cut by a shorter one.
		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
		for _, k := range keys {
			script = strings.ReplaceAll(script, k, vars[k])
		}
		if left := regexp.MustCompile(`\b(YOUR_[A-Z_]+|[A-Z]+_ID)\b`).FindString(script); left != "" {
			t.Fatalf("%s: placeholder %s has no value yet (is the example that makes it above this one?)", where, left)
		}
		cmd := exec.Command("bash", "-c", prelude+script)
		cmd.Env = append(cleanEnv(), "DOC_BODY="+bodyFile, "DOC_HEADERS="+headerFile)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", where, err, script)
		}
		cm := curlOutRE.FindStringSubmatch(strings.TrimSpace(string(out)))
		if cm == nil {
			t.Fatalf("%s: curl printed %q; want one request per example", where, out)
		}
		status, method, url := cm[1], cm[2], cm[3]
		body, _ := os.ReadFile(bodyFile)
		reqPath := strings.SplitN(strings.TrimPrefix(url, wd.base), "?", 2)[0]
		op, spec := doc.match(method, reqPath)
		if spec == nil {
			t.Errorf("%s: %s %s is not in server/openapi.json", where, method, reqPath)
			continue
		}
		if status != want {
			t.Errorf("%s: %s answered %s %s, want %s", where, op, status, body, want)
			continue
		}
		if status[0] == '2' {
			covered[op] = true
		}
		schema, ok := doc.responseSchema(spec, status)
		if !ok {
			t.Errorf("%s: %s status %s is not documented in server/openapi.json", where, op, status)
			continue
		}
		check := func(what string, raw []byte) any {
			if schema == nil {
				return nil
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Errorf("%s: %s of %s is not JSON: %v\n%s", where, what, op, err, raw)
				return nil
			}
			for _, e := range doc.validate(schema, v, "body") {
				t.Errorf("%s: %s of %s %s: %s", where, what, op, status, e)
			}
			return v
		}
		answer := check("answer", body)
		if i+1 < len(blocks) && blocks[i+1].lang == "json" && !wantStatusRE.MatchString(blocks[i+1].text) {
			check(fmt.Sprintf("JSON example at line %d", blocks[i+1].line), []byte(blocks[i+1].text))
		}
		capture(vars, op, status, answer)
	}
	if ran < 20 {
		t.Errorf("ran %d examples; the parser found too few", ran)
	}
	for _, op := range doc.operations() {
		if !covered[op] {
			t.Errorf("%s has no passing curl example in WEBHOOKS-DOCUMENTATION.md", op)
		}
	}
}

// capture fills placeholders from an answer.
func capture(vars map[string]string, op, status string, answer any) {
	m, _ := answer.(map[string]any)
	str := func(k string) string { s, _ := m[k].(string); return s }
	switch op + " " + status {
	case "POST /api/v1/auth/login 200", "POST /api/v1/auth/password 200":
		// A password change ends the tokens before it and answers a new one.
		vars["YOUR_ACCESS_TOKEN"] = str("accessToken")
	case "POST /api/v1/webhooks 201":
		vars["WEBHOOK_ID"] = str("id")
	case "POST /api/v1/events 202":
		if _, ok := vars["EVENT_ID"]; !ok {
			vars["EVENT_ID"] = str("id")
		}
	case "POST /api/v1/api-keys 201":
		vars["API_KEY_ID"], vars["YOUR_API_KEY"] = str("id"), str("key")
	case "POST /api/v1/tenants/{id}/portal-sessions 201":
		if readOnly, _ := m["readOnly"].(bool); readOnly {
			vars["YOUR_READ_ONLY_PORTAL_TOKEN"] = str("token")
		} else {
			vars["YOUR_PORTAL_TOKEN"] = str("token")
		}
	case "GET /api/v1/webhooks/{id}/logs 200":
		if data, _ := m["data"].([]any); len(data) > 0 {
			vars["LOG_ID"], _ = data[0].(map[string]any)["id"].(string)
		}
	}
}

// TestDocumentationCoversTheBinary checks WEBHOOKS-DOCUMENTATION.md names
// every flag and variable serve has (and README.md's configuration table
// too), every header a delivery carries, every catalogue type, every metric,
// every route and the default retry schedule, and that its worked signature
// example is what the code computes.
func TestDocumentationCoversTheBinary(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "WEBHOOKS-DOCUMENTATION.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	help, err := exec.Command(binary(t), "serve", "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("webhookd serve -h: %v\n%s", err, help)
	}
	readme, err := os.ReadFile(filepath.Join(moduleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^  (--[a-z0-9-]+)(?:  (WEBHOOKD_[A-Z0-9_]+))?`).FindAllStringSubmatch(string(help), -1) {
		for name, text := range map[string]string{"WEBHOOKS-DOCUMENTATION.md": doc, "README.md": string(readme)} {
			if !strings.Contains(text, "| `"+m[1]+"` |") {
				t.Errorf("flag %s (webhookd serve -h) is not in the flags table of %s", m[1], name)
			}
			if m[2] != "" && !strings.Contains(text, "`"+m[2]+"`") {
				t.Errorf("variable %s of %s is not documented in %s", m[2], m[1], name)
			}
		}
	}
	for _, h := range deliveryHeaders {
		if !strings.Contains(doc, "| `"+h+"` |") {
			t.Errorf("delivery header %s is not in the headers table", h)
		}
	}
	for _, et := range catalog.Default {
		if !strings.Contains(doc, "| `"+et+"` |") {
			t.Errorf("event type %s is not in the catalogue table", et)
		}
	}
	// Every metric webhookd registers is in the metrics table; the names are
	// read from the source, since some appear only after traffic.
	src, err := os.ReadFile(filepath.Join(moduleRoot(t), "metrics", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`"(webhookd_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 6 {
		t.Errorf("found %d metric names in metrics/metrics.go, want at least 6; is the pattern stale?", len(names))
	}
	for _, m := range names {
		if !strings.Contains(doc, "| `"+m[1]+"` |") {
			t.Errorf("metric %s is not in the metrics table", m[1])
		}
	}
	for _, op := range loadOpenAPI(t).operations() {
		if !strings.Contains(doc, "`"+op+"`") {
			t.Errorf("operation %s of server/openapi.json is not in the routes table", op)
		}
	}
	if !strings.Contains(doc, "`"+delivery.DefaultSchedule+"`") {
		t.Errorf("the default retry schedule %s is not documented", delivery.DefaultSchedule)
	}
	// The Standard Webhooks specification's test vector, as the document
	// quotes it.
	sig := delivery.StandardSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if !strings.Contains(doc, "`"+sig+"`") {
		t.Errorf("worked example: the code signs %s, which the document does not show", sig)
	}
}

// TestIntegrationExampleQuotesEveryFile checks that
// WEBHOOKS-INTEGRATION-EXAMPLE.md quotes each runnable example in full, so
// that the document can never drift from the files CI runs.
func TestIntegrationExampleQuotesEveryFile(t *testing.T) {
	root := moduleRoot(t)
	var quoted []string
	for _, f := range fences(t, filepath.Join(root, "WEBHOOKS-INTEGRATION-EXAMPLE.md")) {
		quoted = append(quoted, f.text)
	}
	for _, name := range []string{"node/receiver.js", "node/express-app.js", "node/client-receiver.mjs", "python/receiver.py", "go/main.go", "shell/verify.sh"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(quoted, string(b)) {
			t.Errorf("WEBHOOKS-INTEGRATION-EXAMPLE.md does not quote examples/%s in full (copy the file into a code block)", name)
		}
	}
}

// TestOpenAPIDocument checks server/openapi.json hangs together: version
// 3.1, unique operation ids, and every $ref resolving.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if v := doc["openapi"]; v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	ids := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			id, _ := op.(map[string]any)["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s %s: operationId %q missing or used twice", method, path, id)
			}
			ids[id] = path
		}
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var cur any = map[string]any(doc)
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("%s: $ref %s does not resolve", at, ref)
				}
			}
			for k, x := range v {
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(map[string]any(doc), "#")
}
