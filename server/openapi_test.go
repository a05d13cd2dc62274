package server_test

// The OpenAPI document and the router, kept in step: every route server.go
// registers is documented, every documented operation is served, and each
// one asks for a credential exactly when the document says it does.

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/console"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/inbox"
	"github.com/webhookd/webhookd/metrics"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// openAPIOperation is one documented operation.
type openAPIOperation struct {
	Method, Path string   // "GET", "/api/v1/webhooks/{id}"
	Public       bool     // security: [] (no credential needed)
	PathParams   []string // the names declared with "in": "path", sorted
}

func (o openAPIOperation) String() string { return o.Method + " " + o.Path }

// openAPIOperations reads every operation of the document, sorted.
func openAPIOperations(t testing.TB, doc []byte) []openAPIOperation {
	t.Helper()
	var d struct {
		Security []any `json:"security"`
		Paths    map[string]map[string]struct {
			Security   *[]any `json:"security"`
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if len(d.Security) == 0 {
		t.Fatalf("openapi.json: want a top-level security requirement (the API's default is a bearer credential)")
	}
	var ops []openAPIOperation
	for path, item := range d.Paths {
		for method, op := range item {
			o := openAPIOperation{Method: strings.ToUpper(method), Path: path, Public: op.Security != nil && len(*op.Security) == 0}
			for _, p := range op.Parameters {
				if p.In == "path" {
					o.PathParams = append(o.PathParams, p.Name)
				}
			}
			sort.Strings(o.PathParams)
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

// templateParams returns the {names} of an OpenAPI path template, sorted.
func templateParams(path string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
		names = append(names, m[1])
	}
	sort.Strings(names)
	return names
}

// routerParam matches an httprouter parameter (:id) or catch-all (*path).
var routerParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// registeredRoutes reads server.go's routes method and returns every
// "METHOD /path/{param}" it registers. A route is any call in it whose
// first two arguments are an http.Method… constant and a path literal,
// which covers the public and private helpers and r.Handler alike.
func registeredRoutes(t testing.TB) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "server.go", nil, 0)
	if err != nil {
		t.Fatalf("parse server.go: %v", err)
	}
	var routes []string
	found := false
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "routes" || fn.Recv == nil {
			continue
		}
		found = true
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			sel, ok := call.Args[0].(*ast.SelectorExpr)
			if !ok || !strings.HasPrefix(sel.Sel.Name, "Method") {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "http" {
				return true
			}
			lit, ok := call.Args[1].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("server.go:%d: a route whose path is not a string literal; keep paths literal so this test can check them",
					fset.Position(call.Pos()).Line)
				return true
			}
			path, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("server.go:%d: %v", fset.Position(lit.Pos()).Line, err)
			}
			method := strings.ToUpper(strings.TrimPrefix(sel.Sel.Name, "Method"))
			routes = append(routes, method+" "+routerParam.ReplaceAllString(path, "{$1}"))
			return true
		})
	}
	if !found {
		t.Fatal("server.go has no routes method; this test reads the route list from it")
	}
	// The parser must see the routes every webhookd has, or it is reading
	// nothing at all.
	for _, want := range []string{"POST /api/v1/auth/login", "GET /api/v1/webhooks/{id}"} {
		if !slices.Contains(routes, want) {
			t.Fatalf("read %d routes from server.go without %s: %v", len(routes), want, routes)
		}
	}
	sort.Strings(routes)
	return routes
}

// openAPITestServer serves the API over st with every optional route
// switched on (metrics included), as webhookd serve does.
func openAPITestServer(t testing.TB, st *store.Store) *httptest.Server {
	t.Helper()
	cat, err := catalog.New()
	if err != nil {
		t.Fatalf("catalog.New: %v", err)
	}
	tokens, err := auth.NewTokens([]byte("openapi-test-jwt-secret-0123456789"), time.Hour)
	if err != nil {
		t.Fatalf("auth.NewTokens: %v", err)
	}
	sender := delivery.NewSender(delivery.SenderConfig{Version: "test", Timeout: 5 * time.Second})
	t.Cleanup(sender.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	api, err := server.New(server.Config{
		Store: st, Catalog: cat, Tokens: tokens, Sender: delivery.TestSender{Sender: sender, Store: st},
		Logger: logger, Version: "test", Metrics: metrics.New(st, logger).Handler(),
		Inbox: inbox.New(inbox.Config{Lookup: st.DeliveryWebhook}), Console: console.Handler(nil),
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	srv.Client().Timeout = time.Minute
	return srv
}

// probe sends method path without a credential or body and returns the
// status and, for a JSON error, its message.
func probe(t testing.TB, srv *httptest.Server, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e) // not every answer is a JSON error
	return resp.StatusCode, e.Message
}

// isRouterMiss reports whether an answer is the router's own: no route for
// the path, or none for the method.
func isRouterMiss(status int, message string) bool {
	return status == http.StatusNotFound && strings.HasPrefix(message, "no route for ") ||
		status == http.StatusMethodNotAllowed
}

// TestOpenAPIMatchesRouter fails when a route is served but undocumented,
// documented but not served, or documented with the wrong credential
// requirement, and when the document served differs from the file.
func TestOpenAPIMatchesRouter(t *testing.T) {
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatalf("read openapi.json: %v", err)
	}
	if !bytes.Equal(server.OpenAPI(), file) {
		t.Fatal("server.OpenAPI() differs from openapi.json; rebuild")
	}
	ops := openAPIOperations(t, file)
	var documented []string
	for _, o := range ops {
		documented = append(documented, o.String())
		if got, want := o.PathParams, templateParams(o.Path); !slices.Equal(got, want) {
			t.Errorf("%s declares path parameters %v, want %v", o, got, want)
		}
	}
	routes := registeredRoutes(t)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("server.go serves %s, which server/openapi.json does not document", r)
		}
	}
	// Paths httprouter cannot hold beside a parameter, served by that
	// parameter's route.
	servedBy := map[string]string{
		"GET /api/v1/webhooks/{id}/logs/stream": "GET /api/v1/webhooks/{id}/logs/{logId}",
	}
	for _, d := range documented {
		if r, ok := servedBy[d]; ok {
			d = r
		}
		if !slices.Contains(routes, d) {
			t.Errorf("server/openapi.json documents %s, which server.go does not register", d)
		}
	}

	storetest.Each(t, func(t *testing.T, st *store.Store) {
		srv := openAPITestServer(t, st)
		// The router's own answers, so that a miss below is recognised.
		if status, msg := probe(t, srv, http.MethodGet, "/api/v1/no-such-route"); !isRouterMiss(status, msg) {
			t.Fatalf("GET /api/v1/no-such-route = %d %q, want the router's 404 \"no route for …\"", status, msg)
		}
		if status, msg := probe(t, srv, http.MethodPatch, "/api/v1/events"); !isRouterMiss(status, msg) {
			t.Fatalf("PATCH /api/v1/events = %d %q, want the router's 405", status, msg)
		}
		id := store.NewID()
		for _, o := range ops {
			path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(o.Path, id)
			status, msg := probe(t, srv, o.Method, path)
			switch {
			case isRouterMiss(status, msg):
				t.Errorf("%s: %d %q: documented but not served", o, status, msg)
			case o.Public && status == http.StatusUnauthorized:
				t.Errorf("%s: 401 without a credential, but the document says none is needed (security: [])", o)
			case !o.Public && status != http.StatusUnauthorized:
				t.Errorf("%s: %d without a credential, want 401 as the document's default security says", o, status)
			}
		}
		resp, err := srv.Client().Get(srv.URL + "/api/v1/openapi.json")
		if err != nil {
			t.Fatalf("GET /api/v1/openapi.json: %v", err)
		}
		defer resp.Body.Close()
		served, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET /api/v1/openapi.json: read: %v", err)
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(served, file) {
			t.Errorf("GET /api/v1/openapi.json = %d with %d bytes, want 200 with openapi.json's %d bytes", resp.StatusCode, len(served), len(file))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET /api/v1/openapi.json Content-Type = %q, want application/json", ct)
		}
	})
}

// The console reads the inbox name rule from openapi.json rather than
// copying it, so every inbox name parameter there must give the pattern
// and the words the inbox package enforces.
func TestOpenAPIInboxNameIsTheInboxRule(t *testing.T) {
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name, In, Description string
				Schema                struct{ Pattern string }
			}
		}
	}
	if err := json.Unmarshal(file, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	_, rule, _ := strings.Cut(inbox.NameRule, " is ")
	seen := 0
	for path, item := range d.Paths {
		if !strings.Contains(path, "/inbox") || !strings.Contains(path, "{name}") {
			continue
		}
		for method, op := range item {
			for _, p := range op.Parameters {
				if p.Name != "name" || p.In != "path" {
					continue
				}
				seen++
				if p.Schema.Pattern != inbox.NamePattern {
					t.Errorf("%s %s: name pattern %q, want inbox.NamePattern %q", method, path, p.Schema.Pattern, inbox.NamePattern)
				}
				if want := "The inbox's name: " + rule + "."; p.Description != want {
					t.Errorf("%s %s: name description %q, want %q", method, path, p.Description, want)
				}
			}
		}
	}
	// The console reads GET /api/v1/inboxes/{name}'s; the capture routes
	// and the stream give the same.
	if op, ok := d.Paths["/api/v1/inboxes/{name}"]["get"]; !ok || len(op.Parameters) == 0 {
		t.Error("openapi.json: GET /api/v1/inboxes/{name} has no name parameter for the console to read")
	}
	if seen == 0 {
		t.Error("openapi.json: no inbox name parameter")
	}
}
