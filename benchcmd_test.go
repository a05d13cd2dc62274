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
	"github.com/webhookd/webhookd/store/storetest"
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

// TestBenchOutboxDrained: the bench's look for outbox rows left, which
// starts from the smallest id it saw last time, reports rows left
// whichever of them the consumer took first, and none once all are gone.
func TestBenchOutboxDrained(t *testing.T) {
	url := storetest.PostgresURL(t)
	storetest.Open(t, url) // the schema
	ctx := context.Background()
	ob, err := openBenchOutbox(url, "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer ob.db.Close()
	if err := ob.Insert(ctx, []string{`{"seq":1}`, `{"seq":2}`, `{"seq":3}`}); err != nil {
		t.Fatal(err)
	}
	rows, err := ob.db.QueryContext(ctx, `SELECT id FROM webhook_outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil || len(ids) != 3 {
		t.Fatalf("ids %v, %v; want 3", ids, err)
	}
	// The middle row first, then the first, then the last.
	for i, take := range []int64{ids[1], ids[0], ids[2]} {
		drained, err := ob.Drained(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if drained {
			t.Fatalf("before taking row %d of 3: drained, want rows left", i+1)
		}
		if _, err := ob.db.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE id = $1`, take); err != nil {
			t.Fatal(err)
		}
		waiting, err := ob.Waiting(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if waiting != 2-i {
			t.Errorf("after taking %d rows: %d waiting, want %d", i+1, waiting, 2-i)
		}
	}
	drained, err := ob.Drained(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !drained {
		t.Error("every row taken: not drained")
	}
}
