// Command receiver is a webhookd receiver in Go with the standard library
// only. It verifies both signatures webhookd sends over the raw body bytes,
// refuses timestamps more than 5 minutes away, and handles each webhook-id
// once.
//
//	WEBHOOK_SECRET='whsec_...' PORT=8000 go run ./examples/go
//
// While you rotate the webhook's secret, give both, new first:
// WEBHOOK_SECRET='whsec_new... whsec_old...'.
//
// Answers: 2xx when the delivery is genuine (also for a duplicate, so
// webhookd stops retrying it), 401 when it is not.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Tolerance is how far webhook-timestamp may be from the receiver's clock.
const Tolerance = 5 * time.Minute

// maxBody bounds what the receiver reads; webhookd's envelopes stay under
// about 1 MiB.
const maxBody = 2 << 20

// signingKey is the Standard Webhooks key: the base64-decoded part after
// "whsec_", or the secret's own bytes for any other secret.
func signingKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return key
		}
	}
	return []byte(secret)
}

// Verify checks a delivery: body is the raw request body exactly as
// received, never a re-encoding of parsed JSON. secrets is the webhook's
// secret, or while you rotate it the new and the old one: the delivery is
// genuine if one of them verifies. It returns nil when the delivery is
// genuine, or the reason it is not.
func Verify(body []byte, h http.Header, secrets []string, now time.Time) error {
	id, timestamp := h.Get("webhook-id"), h.Get("webhook-timestamp")
	signatures, seedSignature := h.Get("webhook-signature"), h.Get("X-Webhook-Signature")
	if id == "" || timestamp == "" || signatures == "" || seedSignature == "" {
		return errors.New("missing webhook-id, webhook-timestamp, webhook-signature or X-Webhook-Signature")
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > Tolerance {
		return errors.New("webhook-timestamp is more than 5 minutes away")
	}
	err = errors.New("no secret to verify with")
	for _, secret := range secrets {
		if err = checkSignatures(body, id, timestamp, signatures, seedSignature, secret); err == nil {
			return nil
		}
	}
	return err
}

// checkSignatures checks both signatures with one secret and returns nil,
// or the one that does not match.
func checkSignatures(body []byte, id, timestamp, signatures, seedSignature, secret string) error {
	// The seed's scheme: "sha256=" + hex HMAC-SHA256 of the raw body, keyed
	// with the secret string.
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal([]byte(seedSignature), []byte("sha256="+hex.EncodeToString(m.Sum(nil)))) {
		return errors.New("X-Webhook-Signature does not match")
	}

	// Standard Webhooks: "v1," + base64 HMAC-SHA256 of "id.timestamp.body".
	// The header may list several space-separated signatures (two while the
	// webhook's secret is being rotated); one must match.
	m = hmac.New(sha256.New, signingKey(secret))
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	expected := []byte("v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)))
	for _, s := range strings.Fields(signatures) {
		if hmac.Equal([]byte(s), expected) {
			return nil
		}
	}
	return errors.New("webhook-signature does not match")
}

// Event is the envelope webhookd sends.
type Event struct {
	Event     string          `json:"event"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Receiver handles deliveries for one webhook.
type Receiver struct {
	Secrets []string // the secret, or the new and the old one

	mu sync.Mutex
	// seen holds handled webhook-ids. Keep them in your database in
	// production (a unique key on the id), so duplicates are caught across
	// restarts and across instances.
	seen                           map[string]bool
	verified, rejected, duplicates int
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil && r.Method != http.MethodPost {
		err = errors.New("not a POST")
	}
	if err == nil {
		err = Verify(body, r.Header, rc.Secrets, time.Now())
	}
	if err != nil {
		rc.mu.Lock()
		rc.rejected++
		rc.mu.Unlock()
		fmt.Println("rejected:", err)
		http.Error(w, "Invalid signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	duplicate := rc.seen[id]
	if duplicate {
		rc.duplicates++
	}
	rc.mu.Unlock()
	if duplicate {
		fmt.Printf("duplicate %s: already handled\n", id)
		fmt.Fprintln(w, "OK (duplicate)")
		return
	}
	// Parse only after verifying, from the same bytes.
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	// ... handle e.Event and e.Data here; answer quickly (within webhookd's
	// delivery timeout) and do slow work afterwards.
	rc.mu.Lock()
	rc.seen[id] = true
	rc.verified++
	rc.mu.Unlock()
	fmt.Printf("verified %s %s\n", id, e.Event)
	fmt.Fprintln(w, "OK")
}

func main() {
	secrets := strings.Fields(os.Getenv("WEBHOOK_SECRET"))
	if len(secrets) == 0 {
		log.Fatal("set WEBHOOK_SECRET to the webhook's secret")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Fatal(err)
	}
	rc := &Receiver{Secrets: secrets, seen: map[string]bool{}}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	fmt.Printf("listening on :%d\n", ln.Addr().(*net.TCPAddr).Port)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	srv.Close()

	// With EXPECT_REJECTED set (as the repository's tests do), exit 0 only
	// if something verified and exactly that many requests were rejected: a
	// real delivery rejected fails it.
	rc.mu.Lock()
	verified, rejected := rc.verified, rc.rejected
	fmt.Printf("summary verified=%d rejected=%d duplicates=%d\n", verified, rejected, rc.duplicates)
	rc.mu.Unlock()
	if want, ok := os.LookupEnv("EXPECT_REJECTED"); ok {
		if n, err := strconv.Atoi(want); err != nil || verified == 0 || rejected != n {
			os.Exit(1)
		}
	}
}
