package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store/storetest"
)

// tcpProxy forwards connections to a PostgreSQL server and can be cut, to
// take the database away from one store without touching the server that
// everyone else's tests share.
type tcpProxy struct {
	t      *testing.T
	addr   string // where it listens, kept across cut and restore
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
	_, _ = io.Copy(c, up)
	up.Close()
	c.Close()
}

// cut stops listening and drops every connection, as a database that went
// down would: connections reset, new ones refused.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore listens again on the same address.
func (p *tcpProxy) restore() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port was just closed; retry a bind that races
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// wantDatabaseFault requires a 503 with Retry-After and a message naming
// the fault (unavailable or full).
func wantDatabaseFault(t *testing.T, what string, resp response, fault string) {
	t.Helper()
	if resp.Status != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d, want 503; body %s", what, resp.Status, resp.Body)
		return
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
	var e apiError
	if err := json.Unmarshal(resp.Body, &e); err != nil || e.StatusCode != 503 || !strings.Contains(e.Message, "database "+fault) {
		t.Errorf("%s: body %s, want the error shape with a message saying database %s", what, resp.Body, fault)
	}
}

type readyzJSON struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func readyz(t *testing.T, ts *testServer) (int, readyzJSON) {
	t.Helper()
	resp := ts.do(t, http.MethodGet, "/readyz", "", nil)
	var r readyzJSON
	_ = json.Unmarshal(resp.Body, &r)
	return resp.Status, r
}

// TestPostgresDownAnswers503 takes PostgreSQL away from a running server
// (through a proxy that is cut) and back: while it is away, publishing,
// creating a webhook and logging in answer 503 with Retry-After and
// "database unavailable", not 500, and /readyz is 503; once it is back,
// all of them work again.
func TestPostgresDownAnswers503(t *testing.T) {
	db := storetest.PostgresURL(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	st := storetest.Open(t, u.String())
	ts := newTestServer(t, st)
	_, token := ts.user(t, "pub@example.com")
	hook := map[string]any{"name": "h", "url": "https://example.com/hook", "events": []string{"*"}}
	ts.call(t, http.MethodPost, "/api/v1/webhooks", token, hook, http.StatusCreated, nil)
	event := map[string]any{"event": "message.new", "data": map[string]any{"n": 1}}
	ts.call(t, http.MethodPost, "/api/v1/events", token, event, http.StatusAccepted, nil)
	if code, r := readyz(t, ts); code != http.StatusOK {
		t.Fatalf("readyz before the cut: %d %+v", code, r)
	}

	proxy.cut()
	wantDatabaseFault(t, "publish", ts.do(t, http.MethodPost, "/api/v1/events", token, event), "unavailable")
	wantDatabaseFault(t, "create webhook", ts.do(t, http.MethodPost, "/api/v1/webhooks", token, hook), "unavailable")
	wantDatabaseFault(t, "login", ts.do(t, http.MethodPost, "/api/v1/auth/login", "",
		map[string]string{"email": "pub@example.com", "password": testPassword}), "unavailable")
	if code, r := readyz(t, ts); code != http.StatusServiceUnavailable || r.Checks["database"] == "ok" {
		t.Errorf("readyz with the database down: %d %+v, want 503 naming the database", code, r)
	}

	proxy.restore()
	deadline := time.Now().Add(30 * time.Second)
	for code, _ := readyz(t, ts); code != http.StatusOK; code, _ = readyz(t, ts) {
		if time.Now().After(deadline) {
			t.Fatalf("readyz stayed %d for 30s after the database came back", code)
		}
		time.Sleep(50 * time.Millisecond) // polling readiness
	}
	ts.call(t, http.MethodPost, "/api/v1/events", token, event, http.StatusAccepted, nil)
	ts.call(t, http.MethodPost, "/api/v1/webhooks", token, hook, http.StatusCreated, nil)
	ts.call(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "pub@example.com", "password": testPassword}, http.StatusOK, nil)
}

// tmpfsDir mounts a tmpfs of size bytes for t, or skips t where this
// process may not mount one.
func tmpfsDir(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a full disk needs a small tmpfs, and mounting one failed (not root?): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the disk is full and returns its
// path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			break
		}
	}
	for _, n := range []int{4096, 512, 1} { // the last partial pages
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// TestFullDiskAnswers503 fills the disk under a running server's SQLite
// database: publishing and creating a webhook answer 503 with Retry-After
// and "database full", not 500, and /readyz is 503 with database "full"
// although reads still work (it was 200 before the fix); once space is
// freed, writes and readiness come back.
func TestFullDiskAnswers503(t *testing.T) {
	dir := tmpfsDir(t, "4m")
	db := filepath.Join(dir, "webhookd.db")
	st := storetest.Open(t, db)
	ts := newTestServer(t, st)
	_, token := ts.user(t, "pub@example.com")
	hook := map[string]any{"name": "h", "url": "https://example.com/hook", "events": []string{"*"}}
	ts.call(t, http.MethodPost, "/api/v1/webhooks", token, hook, http.StatusCreated, nil)
	event := map[string]any{"event": "message.new", "data": map[string]any{"pad": strings.Repeat("x", 2000)}}
	ts.call(t, http.MethodPost, "/api/v1/events", token, event, http.StatusAccepted, nil)
	// Once the idle log is truncated, any write must grow it.
	deadline := time.Now().Add(30 * time.Second)
	for n, _ := st.WALBytes(); n != 0; n, _ = st.WALBytes() {
		if time.Now().After(deadline) {
			t.Fatalf("the idle WAL stayed at %d bytes", n)
		}
		time.Sleep(20 * time.Millisecond) // polling a file size
	}

	filler := fillDisk(t, dir)
	wantDatabaseFault(t, "publish", ts.do(t, http.MethodPost, "/api/v1/events", token, event), "full")
	wantDatabaseFault(t, "create webhook", ts.do(t, http.MethodPost, "/api/v1/webhooks", token, hook), "full")
	// Logging in writes nothing when it succeeds, so a full disk does not
	// stop it; reads work.
	ts.call(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "pub@example.com", "password": testPassword}, http.StatusOK, nil)
	ts.call(t, http.MethodGet, "/api/v1/webhooks", token, nil, http.StatusOK, nil)
	// The failed writes above already count; a probe (at most once a
	// second) confirms.
	deadline = time.Now().Add(30 * time.Second)
	for code, r := readyz(t, ts); code != http.StatusServiceUnavailable || r.Checks["database"] != "full"; code, r = readyz(t, ts) {
		if time.Now().After(deadline) {
			t.Fatalf("readyz on a full disk: %d %+v for 30s, want 503 with database full", code, r)
		}
		time.Sleep(50 * time.Millisecond) // polling readiness
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for code, _ := readyz(t, ts); code != http.StatusOK; code, _ = readyz(t, ts) {
		if time.Now().After(deadline) {
			t.Fatalf("readyz stayed %d for 30s after space was freed", code)
		}
		time.Sleep(50 * time.Millisecond) // polling readiness
	}
	ts.call(t, http.MethodPost, "/api/v1/events", token, event, http.StatusAccepted, nil)
	ts.call(t, http.MethodPost, "/api/v1/webhooks", token, hook, http.StatusCreated, nil)
}
