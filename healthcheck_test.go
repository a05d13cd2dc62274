package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestHealthcheckURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"localhost:3000", "http://localhost:3000/healthz"},
		{"127.0.0.1:3000", "http://127.0.0.1:3000/healthz"},
		// serve's listen addresses on every interface are asked on loopback.
		{":3000", "http://127.0.0.1:3000/healthz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz"},
		{"[::]:3000", "http://[::1]:3000/healthz"},
		{"[::1]:3000", "http://[::1]:3000/healthz"},
		{" 127.0.0.1:3000 ", "http://127.0.0.1:3000/healthz"},
		// A URL keeps its scheme and a path other than /.
		{"http://webhookd:3000", "http://webhookd:3000/healthz"},
		{"http://webhookd:3000/", "http://webhookd:3000/healthz"},
		{"https://webhooks.example.com/readyz", "https://webhooks.example.com/readyz"},
	}
	for _, tt := range tests {
		got, err := healthcheckURL(tt.addr)
		if err != nil || got != tt.want {
			t.Errorf("healthcheckURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
	for _, addr := range []string{"", "localhost", "3000", "localhost:", "ftp://localhost:3000", "http://", "http://[::1", "mailto://x"} {
		if got, err := healthcheckURL(addr); err == nil {
			t.Errorf("healthcheckURL(%q) = %q, want an error", addr, got)
		}
	}
}

// TestHealthcheckRedactsPasswords: an --addr URL's password never reaches
// the health log, in the answer or in an error.
func TestHealthcheckRedactsPasswords(t *testing.T) {
	const target = "http://probe:s3cret-word@127.0.0.1:1/healthz"
	if got := redactURL(target); strings.Contains(got, "s3cret-word") || !strings.Contains(got, "probe:") {
		t.Errorf("redactURL(%q) = %q, want the user kept and the password hidden", target, got)
	}
	err := checkHealth(context.Background(), target, time.Second)
	if err == nil || strings.Contains(err.Error(), "s3cret-word") {
		t.Errorf("checkHealth of a closed port: err = %v, want an error without the password", err)
	}
}
