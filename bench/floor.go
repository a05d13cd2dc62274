package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/webhookd/webhookd/delivery"
)

// Floor is what the same publishers and receiver achieve with no webhookd
// between them: the most this machine could deliver, measured in the same
// process and the same minute as the real run, so that a ratio to it
// survives the drift of a shared machine that absolute figures do not.
type Floor struct {
	Events     int
	Deliveries int           // distinct deliveries arrived
	Exchanges  int           // HTTP exchanges: publishes plus deliveries
	Elapsed    time.Duration // first publish to last arrival
	// EventsPerSecond and DeliveriesPerSecond are over Elapsed.
	EventsPerSecond     float64
	DeliveriesPerSecond float64
}

// floorSecret signs the floor's deliveries, so that the floor pays for the
// same two HMACs per delivery webhookd's sender does.
const floorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// RunFloor measures the floor for cfg: the same publishers (concurrency,
// body size, batch size, bearer token) post to a bare Go HTTP server that,
// for each event it receives, immediately makes the signed delivery
// request (one per webhook) to a bench receiver and only then answers 202.
// One event a request costs two exchanges, as it does through webhookd; a
// batch costs one publish exchange and one delivery exchange per event.
// Nothing is stored: this is the cost of the HTTP alone.
func RunFloor(ctx context.Context, cfg Config) (Floor, error) {
	if err := cfg.check(); err != nil {
		return Floor{}, err
	}
	if cfg.Duration > 0 || cfg.Outbox != nil {
		return Floor{}, errors.New("bench: the floor measures throughput publishing through the API: it takes neither --duration nor --outbox")
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 10 * time.Minute
	}
	recv, err := startReceiver(cfg.ReceiverDelay, 0)
	if err != nil {
		return Floor{}, err
	}
	defer recv.close()
	fs, err := startFloorServer(recv.url+"/hook", cfg.Webhooks, cfg.Concurrency)
	if err != nil {
		return Floor{}, err
	}
	defer fs.close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency + 8, MaxIdleConns: cfg.Concurrency + 8}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	api := &apiClient{base: fs.url, http: client, token: "floor"}

	total := cfg.Events
	recv.expect(total * cfg.Webhooks)
	sent := make([]int64, total)
	start := time.Now()
	stopProgress := progress(cfg.Progress, cfg.ProgressBar, total*cfg.Webhooks, recv)
	_, err = publishAll(ctx, cfg, api, start, sent)
	if err != nil {
		stopProgress()
		return Floor{}, fmt.Errorf("bench: floor: publish: %w", err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, cfg.Wait)
	defer cancel()
	recv.wait(waitCtx, total*cfg.Webhooks)
	stopProgress()

	r := recv.result(sent)
	if r.Deliveries < total*cfg.Webhooks {
		return Floor{}, fmt.Errorf("bench: floor: %d of %d deliveries arrived", r.Deliveries, total*cfg.Webhooks)
	}
	f := Floor{Events: total, Deliveries: r.Deliveries, Elapsed: r.lastArrival.Sub(start)}
	perRequest := max(cfg.Batch, 1)
	f.Exchanges = (total+perRequest-1)/perRequest + r.Deliveries
	if f.Elapsed > 0 {
		f.EventsPerSecond = float64(total) / f.Elapsed.Seconds()
		f.DeliveriesPerSecond = float64(r.Deliveries) / f.Elapsed.Seconds()
	}
	return f, nil
}

// floorServer stands in for webhookd in the floor: it forwards each event
// it is sent, signed, to the receiver before it answers.
type floorServer struct {
	url      string
	hook     string
	webhooks int
	srv      *http.Server
	client   *http.Client
	next     atomic.Int64
}

func startFloorServer(hook string, webhooks, concurrency int) (*floorServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: floor server: %w", err)
	}
	// One connection per publisher at most: each handler sends its
	// deliveries one after another.
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency + 8, MaxIdleConns: concurrency + 8}
	fs := &floorServer{url: "http://" + ln.Addr().String(), hook: hook, webhooks: webhooks,
		client: &http.Client{Transport: tr, Timeout: time.Minute}}
	fs.srv = &http.Server{Handler: fs, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = fs.srv.Serve(ln) }()
	return fs, nil
}

// floorEvent is one event as the publishers send it.
type floorEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

func (fs *floorServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 64<<20))
	if err != nil || req.Header.Get("Authorization") == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var events []floorEvent
	if strings.HasSuffix(req.URL.Path, "/batch") {
		var b struct {
			Events []floorEvent `json:"events"`
		}
		err = json.Unmarshal(body, &b)
		events = b.Events
	} else {
		var e floorEvent
		err = json.Unmarshal(body, &e)
		events = []floorEvent{e}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, e := range events {
		n := strconv.FormatInt(fs.next.Add(1), 10)
		for hook := range fs.webhooks {
			if err := fs.deliver(req.Context(), "floor_"+n+"_"+strconv.Itoa(hook), e); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"id":"floor"}`)
}

// deliver makes one delivery, sending it again up to twice when the
// connection fails before an answer, as webhookd's retry schedule would
// (on a machine at load 35 a keep-alive connection to the receiver was
// reset mid-run and failed the whole floor); the receiver counts each
// delivery id once.
func (fs *floorServer) deliver(ctx context.Context, id string, e floorEvent) error {
	var err error
	for range 3 {
		var answered bool
		if answered, err = fs.send(ctx, id, e); err == nil || answered || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// send makes one attempt as webhookd's sender does: the same envelope,
// the same headers, both signatures. answered reports whether the
// receiver answered at all.
func (fs *floorServer) send(ctx context.Context, id string, e floorEvent) (answered bool, err error) {
	now := time.Now()
	body := delivery.Envelope(e.Event, now, e.Data)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fs.hook, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{"webhookd-floor"}
	h["X-Webhook-Event"] = []string{e.Event}
	h["X-Webhook-Id"] = []string{id}
	h["X-Webhook-Signature"] = []string{delivery.SignatureHeader(floorSecret, body)}
	h["webhook-id"] = []string{id}
	h["webhook-timestamp"] = []string{strconv.FormatInt(now.Unix(), 10)}
	h["webhook-signature"] = []string{delivery.StandardSignature(floorSecret, id, now.Unix(), body)}
	resp, err := fs.client.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return true, fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return true, nil
}

func (fs *floorServer) close() {
	fs.client.CloseIdleConnections()
	_ = fs.srv.Close()
}
