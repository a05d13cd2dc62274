package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/bench"
)

// trackingListener counts the connections it accepted that are still
// open.
type trackingListener struct {
	net.Listener
	mu   sync.Mutex
	open int
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &trackedConn{Conn: c, l: l}, nil
}

func (l *trackingListener) stillOpen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// TestBenchHangsUpWhenDone runs a small benchmark against an app in this
// process and checks that the benchmark leaves no connection open to it.
// It left idle ones, among them one dialled for a request that then took
// another connection and so never sent one, and the app's Shutdown waits
// 5 s for such a connection: every `webhookd bench` took 5 s longer than
// its run (seen by a new-user pass: 2,000 events in 6.0-6.8 s, 1.5 s before
// bench handed the app its listener).
func TestBenchHangsUpWhenDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := filepath.Join(t.TempDir(), "bench.db")
	_, o := benchFlags()
	c, err := benchServeConfig(db, o)
	if err != nil {
		t.Fatal(err)
	}
	email, password := "bench@webhookd.local", "a long bench password"
	if _, err := benchUser(ctx, db, email, password); err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &trackingListener{Listener: inner}
	c.addr = ln.Addr().String()
	a, err := newApp(ctx, c, ln, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
	}()

	r, err := bench.Run(ctx, bench.Config{BaseURL: "http://" + c.addr, Email: email, Password: password,
		Webhooks: 1, Events: 500, Concurrency: 32, PayloadSize: 64, Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if r.Deliveries != 500 {
		t.Fatalf("%d deliveries arrived, want 500", r.Deliveries)
	}
	// The server notices a hang-up when it next reads; wait for that, far
	// short of the 90 s an idle client connection would stay open.
	deadline := time.Now().Add(30 * time.Second)
	for ln.stillOpen() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to webhookd still open 30 s after the benchmark returned", ln.stillOpen())
		}
		time.Sleep(10 * time.Millisecond) // polling a counter
	}
}
