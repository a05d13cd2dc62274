package delivery

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// ordinaryPayloads are payloads a CRM sends, compacted as the API stores
// them, for which the seed's JSON.stringify(req.body) reproduces the bytes
// webhookd signed.
var ordinaryPayloads = []string{
	`{"messageId":"msg_123","conversationId":"conv_9","text":"Hello!"}`,
	`{"z":1,"a":2,"m":{"y":true,"b":null,"list":[1,2.5,-3,"x"]}}`,
	`{"html":"<b>Tom & Jerry</b> <script>alert(1)</script>"}`,
	`{"name":"Zoë Ångström","city":"東京","emoji":"🎉✓"}`,
	`{"quote":"she said \"hi\"","path":"C:\\temp","lines":"a\nb\tc"}`,
	`[{"id":1},{"id":2}]`,
	`{"big":12345678901234,"small":0.001,"neg":-7,"empty":{},"none":[]}`,
}

// nodeVerifier is the seed's Node verification snippet running in a real
// node process, listening for deliveries.
type nodeVerifier struct {
	URL     string
	reports chan nodeReport
}

// nodeReport is one line the script prints per delivery.
type nodeReport struct {
	ID       string `json:"id"`
	Event    string `json:"event"`
	Verified bool   `json:"verified"`
	Error    string `json:"error"`
}

// startNodeVerifier runs testdata/verify-webhook.js with secret, or skips t
// when node is not installed.
func startNodeVerifier(t testing.TB, secret string) *nodeVerifier {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the seed's Node verification snippet cannot be run against real deliveries")
	}
	script, err := filepath.Abs(filepath.Join("..", "testdata", "verify-webhook.js"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, secret)
	cmd.Stderr = t.Output()
	// The script exits when its standard input closes.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(waitDeadline):
			t.Errorf("node did not exit after its input closed; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	ports := make(chan int, 1)
	v := &nodeVerifier{reports: make(chan nodeReport, 100)}
	go func() {
		defer close(exited)
		defer func() { _ = cmd.Wait() }()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Port int `json:"port"`
				nodeReport
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				v.reports <- nodeReport{Error: "unreadable line from node: " + sc.Text()}
				continue
			}
			if line.Port != 0 {
				ports <- line.Port
				continue
			}
			v.reports <- line.nodeReport
		}
	}()
	port := recv(t, "node to listen", ports)
	v.URL = "http://127.0.0.1:" + strconv.Itoa(port) + "/webhook"
	return v
}

// report waits for node's verdict on the next delivery.
func (v *nodeVerifier) report(t testing.TB) nodeReport {
	t.Helper()
	return recv(t, "node's verdict on a delivery", v.reports)
}

// TestNodeSnippetVerifiesSender sends ordinary payloads through the real
// Sender to the seed's snippet running in node.
func TestNodeSnippetVerifiesSender(t *testing.T) {
	const secret = "your-webhook-secret"
	v := startNodeVerifier(t, secret)
	s := newTestSender(t, 10*time.Second)
	for i, data := range ordinaryPayloads {
		id := "delivery-" + strconv.Itoa(i)
		out := s.Send(context.Background(), Request{
			DeliveryID: id, EventType: "message.new", OccurredAt: time.Now(), Data: []byte(data), URL: v.URL, Secret: secret,
		})
		r := v.report(t)
		if !r.Verified || r.ID != id || r.Event != "message.new" {
			t.Errorf("payload %s: node reported %+v, want delivery %s verified", data, r, id)
		}
		if !out.Success || out.StatusCode != 200 {
			t.Errorf("payload %s: Send() = status %d, error %q; want 200 from the verifying receiver", data, out.StatusCode, out.Error)
		}
	}

	// Controls: the snippet must reject what it should, or the checks
	// above prove nothing.
	controls := []struct{ name, secret, data string }{
		{"wrong secret", "another-secret", `{"a":1}`},
		// JSON.stringify writes 1.0 as 1: such payloads are not
		// "ordinary" and the seed's scheme cannot verify them.
		{"number JSON.stringify rewrites", secret, `{"amount":1.0}`},
	}
	for _, c := range controls {
		out := s.Send(context.Background(), Request{
			DeliveryID: "control", EventType: "message.new", OccurredAt: time.Now(), Data: []byte(c.data), URL: v.URL, Secret: c.secret,
		})
		if r := v.report(t); r.Verified || out.StatusCode != 401 {
			t.Errorf("control %q: node reported %+v with status %d, want it rejected with 401", c.name, r, out.StatusCode)
		}
	}
}

// TestNodeSnippetVerifiesDispatcher publishes ordinary payloads through the
// store and lets the Dispatcher deliver them to the seed's snippet, so the
// bytes go through the database on their way.
func TestNodeSnippetVerifiesDispatcher(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		v := startNodeVerifier(t, secret)
		u := newUser(t, st)
		w, err := st.CreateWebhook(context.Background(), store.CreateWebhookParams{
			TenantID: u.ID, Name: "node", URL: v.URL, Events: []string{"*"}, Secret: secret, IsActive: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range ordinaryPayloads {
			if res := publish(t, st, u.ID, "message.new", data); res.Deliveries != 1 {
				t.Fatalf("publish fanned out to %d webhooks, want 1", res.Deliveries)
			}
		}
		startDispatcher(t, testConfig(t, st)).Wake()

		for range ordinaryPayloads {
			if r := v.report(t); !r.Verified {
				t.Errorf("node reported %+v, want verified", r)
			}
		}
		for _, l := range settled(t, st, w, len(ordinaryPayloads)) {
			if l.Status != store.AttemptSuccess || l.StatusCode != 200 {
				t.Errorf("log row %s: status %s, code %d, error %q; want success 200", l.ID, l.Status, l.StatusCode, l.Error)
			}
		}
	})
}
