// Package bench measures a running webhookd end to end: it creates
// webhooks that point at a local receiver, publishes events through the
// API from concurrent publishers, waits until every delivery has arrived,
// and reports throughput, latency and resource use.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config says what to measure.
type Config struct {
	// BaseURL is webhookd's address, such as http://127.0.0.1:3000.
	BaseURL string
	// Token is a bearer token or API key; with Email and Password instead,
	// Run logs in.
	Token           string
	Email, Password string

	Webhooks    int // webhooks created, each subscribed to every event
	Events      int // events published (batch mode)
	Concurrency int // concurrent publishers
	PayloadSize int // approximate bytes of each event's data
	// Batch, when above 1, publishes that many events a request through
	// POST /api/v1/events/batch instead of one a request.
	Batch int

	// Duration and Rate switch to steady mode: Rate events per second for
	// Duration, reporting latency under that load.
	Duration time.Duration
	Rate     int

	// Ordering is the webhooks' ordering ("none", the default, or
	// "fifo"); with "fifo", OrderingKeys spreads the events over that many
	// ordering keys (data.conversationId), 0 meaning one queue for all.
	Ordering     string
	OrderingKeys int

	ReceiverDelay    time.Duration // the receiver's time to answer
	ReceiverFailRate float64       // share of requests the receiver answers 500
	// Filter, when set, is every webhook's payload filter (JSON). It must
	// match the bench's events (message.new, data as eventData makes it),
	// so that every delivery is still awaited: Run checks it first with
	// POST /api/v1/filters/test. It measures what matching costs.
	Filter json.RawMessage
	// Wait bounds how long Run waits for deliveries after publishing.
	Wait time.Duration
	// Progress receives the progress while Run works (nil: none): a bar
	// redrawn in place when ProgressBar is set (a terminal), else a plain
	// line every few seconds, which a log or a CI job keeps readable.
	Progress    io.Writer
	ProgressBar bool

	// Tenants, when above 0, spreads the events over that many tenants
	// (created through a service key, --token) with Webhooks webhooks
	// each, webhook i subscribed to one of five event types and the
	// events mixing those types, so that an event reaches its tenant's
	// webhooks of its type only.
	Tenants int
	// Backlog, when above 0, publishes that many events while the
	// receiver holds every request, then lets it answer and times the
	// draining of the queue: deliveries/s with a backlog of that size.
	Backlog int

	// Outbox, when set, publishes through the transactional outbox
	// instead of the API: in steady mode each event is a row committed on
	// its own, as a CRM's transaction commits it; otherwise every row is
	// committed in one transaction first and Run times the consumer
	// turning them into events.
	Outbox Outbox

	// TargetPID, when set, is the process of the webhookd at BaseURL:
	// Run reports its own CPU time over the run from /proc/<pid>/stat,
	// apart from this process's (the publishers and the receiver).
	TargetPID int
}

// Outbox is webhook_outbox as the CRM sees it.
type Outbox interface {
	// Insert commits one outbox row per data (a message.new event) in one
	// transaction.
	Insert(ctx context.Context, datas []string) error
	// Waiting counts the rows not consumed yet.
	Waiting(ctx context.Context) (int, error)
	// Drained reports whether every row has been consumed, cheaply
	// enough to be asked every few milliseconds while the consumer runs.
	Drained(ctx context.Context) (bool, error)
}

// Result is what Run measured.
type Result struct {
	Events             int
	Webhooks           int
	Tenants            int // tenants the events went to (0: the one owner)
	Backlog            bool
	BacklogLoad        time.Duration // first publish to last 202 while the receiver held everything
	Ordering           string        // "fifo" or "" (unordered)
	OrderingKeys       int
	Deliveries         int           // distinct deliveries arrived
	Duplicates         int           // arrivals of a delivery seen before
	Failures           int           // answers the receiver failed on purpose
	PublishElapsed     time.Duration // first publish to last 202
	DeliveryElapsed    time.Duration // first publish to last arrival
	AcceptedPerSecond  float64
	DeliveredPerSecond float64
	LatencyP50         time.Duration // publish→arrival, first arrival of each delivery
	LatencyP95         time.Duration
	LatencyP99         time.Duration
	LatencyMax         time.Duration
	CPUSeconds         float64 // this process, user+system, over the run
	CPUPer1000         float64 // CPU seconds per 1,000 deliveries
	PeakRSSBytes       int64   // this process's high-water mark
	Missing            int     // deliveries that never arrived within Wait
	InProcess          bool    // webhookd ran inside this process
	// Outbox: events went through the outbox; in burst mode
	// PublishElapsed is then the time from the rows' commit until the
	// consumer had taken the last, and AcceptedPerSecond its rate.
	Outbox, OutboxBurst bool
	RowsPerTx           int // rows per CRM transaction in steady outbox mode

	// TargetPID is Config.TargetPID; TargetCPUSeconds is that process's
	// user+system CPU over the run and TargetCPUPer1000 per 1,000
	// deliveries.
	TargetPID        int
	TargetCPUSeconds float64
	TargetCPUPer1000 float64

	// Floor, when the caller measured it (RunFloor) in the same process
	// just before, is what the same load achieved with no webhookd.
	Floor *Floor
}

// OfFloor is the deliveries per second as a share of the floor's (1 is
// 100%), or 0 without a floor.
func (r Result) OfFloor() float64 {
	if r.Floor == nil || r.Floor.DeliveriesPerSecond <= 0 {
		return 0
	}
	return r.DeliveredPerSecond / r.Floor.DeliveriesPerSecond
}

// Run performs one benchmark.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	if err := cfg.checkScale(); err != nil {
		return Result{}, err
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 10 * time.Minute
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency + 8, MaxIdleConns: cfg.Concurrency + 8}, Timeout: time.Minute}
	// Last of all, hang up: a connection left idle, above all one dialled
	// for a request that then took another and so never sent one, holds
	// the in-process webhookd's Shutdown for 5 s at the end of every run.
	defer client.CloseIdleConnections()
	api := &apiClient{base: strings.TrimRight(cfg.BaseURL, "/"), http: client, token: cfg.Token}
	if api.token == "" {
		if err := api.login(ctx, cfg.Email, cfg.Password); err != nil {
			return Result{}, err
		}
	}

	recv, err := startReceiver(cfg.ReceiverDelay, cfg.ReceiverFailRate)
	if err != nil {
		return Result{}, err
	}
	defer recv.close()
	if cfg.Filter != nil {
		if err := checkFilter(ctx, api, cfg.Filter); err != nil {
			return Result{}, err
		}
	}
	if cfg.Tenants > 0 {
		tenants, err := createTenants(ctx, api, cfg.Tenants)
		defer deleteTenants(ctx, api, tenants)
		if err != nil {
			return Result{}, err
		}
		if err := createTenantWebhooks(ctx, api, recv.url, cfg, tenants); err != nil {
			return Result{}, err
		}
	} else {
		hookIDs, err := createWebhooks(ctx, api, recv.url, cfg)
		defer deleteWebhooks(ctx, api, hookIDs)
		if err != nil {
			return Result{}, err
		}
	}

	total := cfg.Events
	switch {
	case cfg.Duration > 0:
		total = int(cfg.Duration.Seconds() * float64(cfg.Rate))
	case cfg.Backlog > 0:
		total = cfg.Backlog
	}
	want := cfg.expectedDeliveries(total)
	recv.expect(want)
	sent := make([]int64, total) // publish start, Unix nanoseconds, by sequence number

	burst := cfg.Outbox != nil && cfg.Duration == 0
	if burst {
		// Committed before the clock starts: what is timed is the
		// consumer, not the CRM's insert.
		if err := insertAll(ctx, cfg, sent); err != nil {
			return Result{}, err
		}
	}
	var targetCPU0 time.Duration
	if cfg.TargetPID > 0 {
		if targetCPU0, err = ProcessCPU(cfg.TargetPID); err != nil {
			return Result{}, err
		}
	}
	backlog := cfg.Backlog > 0
	if backlog {
		recv.pause()
		// However Run ends, held requests must not hold the receiver's
		// Close (nor the sender's workers) for good.
		defer recv.resume()
	}
	cpu0 := cpuTime()
	start := time.Now()
	stopProgress := progress(cfg.Progress, cfg.ProgressBar, want, recv)
	var accepted int64
	if burst {
		for i := range sent {
			sent[i] = start.UnixNano()
		}
		accepted, err = drainOutbox(ctx, cfg.Outbox, total)
	} else {
		accepted, err = publishAll(ctx, cfg, api, start, sent)
	}
	publishElapsed := time.Since(start)
	if err != nil {
		stopProgress()
		return Result{}, fmt.Errorf("bench: publish: %w", err)
	}
	var backlogLoad time.Duration
	if backlog {
		// Every event is answered 202, so every delivery is in the queue:
		// the clock starts again as the receiver starts answering.
		backlogLoad = publishElapsed
		cpu0, start = cpuTime(), time.Now()
		if cfg.TargetPID > 0 {
			if targetCPU0, err = ProcessCPU(cfg.TargetPID); err != nil {
				return Result{}, err
			}
		}
		recv.resume()
	}
	waitCtx, cancel := context.WithTimeout(ctx, cfg.Wait)
	defer cancel()
	recv.wait(waitCtx, want)
	stopProgress()
	cpu := cpuTime() - cpu0
	var targetCPU time.Duration
	if cfg.TargetPID > 0 {
		end, err := ProcessCPU(cfg.TargetPID)
		if err != nil {
			return Result{}, err
		}
		targetCPU = end - targetCPU0
	}

	r := recv.result(sent)
	r.Events, r.Webhooks, r.Tenants = total, cfg.Webhooks, cfg.Tenants
	r.Backlog, r.BacklogLoad = backlog, backlogLoad
	if cfg.Ordering == "fifo" {
		r.Ordering, r.OrderingKeys = cfg.Ordering, cfg.OrderingKeys
	}
	r.PublishElapsed = publishElapsed
	if backlog {
		r.PublishElapsed = 0
	}
	r.DeliveryElapsed = r.lastArrival.Sub(start)
	r.AcceptedPerSecond = float64(accepted) / publishElapsed.Seconds()
	if r.DeliveryElapsed > 0 {
		r.DeliveredPerSecond = float64(r.Deliveries) / r.DeliveryElapsed.Seconds()
	}
	r.CPUSeconds = cpu.Seconds()
	if r.Deliveries > 0 {
		r.CPUPer1000 = r.CPUSeconds / float64(r.Deliveries) * 1000
	}
	if cfg.TargetPID > 0 {
		r.TargetPID, r.TargetCPUSeconds = cfg.TargetPID, targetCPU.Seconds()
		if r.Deliveries > 0 {
			r.TargetCPUPer1000 = r.TargetCPUSeconds / float64(r.Deliveries) * 1000
		}
	}
	r.PeakRSSBytes = peakRSS()
	r.Missing = want - r.Deliveries
	r.Outbox, r.OutboxBurst, r.RowsPerTx = cfg.Outbox != nil, burst, max(cfg.Batch, 1)
	return r.Result, nil
}

// insertAll commits every event as an outbox row, in one transaction.
func insertAll(ctx context.Context, cfg Config, sent []int64) error {
	datas := make([]string, len(sent))
	pad := strings.Repeat("x", max(cfg.PayloadSize-150, 0))
	for seq := range datas {
		datas[seq] = eventData(seq, cfg.OrderingKeys, pad)
	}
	if err := cfg.Outbox.Insert(ctx, datas); err != nil {
		return fmt.Errorf("bench: insert outbox rows: %w", err)
	}
	return nil
}

// drainOutbox waits until the consumer has taken every row and returns
// how many it took. It asks every 5 ms whether any row is left, a look
// at one end of the table's key (Drained) rather than a count: counting
// reads the whole table, and every row the consumer deleted (no vacuum
// runs meanwhile), and at 50 counts a second it took a tenth of
// PostgreSQL's time from the consumer it measures. So the time measured
// ends within a few milliseconds of the consumer's last commit.
func drainOutbox(ctx context.Context, o Outbox, total int) (int64, error) {
	for {
		done, err := o.Drained(ctx)
		if err != nil {
			return 0, fmt.Errorf("bench: look for outbox rows: %w", err)
		}
		if done {
			return int64(total), nil
		}
		select {
		case <-ctx.Done():
			// How far it got, counted once.
			n, err := o.Waiting(context.WithoutCancel(ctx))
			if err != nil {
				return 0, errors.Join(ctx.Err(), fmt.Errorf("bench: count outbox rows: %w", err))
			}
			return int64(total - n), ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// eventData is event seq's data, a message.new as the quick start shows
// it, so that the catalogue's schema check costs what it costs a CRM.
// "seq" comes first, where the receiver looks for it, and stays first in
// jsonb (the outbox's data column), which orders keys by length: every
// other key is longer. With keys ordering keys, conversationId (the
// ordering key's path, data.conversationId) spreads the events over
// them.
func eventData(seq, keys int, pad string) string {
	n := strconv.Itoa(seq)
	conv := "1"
	if keys > 0 {
		conv = strconv.Itoa(seq % keys)
	}
	return `{"seq":` + n + `,"messageId":"msg_` + n + `","conversationId":"conv_` + conv +
		`","contactId":"contact_1","direction":"inbound","type":"text","content":"` + pad + `"}`
}

// check refuses a configuration Run cannot measure.
func (cfg Config) check() error {
	steady := cfg.Duration > 0
	switch {
	case cfg.Webhooks < 1 || cfg.Concurrency < 1:
		return errors.New("bench: --webhooks and --concurrency must be at least 1")
	case steady && cfg.Rate < 1:
		return errors.New("bench: --duration needs --rate events per second")
	case !steady && cfg.Events < 1:
		return errors.New("bench: --events must be at least 1")
	case cfg.Ordering != "" && cfg.Ordering != "none" && cfg.Ordering != "fifo":
		return errors.New(`bench: --ordering must be "none" or "fifo"`)
	case cfg.OrderingKeys < 0:
		return errors.New("bench: --ordering-keys must be 0 or more")
	}
	return nil
}

// createWebhooks creates cfg.Webhooks webhooks to url, each subscribed to
// every event, ordered as cfg says and with cfg.Filter. It returns the ids
// of those it created, also on error, so that they can be deleted.
func createWebhooks(ctx context.Context, api *apiClient, url string, cfg Config) ([]string, error) {
	var ids []string
	for i := 0; i < cfg.Webhooks; i++ {
		var hook struct {
			ID string `json:"id"`
		}
		body := map[string]any{"name": fmt.Sprintf("bench-%d", i), "url": url + "/hook", "events": []string{"*"}}
		if cfg.Ordering == "fifo" {
			body["ordering"] = "fifo"
			if cfg.OrderingKeys > 0 {
				body["orderingKey"] = "data.conversationId"
			}
		}
		if cfg.Filter != nil {
			body["filter"] = cfg.Filter
		}
		if err := api.do(ctx, http.MethodPost, "/api/v1/webhooks", body, &hook); err != nil {
			return ids, fmt.Errorf("bench: create webhook: %w", err)
		}
		ids = append(ids, hook.ID)
	}
	return ids, nil
}

// checkFilter refuses a filter that would hold back the bench's events,
// whose deliveries Run would then wait for in vain.
func checkFilter(ctx context.Context, api *apiClient, filter json.RawMessage) error {
	var out struct {
		Matches        bool
		Failed, Reason string
	}
	data := map[string]any{"seq": 0, "messageId": "msg_0", "conversationId": "conv_1", "contactId": "contact_1",
		"direction": "inbound", "type": "text", "content": "x"}
	body := map[string]any{"filter": filter, "event": map[string]any{"event": "message.new", "data": data}}
	if err := api.do(ctx, http.MethodPost, "/api/v1/filters/test", body, &out); err != nil {
		return fmt.Errorf("bench: --filter: %w", err)
	}
	if !out.Matches {
		return fmt.Errorf("bench: --filter must match the bench's events (message.new, data {\"seq\": n, \"messageId\": \"msg_n\", \"conversationId\": \"conv_1\", \"contactId\": \"contact_1\", \"direction\": \"inbound\", \"type\": \"text\", \"content\": \"x…\"}); %s fails: %s", out.Failed, out.Reason)
	}
	return nil
}

// deleteWebhooks leaves the target as it was: a long-lived instance should
// not keep benchmark webhooks. It runs even when ctx has ended.
func deleteWebhooks(ctx context.Context, api *apiClient, ids []string) {
	for _, id := range ids {
		_ = api.do(context.WithoutCancel(ctx), http.MethodDelete, "/api/v1/webhooks/"+id, nil, nil)
	}
}

// publishAll publishes len(sent) events from cfg.Concurrency publishers,
// cfg.Batch a request, stamping each event's publish time into sent; in
// steady mode it paces them at cfg.Rate from start. It returns how many
// events were accepted and the first error, after which publishing stops.
func publishAll(ctx context.Context, cfg Config, api *apiClient, start time.Time, sent []int64) (int64, error) {
	total := len(sent)
	steady := cfg.Duration > 0
	// The data is eventData's.
	pad := strings.Repeat("x", max(cfg.PayloadSize-150, 0))
	var next, accepted atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	interval := time.Duration(0)
	if steady {
		interval = time.Second / time.Duration(cfg.Rate)
	}
	perRequest := max(cfg.Batch, 1)
	for range cfg.Concurrency {
		wg.Go(func() {
			datas := make([]string, 0, perRequest)
			events := make([]event, 0, perRequest)
			for {
				first := int(next.Add(int64(perRequest)) - int64(perRequest))
				if first >= total || ctx.Err() != nil {
					return
				}
				end := min(first+perRequest, total)
				if steady {
					// Pace by schedule, not by sleeping a fixed gap, so slow
					// requests do not lower the rate.
					if d := time.Until(start.Add(time.Duration(first) * interval)); d > 0 {
						time.Sleep(d)
					}
				}
				datas = datas[:0]
				for seq := first; seq < end; seq++ {
					datas = append(datas, eventData(seq, cfg.OrderingKeys, pad))
				}
				evs := events[:0]
				for i, seq := 0, first; seq < end; i, seq = i+1, seq+1 {
					evs = append(evs, event{typ: cfg.eventType(seq), tenant: cfg.eventTenant(seq), data: datas[i]})
				}
				now := time.Now().UnixNano()
				for seq := first; seq < end; seq++ {
					sent[seq] = now
				}
				var err error
				if cfg.Outbox != nil {
					// Latency counts from the commit, when the row exists
					// for the consumer: the CRM's own commit time is not
					// webhookd's.
					err = cfg.Outbox.Insert(ctx, datas)
					now = time.Now().UnixNano()
					for seq := first; seq < end; seq++ {
						sent[seq] = now
					}
				} else if cfg.Batch > 1 {
					err = api.publishBatch(ctx, evs)
				} else {
					err = api.publish(ctx, evs[0])
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				accepted.Add(int64(end - first))
			}
		})
	}
	wg.Wait()
	return accepted.Load(), firstErr
}

// apiClient calls webhookd's API.
type apiClient struct {
	base  string
	http  *http.Client
	token string
}

func (a *apiClient) login(ctx context.Context, email, password string) error {
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &out); err != nil {
		return fmt.Errorf("bench: log in: %w", err)
	}
	a.token = out.AccessToken
	return nil
}

func (a *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	return a.doFor(ctx, "", method, path, body, out)
}

// doFor is do acting for tenant (with a service key), when not "".
func (a *apiClient) doFor(ctx context.Context, tenant, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if tenant != "" {
		req.Header.Set("Webhookd-Tenant", tenant)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return &statusError{method: method, path: path, code: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// statusError is an API answer other than the one a call wanted.
type statusError struct {
	method, path string
	code         int
	body         string
}

// Error implements error.
func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.code, e.body)
}

// event is one event as a publisher sends it.
type event struct {
	typ, tenant string // tenant "" for the credential's own
	data        string // JSON
}

// json is the event as POST /api/v1/events takes it.
func (e event) json() string {
	if e.tenant == "" {
		return `{"event":"` + e.typ + `","data":` + e.data + `}`
	}
	return `{"event":"` + e.typ + `","tenant":"` + e.tenant + `","data":` + e.data + `}`
}

func (a *apiClient) publish(ctx context.Context, e event) error {
	return a.postAccepted(ctx, "/api/v1/events", e.json())
}

// publishBatch publishes the events in one request.
func (a *apiClient) publishBatch(ctx context.Context, events []event) error {
	var body strings.Builder
	body.WriteString(`{"events":[`)
	for i, e := range events {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(e.json())
	}
	body.WriteString(`]}`)
	return a.postAccepted(ctx, "/api/v1/events/batch", body.String())
}

// postAccepted POSTs a JSON body and wants 202 Accepted. It is do without
// the encoding and decoding, which publishers would pay on every event.
func (a *apiClient) postAccepted(ctx context.Context, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// receiver is the local endpoint every benchmark webhook points at.
type receiver struct {
	url    string
	srv    *http.Server
	delay  time.Duration
	fail   float64
	arrive chan struct{}

	mu sync.Mutex
	// resumed, while not nil, holds every request until it is closed
	// (pause, resume).
	resumed     chan struct{}
	first       map[string]int64 // delivery id → first arrival, Unix ns
	seqOf       map[string]int   // delivery id → event sequence number
	duplicates  int
	failures    int
	count       atomic.Int64
	lastArrival time.Time
}

func startReceiver(delay time.Duration, failRate float64) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: receiver: %w", err)
	}
	r := &receiver{url: "http://" + ln.Addr().String(), delay: delay, fail: failRate, arrive: make(chan struct{}, 1),
		first: map[string]int64{}, seqOf: map[string]int{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) expect(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.first = make(map[string]int64, n)
	r.seqOf = make(map[string]int, n)
}

// seqField is how the benchmark's event data starts.
var seqField = []byte(`"data":{"seq":`)

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if !r.held(req) {
		return
	}
	now := time.Now()
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	if r.fail > 0 && rand.Float64() < r.fail {
		r.mu.Lock()
		r.failures++
		r.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	id := req.Header.Get("webhook-id")
	seq := -1
	if i := bytes.Index(body, seqField); i >= 0 {
		rest := body[i+len(seqField):]
		end := bytes.IndexByte(rest, ',')
		if n, err := strconv.Atoi(string(rest[:max(end, 0)])); err == nil {
			seq = n
		}
	}
	r.mu.Lock()
	if _, seen := r.first[id]; seen {
		r.duplicates++
	} else {
		r.first[id] = now.UnixNano()
		r.seqOf[id] = seq
		r.lastArrival = now
		r.count.Add(1)
	}
	r.mu.Unlock()
	select {
	case r.arrive <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// wait returns when want deliveries have arrived or ctx ends.
func (r *receiver) wait(ctx context.Context, want int) {
	for r.count.Load() < int64(want) {
		select {
		case <-ctx.Done():
			return
		case <-r.arrive:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type receiverResult struct {
	Result
	lastArrival time.Time
}

func (r *receiver) result(sent []int64) receiverResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := make([]time.Duration, 0, len(r.first))
	for id, at := range r.first {
		if seq := r.seqOf[id]; seq >= 0 && seq < len(sent) {
			lat = append(lat, time.Duration(at-sent[seq]))
		}
	}
	slices.Sort(lat)
	out := receiverResult{lastArrival: r.lastArrival}
	out.Deliveries, out.Duplicates, out.Failures = len(r.first), r.duplicates, r.failures
	if len(lat) > 0 {
		pick := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		out.LatencyP50, out.LatencyP95, out.LatencyP99, out.LatencyMax = pick(0.50), pick(0.95), pick(0.99), lat[len(lat)-1]
	}
	return out
}

func (r *receiver) close() {
	// Close, not Shutdown: by now every delivery has arrived, and Shutdown
	// would wait up to 5 s for connections the sender opened but never
	// used (net/http counts a connection that has sent nothing for 5 s as
	// idle), which every run paid before printing its report.
	_ = r.srv.Close()
}

// progress reports deliveries on w until the returned stop is called: a
// bar redrawn with \r when bar is set, else a line every 5 s and one at
// the end.
func progress(w io.Writer, bar bool, want int, r *receiver) func() {
	if w == nil || want == 0 {
		return func() {}
	}
	every := 5 * time.Second
	draw := func() {
		got := int(r.count.Load())
		fmt.Fprintf(w, "%d/%d deliveries (%d%%)\n", got, want, got*100/want)
	}
	if bar {
		every = 200 * time.Millisecond
		draw = func() {
			got := int(r.count.Load())
			const width = 40
			filled := min(width, got*width/want)
			fmt.Fprintf(w, "\r[%s%s] %3d%% %d/%d deliveries", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), got*100/want, got, want)
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				draw()
				if bar {
					fmt.Fprintln(w)
				}
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() { close(done); <-finished }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's maximum resident set size (Linux reports KiB).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// Print writes the result as a table.
func (r Result) Print(w io.Writer) {
	row := func(k, v string) { fmt.Fprintf(w, "  %-40s %s\n", k, v) }
	fmt.Fprintf(w, "webhookd bench: %d events × %d webhooks", r.Events, r.Webhooks)
	if r.Tenants > 0 {
		fmt.Fprintf(w, " in each of %d tenants (%d webhooks in all; event types mixed, each webhook subscribed to one)", r.Tenants, r.Tenants*r.Webhooks)
	}
	if r.Ordering != "" {
		fmt.Fprintf(w, ", ordering %s over %d keys", r.Ordering, r.OrderingKeys)
	}
	fmt.Fprintln(w)
	if f := r.Floor; f != nil {
		row("floor: deliveries per second", fmt.Sprintf("%.0f  (bare Go server in webhookd's place, same publishers and receiver: %d events, %d exchanges in %s)",
			f.DeliveriesPerSecond, f.Events, f.Exchanges, f.Elapsed.Round(time.Millisecond)))
		row("floor: events per second", fmt.Sprintf("%.0f", f.EventsPerSecond))
	}
	switch {
	case r.OutboxBurst:
		row("outbox rows consumed into events per second", fmt.Sprintf("%.0f  (all committed at once, then timed until the consumer took the last)", r.AcceptedPerSecond))
	case r.Outbox:
		row("outbox rows committed per second", fmt.Sprintf("%.0f  (%d rows per CRM transaction)", r.AcceptedPerSecond, r.RowsPerTx))
	case r.Backlog:
		row("backlog loaded (receiver holding)", fmt.Sprintf("%d events in %s, %.0f accepted per second", r.Events, r.BacklogLoad.Round(time.Millisecond), float64(r.Events)/r.BacklogLoad.Seconds()))
	default:
		row("events accepted per second", fmt.Sprintf("%.0f", r.AcceptedPerSecond))
	}
	if r.Backlog {
		row("deliveries per second (backlog draining)", fmt.Sprintf("%.0f", r.DeliveredPerSecond))
	} else if r.Floor != nil {
		row("deliveries per second (end to end)", fmt.Sprintf("%.0f  (%.1f%% of the floor)", r.DeliveredPerSecond, 100*r.OfFloor()))
	} else {
		row("deliveries per second (end to end)", fmt.Sprintf("%.0f", r.DeliveredPerSecond))
	}
	row("deliveries arrived", fmt.Sprintf("%d (missing %d, duplicates %d, failed on purpose %d)", r.Deliveries, r.Missing, r.Duplicates, r.Failures))
	from := "publish"
	if r.Outbox {
		from = "outbox row"
	}
	row(from+"→arrival latency p50", ms(r.LatencyP50))
	row(from+"→arrival latency p95", ms(r.LatencyP95))
	row(from+"→arrival latency p99", ms(r.LatencyP99))
	row(from+"→arrival latency max", ms(r.LatencyMax))
	if r.Backlog {
		row("time from first answer to last arrival", r.DeliveryElapsed.Round(time.Millisecond).String())
	} else {
		row("time to publish / to last arrival", fmt.Sprintf("%s / %s", r.PublishElapsed.Round(time.Millisecond), r.DeliveryElapsed.Round(time.Millisecond)))
	}
	scope := "this process (bench client and receiver"
	if r.InProcess {
		scope += " and webhookd"
	}
	scope += ")"
	row("CPU seconds per 1,000 deliveries", fmt.Sprintf("%.3f  (%.2fs in all, %s)", r.CPUPer1000, r.CPUSeconds, scope))
	if r.TargetPID > 0 {
		row("webhookd CPU seconds per 1,000 deliveries", fmt.Sprintf("%.3f  (%.2fs in all, process %d alone, from /proc/%d/stat)", r.TargetCPUPer1000, r.TargetCPUSeconds, r.TargetPID, r.TargetPID))
	}
	row("peak RSS", fmt.Sprintf("%.1f MB  (%s)", float64(r.PeakRSSBytes)/1e6, scope))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
