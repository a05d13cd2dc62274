package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store/storetest"
)

// dialNoRead connects to the test server with a small receive buffer and
// never reads: the slow client of issue 12 item 8.
func dialNoRead(t *testing.T, s *testServer) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", s.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Issue 12 item 8: an answer that cannot be written within WriteTimeout
// is cut off, so a client that stops reading does not pin its connection
// and send buffer; a stream gets the timeout anew for each event, so it
// outlives it while its reader reads, and not once the reader stops.
func TestWriteDeadline(t *testing.T) {
	st := storetest.Open(t, storetest.SQLitePath(t))
	const big = 64 << 20 // far more than the kernel's socket buffers hold
	wrote := make(chan error, 1)
	s := newTestServer(t, st, func(c *server.Config) {
		c.WriteTimeout = 500 * time.Millisecond
		c.MaxStreamsPerUser = 1
		// A large answer, through the server as any route's is; and a
		// slow one, which works longer than the timeout before it writes.
		c.Console = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/console/slow" {
				time.Sleep(1500 * time.Millisecond)
				_, _ = w.Write([]byte("done"))
				return
			}
			chunk := make([]byte, 64<<10)
			var err error
			for n := 0; n < big && err == nil; n += len(chunk) {
				_, err = w.Write(chunk)
			}
			wrote <- err
		})
	})
	_, token := cheapUser(t, s, "slow@example.com")

	t.Run("answer", func(t *testing.T) {
		conn := dialNoRead(t, s)
		fmt.Fprintf(conn, "GET /console/big HTTP/1.1\r\nHost: webhookd\r\n\r\n")
		select {
		case err := <-wrote:
			if err == nil {
				t.Fatalf("all %d bytes were written to a client that reads none", big)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the handler is still writing to a client that reads nothing, 30s on")
		}
	})

	t.Run("answer after slow work", func(t *testing.T) {
		// The deadline counts from the answer's start, not the handler's:
		// a test send may wait --delivery-timeout for its receiver.
		resp := s.do(t, http.MethodGet, "/console/slow", "", nil)
		if resp.Status != http.StatusOK || string(resp.Body) != "done" {
			t.Fatalf("slow answer: %d %q, want 200 done", resp.Status, resp.Body)
		}
	})

	t.Run("stream outlives the timeout while read", func(t *testing.T) {
		es := openStream(t, s, "/api/v1/inboxes/slow/stream", token)
		time.Sleep(1500 * time.Millisecond) // three write timeouts
		resp, err := http.Post(s.srv.URL+"/inbox/slow", "text/plain", strings.NewReader("late"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ev := es.next(t); ev.Name != "capture" {
			t.Fatalf("event %q, want the capture", ev.Name)
		}
		es.close()
	})

	t.Run("stream whose reader stopped", func(t *testing.T) {
		// A user of its own: the stream above may still hold its place
		// a moment after its reader left.
		_, token := cheapUser(t, s, "stuck@example.com")
		conn := dialNoRead(t, s)
		fmt.Fprintf(conn, "GET /api/v1/inboxes/slow/stream HTTP/1.1\r\nHost: webhookd\r\nAuthorization: Bearer %s\r\n\r\n", token)
		// Read up to "ready": the stream holds the user's only place.
		if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read the stream's start: %v", err)
			}
			if strings.HasPrefix(line, "HTTP/1.1 ") && !strings.HasPrefix(line, "HTTP/1.1 200") {
				t.Fatalf("stream answered %q, want 200", line)
			}
			if line == "event: ready\n" {
				break
			}
		}
		// Then read nothing more, and feed it large captures until a
		// write cannot finish: the stream ends and gives its place back.
		body := strings.Repeat("x", 512<<10)
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, err := streamStatus(s, "/api/v1/inboxes/slow/stream", token)
			if err != nil {
				t.Fatal(err)
			}
			if status == http.StatusOK {
				return // the stuck stream ended
			}
			if status != http.StatusTooManyRequests || time.Now().After(deadline) {
				t.Fatalf("a stream whose reader reads nothing still holds its place 30s on (last status %d)", status)
			}
			resp, err := http.Post(s.srv.URL+"/inbox/slow", "text/plain", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	})
}
