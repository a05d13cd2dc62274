package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// Issue 12 item 8: past --max-connections, a new connection waits, unserved,
// until an open one closes.
func TestConnLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(newConnLimit(2).wrap(ln)) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})

	// get sends one request on conn and reads the answer's status line,
	// waiting at most wait.
	get := func(conn net.Conn, r *bufio.Reader, wait time.Duration) (string, error) {
		if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: webhookd\r\n\r\n"); err != nil {
			return "", err
		}
		if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.Status, err
	}
	dial := func() (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn, bufio.NewReader(conn)
	}

	// Two kept-alive connections fill the cap.
	first, firstR := dial()
	for range 2 {
		if _, err := get(first, firstR, 30*time.Second); err != nil {
			t.Fatalf("first connection: %v", err)
		}
	}
	second, secondR := dial()
	if _, err := get(second, secondR, 30*time.Second); err != nil {
		t.Fatalf("second connection: %v", err)
	}
	// A third is not served while both stay open…
	third, thirdR := dial()
	if status, err := get(third, thirdR, time.Second); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection past a cap of 2 was answered (%q, %v), want it to wait", status, err)
	}
	// …and is, once one of them closes.
	first.Close()
	if err := third.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(thirdR, nil)
	if err != nil {
		t.Fatalf("third connection after one closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("third connection answered %d, want 200", resp.StatusCode)
	}
}
