package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store/storetest"
)

// Issue 19: `webhookd healthcheck` is the container's HEALTHCHECK (the
// image has no curl): exit 0 when serve answers /healthz with 200, exit 1
// with the reason on stderr otherwise.
func TestE2EHealthcheck(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		p := startServe(t, db, adminEnv)
		hostPort := strings.TrimPrefix(p.URL, "http://")
		_, port, err := net.SplitHostPort(hostPort)
		if err != nil {
			t.Fatalf("serve's address %q: %v", p.URL, err)
		}
		for _, tt := range []struct {
			name string
			env  []string
			args []string
			want string // the URL asked, as the success line names it
		}{
			{"HOST:PORT", nil, []string{"--addr", hostPort}, p.URL + "/healthz"},
			{"URL", nil, []string{"--addr", p.URL}, p.URL + "/healthz"},
			{"URL with a path", nil, []string{"--addr", p.URL + "/readyz"}, p.URL + "/readyz"},
			// serve's own listen address, every interface, from the
			// variable serve reads: asked on loopback.
			{"WEBHOOKD_ADDR=:PORT", []string{"WEBHOOKD_ADDR=:" + port}, nil, "http://127.0.0.1:" + port + "/healthz"},
			{"0.0.0.0:PORT", nil, []string{"--addr", "0.0.0.0:" + port}, "http://127.0.0.1:" + port + "/healthz"},
		} {
			r := webhookd(t, tt.env, "", append([]string{"healthcheck"}, tt.args...)...)
			if r.code != 0 || !strings.Contains(r.stdout, "ok: GET "+tt.want+": 200 OK") {
				t.Errorf("%s: %s\nwant exit 0 and ok for %s", tt.name, r, tt.want)
			}
		}
		p.stop()
		// The same address once serve has stopped: nothing listens.
		r := webhookd(t, nil, "", "healthcheck", "--addr", hostPort)
		if r.code != 1 || !strings.Contains(r.stderr, "GET "+p.URL+"/healthz") || !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("%s\nwant exit 1 naming the URL and the refused connection", r)
		}
	})
}

func TestE2EHealthcheckUnhealthy(t *testing.T) {
	t.Parallel()
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(unavailable.Close)
	// A server that accepts and never answers: the check gives up.
	hang := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(silent.Close) // after close(hang), cleanups run last-in first-out
	t.Cleanup(func() { close(hang) })
	redirect := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	t.Cleanup(redirect.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tt := range []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"503", []string{"--addr", strings.TrimPrefix(unavailable.URL, "http://")}, []string{"GET " + unavailable.URL + "/healthz", "503 Service Unavailable", `{"status":"unavailable"}`}},
		{"closed port", []string{"--addr", closedAddr}, []string{"GET http://" + closedAddr + "/healthz", "connection refused"}},
		{"no answer", []string{"--addr", silent.URL, "--timeout", "200ms"}, []string{"GET " + silent.URL + "/healthz", "no answer within 200ms"}},
		{"redirect", []string{"--addr", redirect.URL}, []string{"302 Found"}},
		{"bad address", []string{"--addr", "localhost"}, []string{`--addr "localhost": want HOST:PORT`}},
		{"bad URL", []string{"--addr", "ftp://localhost:3000"}, []string{`want HOST:PORT or an http:// or https:// URL`}},
		{"bad timeout", []string{"--timeout", "0s"}, []string{"--timeout 0s: want a positive duration"}},
	} {
		r := webhookd(t, nil, "", append([]string{"healthcheck"}, tt.args...)...)
		if r.code != 1 {
			t.Errorf("%s: %s\nwant exit 1", tt.name, r)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: %s\nwant %q in stderr", tt.name, r, w)
			}
		}
	}
}
