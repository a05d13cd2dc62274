package console

import (
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string, header ...string) *http.Response {
	t.Helper()
	return getFrom(t, Handler(nil), method, path, header...)
}

func getFrom(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkSecurityHeaders checks the headers every answer carries.
func checkSecurityHeaders(t *testing.T, path string, r *http.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
		}
	}
}

func TestServesIndexAndAssets(t *testing.T) {
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", "<title>webhookd console</title>"},
		{"/console/app.js", "text/javascript; charset=utf-8", "'use strict';"},
		{"/console/app.css", "text/css; charset=utf-8", ":root"},
	} {
		r := get(t, http.MethodGet, tc.path)
		b := body(t, r)
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", tc.path, r.StatusCode)
		}
		if got := r.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if !strings.Contains(b, tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		if r.Header.Get("Cache-Control") != "no-cache" || r.Header.Get("ETag") == "" {
			t.Errorf("GET %s: Cache-Control %q, ETag %q; want no-cache and an ETag", tc.path, r.Header.Get("Cache-Control"), r.Header.Get("ETag"))
		}
		checkSecurityHeaders(t, tc.path, r)

		// A revalidation with the ETag costs no body.
		again := get(t, http.MethodGet, tc.path, "If-None-Match", r.Header.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: status %d, want 304", tc.path, again.StatusCode)
		}
		head := get(t, http.MethodHead, tc.path)
		if head.StatusCode != http.StatusOK || body(t, head) != "" {
			t.Errorf("HEAD %s: status %d, want 200 with no body", tc.path, head.StatusCode)
		}
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	for _, path := range []string{"/index.html", "/console/", "/console/index.html", "/console/app.js.map", "/app.js", "/console/../console.go", "/static/app.js", "/x"} {
		r := get(t, http.MethodGet, path)
		b := body(t, r)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, r.StatusCode)
		}
		if !strings.Contains(b, `"statusCode":404`) {
			t.Errorf("GET %s: body %q, want the API's error shape", path, b)
		}
		checkSecurityHeaders(t, path, r)
	}
}

func TestOtherMethodsRefused(t *testing.T) {
	r := get(t, http.MethodPost, "/")
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d, Allow %q; want 405 with Allow: GET, HEAD", r.StatusCode, r.Header.Get("Allow"))
	}
}

// The page must work under its own Content-Security-Policy: no inline
// script, no inline style, and assets by the paths the handler serves.
func TestIndexHasNoInlineScriptOrStyle(t *testing.T) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(html, -1) {
		if strings.TrimSpace(m[2]) != "" {
			t.Errorf("index.html has an inline script body: %q", m[0])
		}
		if !strings.Contains(m[1], `src="`+ScriptPath+`"`) {
			t.Errorf("index.html loads a script other than %s: %q", ScriptPath, m[0])
		}
		if !strings.Contains(m[1], `type="module"`) {
			t.Errorf("index.html loads its script other than as a module: %q", m[0])
		}
	}
	if regexp.MustCompile(`(?i)\sstyle\s*=`).MatchString(html) {
		t.Error("index.html has a style= attribute, which the CSP blocks")
	}
	if regexp.MustCompile(`(?i)<style\b`).MatchString(html) {
		t.Error("index.html has a <style> element, which the CSP blocks")
	}
	if regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(html) {
		t.Error("index.html has an inline event handler, which the CSP blocks")
	}
	for _, want := range []string{`src="` + ScriptPath + `"`, `href="` + StylePath + `"`} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	if strings.Contains(html, "//") && regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(html) {
		t.Error("index.html loads something from another origin (no CDN)")
	}
}

// scripts returns every script module in static/, by its name there.
func scripts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".js") {
			return err
		}
		b, err := static.ReadFile(name)
		out[strings.TrimPrefix(name, "static/")] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The script builds the DOM from text only; a regression to HTML strings
// would render users' data as markup. Every module is scanned, and every
// script the handler serves is one of them.
func TestScriptNeverParsesHTML(t *testing.T) {
	modules := scripts(t)
	if _, ok := modules["app.js"]; !ok {
		t.Fatalf("app.js is not among the scanned scripts %v", slices.Sorted(maps.Keys(modules)))
	}
	for p, a := range assets {
		if strings.HasPrefix(a.contentType, "text/javascript") {
			if _, ok := modules[strings.TrimPrefix(p, "/console/")]; !ok {
				t.Errorf("%s is served as a script but not scanned", p)
			}
		}
	}
	for name, js := range modules {
		for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", `setAttribute("style"`, "localStorage", "sessionStorage", "document.cookie"} {
			if strings.Contains(js, banned) {
				t.Errorf("%s uses %s", name, banned)
			}
		}
	}
}

// Every module is served as JavaScript (a module with another type is
// refused under nosniff) with the security headers, and every import
// names another module the handler serves: relative, on this origin.
func TestServesEveryModule(t *testing.T) {
	importRE := regexp.MustCompile(`(?m)^(?:import\s+(?:[^'";]*?\sfrom\s*)?|export\s+(?:\*|\{[^}]*\})\s*from\s*)['"]([^'"]+)['"]`)
	for name, js := range scripts(t) {
		p := "/console/" + name
		r := get(t, http.MethodGet, p)
		if got := body(t, r); r.StatusCode != http.StatusOK || got != js {
			t.Errorf("GET %s: status %d, want 200 with the file", p, r.StatusCode)
		}
		if got := r.Header.Get("Content-Type"); got != "text/javascript; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q, want text/javascript; charset=utf-8", p, got)
		}
		checkSecurityHeaders(t, p, r)
		if strings.Contains(js, "import(") {
			t.Errorf("%s imports at run time, which this test cannot follow", name)
		}
		for _, m := range importRE.FindAllStringSubmatch(js, -1) {
			spec := m[1]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				t.Errorf("%s imports %q, which is not a module beside it", name, spec)
				continue
			}
			target := path.Join(path.Dir(p), spec)
			if a, ok := assets[target]; !ok || !strings.HasPrefix(a.contentType, "text/javascript") {
				t.Errorf("%s imports %q, which resolves to %s: not a served module", name, spec, target)
			}
		}
	}
}

// With frame ancestors, every answer's CSP names exactly those origins in
// frame-ancestors and keeps the rest of the policy, and X-Frame-Options
// is gone (its DENY would refuse the allowed origins as well); without
// them, frame-ancestors is 'none' and X-Frame-Options DENY.
func TestFrameAncestors(t *testing.T) {
	origins := []string{"https://crm.example.com", "http://127.0.0.1:8080"}
	framed := Handler(origins)
	wantPolicy := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; frame-ancestors https://crm.example.com http://127.0.0.1:8080; base-uri 'none'; form-action 'self'"
	if got := Policy(origins); got != wantPolicy {
		t.Fatalf("Policy(%q) = %q, want %q", origins, got, wantPolicy)
	}
	for _, p := range []string{"/", ScriptPath, StylePath, "/console/session.js", "/nothing-here"} {
		r := getFrom(t, framed, http.MethodGet, p)
		if got := r.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != wantPolicy {
			t.Errorf("GET %s with frame ancestors: Content-Security-Policy %q, want [%q]", p, got, wantPolicy)
		}
		if got, ok := r.Header["X-Frame-Options"]; ok {
			t.Errorf("GET %s with frame ancestors: X-Frame-Options %q, want none", p, got)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := r.Header.Get(k); got != v {
				t.Errorf("GET %s with frame ancestors: %s = %q, want %q", p, k, got, v)
			}
		}
	}
	for _, none := range [][]string{nil, {}} {
		if got := Policy(none); got != ContentSecurityPolicy || !strings.Contains(got, "frame-ancestors 'none'") {
			t.Errorf("Policy(%q) = %q, want ContentSecurityPolicy with frame-ancestors 'none'", none, got)
		}
		r := getFrom(t, Handler(none), http.MethodGet, "/")
		checkSecurityHeaders(t, "/ without frame ancestors", r)
	}
}
