package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFlagSetPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantTTL time.Duration
	}{
		{"defaults", nil, nil, ":3000", 24 * time.Hour},
		{"environment", nil, map[string]string{"WEBHOOKD_ADDR": ":4000", "WEBHOOKD_TOKEN_TTL": "1h"}, ":4000", time.Hour},
		{"flag wins over environment", []string{"--addr", ":5000", "--token-ttl=2h"}, map[string]string{"WEBHOOKD_ADDR": ":4000", "WEBHOOKD_TOKEN_TTL": "1h"}, ":5000", 2 * time.Hour},
		{"flag equal to default still wins", []string{"--addr=:3000"}, map[string]string{"WEBHOOKD_ADDR": ":4000"}, ":3000", 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, c := serveFlags()
			if err := fs.parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if c.addr != tt.want {
				t.Errorf("addr = %q, want %q", c.addr, tt.want)
			}
			if c.tokenTTL != tt.wantTTL {
				t.Errorf("token TTL = %v, want %v", c.tokenTTL, tt.wantTTL)
			}
		})
	}
}

func TestFlagSetBadEnvironmentNamesVariable(t *testing.T) {
	fs, _ := serveFlags()
	err := fs.parse(nil, func(k string) string {
		if k == "WEBHOOKD_TOKEN_TTL" {
			return "a day"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "WEBHOOKD_TOKEN_TTL") {
		t.Errorf("parse with WEBHOOKD_TOKEN_TTL=\"a day\": err = %v, want an error naming the variable", err)
	}
}

func TestShortDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{24 * time.Hour, "24h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + 30*time.Second, "1h0m30s"},
		{5 * time.Minute, "5m"},
		{30 * time.Second, "30s"},
		{1500 * time.Millisecond, "1.5s"},
		{0, "0s"},
	}
	for _, tt := range tests {
		if got := shortDuration(tt.in); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := time.ParseDuration(shortDuration(tt.in)); err != nil || back != tt.in {
			t.Errorf("time.ParseDuration(shortDuration(%v)) = %v, %v; want it back", tt.in, back, err)
		}
	}
}

func TestRunHelpReturnsErrHelp(t *testing.T) {
	// main exits 0 on flag.ErrHelp; every -h must return it, not an error
	// that would exit 1.
	for _, args := range [][]string{{"serve", "-h"}, {"migrate", "-h"}, {"user", "-h"}, {"user", "create", "-h"}, {"apikey", "-h"}, {"-h"}} {
		err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("run %v: err = %v, want nil or flag.ErrHelp", args, err)
		}
	}
}

// TestMetricsServerTimeouts checks that the --metrics-addr server cuts off
// slow and idle clients as the API's does (issue 12 item 8): it had only a
// header timeout, so a client that sent a GET with a Content-Length and no
// body, or kept its connection idle after a scrape, held one of
// --max-connections for good.
func TestMetricsServerTimeouts(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := newHTTPServer(http.NotFoundHandler(), logger)
	m := newMetricsServer(http.NotFoundHandler(), 7*time.Second, logger)
	if m.ReadHeaderTimeout <= 0 || m.ReadTimeout <= 0 || m.IdleTimeout <= 0 {
		t.Errorf("metrics server timeouts: header %s, read %s, idle %s; want all positive", m.ReadHeaderTimeout, m.ReadTimeout, m.IdleTimeout)
	}
	if m.ReadTimeout != api.ReadTimeout || m.IdleTimeout != api.IdleTimeout || m.ReadHeaderTimeout != api.ReadHeaderTimeout {
		t.Errorf("metrics server timeouts differ from the API's: %s/%s/%s vs %s/%s/%s",
			m.ReadHeaderTimeout, m.ReadTimeout, m.IdleTimeout, api.ReadHeaderTimeout, api.ReadTimeout, api.IdleTimeout)
	}
	if m.WriteTimeout != 7*time.Second {
		t.Errorf("metrics server write timeout %s, want --write-timeout 7s", m.WriteTimeout)
	}
}

// TestRunVersion checks that every usual spelling of "which version is
// this" prints the version instead of being taken for a serve flag.
func TestRunVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}, {"-v"}, {"-V"}} {
		var out, errOut strings.Builder
		err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
		if err != nil {
			t.Errorf("run %v: %v", args, err)
			continue
		}
		if got, want := out.String(), "webhookd "+version+"\n"; got != want {
			t.Errorf("run %v printed %q, want %q", args, got, want)
		}
	}
}

// TestConsoleURL checks the address serve prints for the console.
func TestConsoleURL(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, tt := range []struct {
		public string
		addr   net.Addr
		want   string
	}{
		{"", tcp("0.0.0.0:3000"), "http://localhost:3000/"},
		{"", tcp("[::]:3000"), "http://localhost:3000/"},
		{"", tcp("127.0.0.1:4000"), "http://127.0.0.1:4000/"},
		{"", tcp("[::1]:4000"), "http://[::1]:4000/"},
		{"https://webhooks.example.com", tcp("0.0.0.0:3000"), "https://webhooks.example.com/"},
		{"https://webhooks.example.com/", tcp("0.0.0.0:3000"), "https://webhooks.example.com/"},
	} {
		if got := consoleURL(tt.public, tt.addr); got != tt.want {
			t.Errorf("consoleURL(%q, %v) = %q, want %q", tt.public, tt.addr, got, tt.want)
		}
	}
}
