// Package wiretest is the one test client of webhookd's HTTP API and the
// one set of structs its JSON answers decode into, shared by the server
// tests (in process), the end-to-end tests (the built binary) and the
// examples' tests. The structs mirror what the server writes (server's
// wire types and handlers); a test that needs a field they lack adds it
// here rather than declaring its own copy.
//
// It is for tests only: nothing in the binary imports it.
package wiretest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// Client calls the API at Base as curl would: one request, the whole
// answer read.
type Client struct {
	HTTP  *http.Client // nil: http.DefaultClient
	Base  string       // http://host:port, no trailing slash
	Token string       // the Bearer credential (a JWT or an API key), "" for none
}

// Raw is a request body sent exactly as given, for malformed input.
type Raw []byte

// Response is an answer read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Send sends a request and reads the answer. body nil sends none, a string
// or Raw goes as written (JSON text), anything else is JSON-encoded; a body
// is sent as application/json. headers are name, value pairs. Send does not
// touch t, so goroutines other than the test's may call it.
func (c Client) Send(method, path string, body any, headers ...string) (Response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewReader([]byte(b))
	case Raw:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return Response{}, fmt.Errorf("encode request body: %w", err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.Base+path, r)
	if err != nil {
		return Response{}, fmt.Errorf("new request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("read answer: %w", err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Do is Send that fails t when the request cannot be made or answered.
func (c Client) Do(t testing.TB, method, path string, body any, headers ...string) Response {
	t.Helper()
	resp, err := c.Send(method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// JSON calls the API, fails t unless the answer has status want, and
// decodes it into out (unless out is nil).
func (c Client) JSON(t testing.TB, method, path string, body any, want int, out any) Response {
	t.Helper()
	resp := c.Do(t, method, path, body)
	if resp.Status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.Status, want, resp.Body)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, resp.Body, err)
		}
	}
	return resp
}
