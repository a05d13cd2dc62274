package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/webhookd/webhookd/internal/wire"
)

// Stream tuning. The console is the reader: a second of delay is live
// enough, and one indexed query a second per open console is cheap.
const (
	streamPoll      = time.Second
	streamHeartbeat = 15 * time.Second
	// streamOverlap is how far back each poll looks past the newest attempt
	// already sent, so that an attempt committed a little after a later one
	// (batched completions, another process) is still sent; ids already
	// sent are skipped.
	streamOverlap = 10 * time.Second
	// streamBatch is the most attempts one poll sends; past it the client
	// is told to reload the list instead.
	streamBatch = 500
)

// sse writes Server-Sent Events.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// timeout bounds each write: a reader that stops reading is cut off
	// once an event cannot be written within it (0: no bound).
	timeout time.Duration
}

// startSSE sends the stream's headers. Browsers' EventSource cannot send
// an Authorization header, so the console reads these streams with fetch;
// curl -N reads them too.
func startSSE(w http.ResponseWriter, writeTimeout time.Duration) (*sse, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w), timeout: writeTimeout}
	// No read deadline: the stream lasts as long as the reader stays. The
	// server's ReadTimeout would otherwise end it, through the connection's
	// background read, a minute in. The write deadline moves with each
	// event instead (see deadline).
	if err := s.rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, err
	}
	if err := s.deadline(); err != nil {
		return nil, err
	}
	return s, s.flush()
}

// deadline gives the next write the stream's timeout from now: the
// request's own deadline has long passed on a stream open for minutes.
func (s *sse) deadline() error {
	var at time.Time
	if s.timeout > 0 {
		at = time.Now().Add(s.timeout)
	}
	if err := s.rc.SetWriteDeadline(at); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// event sends one event whose data is v as JSON.
func (s *sse) event(name, id string, v any) error {
	var buf bytes.Buffer
	if id != "" {
		fmt.Fprintf(&buf, "id: %s\n", id)
	}
	fmt.Fprintf(&buf, "event: %s\ndata: ", name)
	data, err := wire.Marshal(v) // ends with the newline
	if err != nil {
		return err
	}
	buf.Write(data)
	buf.WriteByte('\n')
	if err := s.deadline(); err != nil {
		return err
	}
	if _, err := s.w.Write(buf.Bytes()); err != nil {
		return err
	}
	return s.flush()
}

// end sends the stream's last event, "end", with why it ends.
func (s *sse) end(reason string) {
	_ = s.event("end", "", endJSON{Reason: reason}) // the stream closes either way
}

// ping keeps an idle stream open through proxies that close silent ones.
func (s *sse) ping() error {
	if err := s.deadline(); err != nil {
		return err
	}
	if _, err := io.WriteString(s.w, ": ping\n\n"); err != nil {
		return err
	}
	return s.flush()
}

func (s *sse) flush() error {
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// streamContext ends with the request or with CloseStreams, whichever
// comes first, so that shutdown never waits on a console left open.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.streams, cancel)
	return ctx, func() { stop(); cancel() }
}

// CloseStreams ends every open event stream; http.Server.Shutdown waits
// for handlers to return, and streams otherwise never do. Register it with
// http.Server.RegisterOnShutdown.
func (s *Server) CloseStreams() { s.closeStreams() }

// runStream runs an admitted event stream: it sends the headers and
// "ready", then, until the reader leaves or the server closes its
// streams, a ping every streamHeartbeat, the credential checked on every
// tick of live.recheck (ending the stream with "end", and why, once it is
// no longer valid), and next called with each value from source. A closed
// source ends the stream, as does next returning false.
func runStream[T any](ctx context.Context, w http.ResponseWriter, s *Server, live *liveStream, source <-chan T, next func(out *sse, v T) bool) {
	out, err := startSSE(w, s.writeTimeout)
	if err != nil || out.event("ready", "", struct{}{}) != nil {
		return // the reader is gone; nothing to answer
	}
	heartbeat := time.NewTicker(streamHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			if out.ping() != nil {
				return
			}
		case <-live.recheck.C:
			if reason := live.ended(ctx); reason != "" {
				out.end(reason)
				return
			}
		case v, ok := <-source:
			if !ok || !next(out, v) {
				return
			}
		}
	}
}
