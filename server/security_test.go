package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// Password checks are meant to take as long for an unknown email as for a
// wrong password (auth.CheckPassword compares against a dummy hash). That
// is not asserted here: timing assertions fail on a noisy machine, and the
// code path is visible in handleLogin. The tests below check what can be
// checked without a clock: both answers are the same 401.

// cheapHash hashes password with bcrypt's minimum cost. Logins check
// whatever cost the stored hash names, and webhookd's real cost takes
// seconds per check under -race; tests that log in many times use this.
func cheapHash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	return string(h)
}

// cheapUser is testServer.user with a cheap hash of testPassword.
func cheapUser(t testing.TB, s *testServer, email string) (store.User, string) {
	t.Helper()
	return s.userWithHash(t, email, cheapHash(t, testPassword))
}

// withThrottle sets the login throttle, as --login-max-failures and
// --login-window do.
func withThrottle(maxFailures int, window time.Duration) serverOption {
	return func(c *server.Config) {
		c.Throttle = server.Throttle{MaxFailures: maxFailures, Window: window}
	}
}

// withSecretGrace sets how long a rotated-out secret keeps signing, as
// --secret-grace does.
func withSecretGrace(d time.Duration) serverOption {
	return func(c *server.Config) { c.SecretGrace = d }
}

// clientPool hands out HTTP clients whose connections come from distinct
// loopback addresses (127.0.0.2, 127.0.0.3, ...), so that one test can be
// many client addresses for the login throttle.
type clientPool struct {
	mu      sync.Mutex
	clients map[string]*http.Client
}

// loopbackClients returns a clientPool, skipping t where the system cannot
// send from loopback addresses other than 127.0.0.1 (Linux can; macOS
// cannot without aliases).
func loopbackClients(t testing.TB) *clientPool {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.77")}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Skipf("cannot dial from 127.0.0.77 on this system (%v): per-address throttling needs distinct client addresses", err)
		}
		t.Fatalf("dial from 127.0.0.77: %v", err)
	}
	c.Close()
	return &clientPool{clients: map[string]*http.Client{}}
}

// from returns a client whose requests come from ip.
func (p *clientPool) from(t testing.TB, ip string) *http.Client {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[ip]; ok {
		return c
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	p.clients[ip] = c
	return c
}

// postLogin logs in through client c. It returns its failure instead of
// calling t.Fatal, so goroutines may call it.
func postLogin(s *testServer, c *http.Client, email, password string, headers ...string) (response, error) {
	body, err := json.Marshal(map[string]string{"email": email, "password": password})
	if err != nil {
		return response{}, err
	}
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+"/api/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("login %s: %w", email, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("login %s: read body: %w", email, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// loginFrom logs in from client address ip and requires status want.
func loginFrom(t testing.TB, s *testServer, pool *clientPool, ip, email, password string, want int, headers ...string) response {
	t.Helper()
	resp, err := postLogin(s, pool.from(t, ip), email, password, headers...)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != want {
		t.Fatalf("login %s from %s: status %d, want %d; body %s", email, ip, resp.Status, want, resp.Body)
	}
	return resp
}

// failLogins makes one failed login per (ip, email) pair at once and
// requires each to be refused with 401. bcrypt is slow, so they run
// concurrently; none of them reaches the limit, so their order does not
// matter.
func failLogins(t testing.TB, s *testServer, pool *clientPool, pairs [][2]string) {
	t.Helper()
	errs := make([]error, len(pairs))
	var wg sync.WaitGroup
	for i, p := range pairs {
		c := pool.from(t, p[0])
		wg.Go(func() {
			resp, err := postLogin(s, c, p[1], "not the password at all")
			switch {
			case err != nil:
				errs[i] = err
			case resp.Status != http.StatusUnauthorized:
				errs[i] = fmt.Errorf("failed login %s from %s: status %d, want 401; body %s", p[1], p[0], resp.Status, resp.Body)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// wantThrottled requires a 429 in the error shape with a Retry-After of
// whole seconds from 1 to at most maxWait, and returns it.
func wantThrottled(t testing.TB, resp response, maxWait time.Duration) int {
	t.Helper()
	e := wantError(t, resp, http.StatusTooManyRequests)
	ra := resp.Header.Get("Retry-After")
	secs, err := strconv.Atoi(ra)
	if err != nil {
		t.Fatalf("Retry-After = %q, want whole seconds", ra)
	}
	if limit := int(maxWait/time.Second) + 1; secs < 1 || secs > limit {
		t.Errorf("Retry-After = %d, want 1 to %d seconds", secs, limit)
	}
	if !strings.Contains(e.Message, "too many failed logins") || !strings.Contains(e.Message, ra+" seconds") {
		t.Errorf("message = %q, want it to say too many failed logins and to try again in %s seconds", e.Message, ra)
	}
	if strings.Contains(string(resp.Body), testPassword) {
		t.Errorf("429 answer echoes the password: %s", resp.Body)
	}
	return secs
}

// loopbackIPs returns n loopback addresses starting at 127.0.0.first.
func loopbackIPs(first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "127.0.0." + strconv.Itoa(first+i)
	}
	return out
}

func TestLoginThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		pool := loopbackClients(t)
		const window = 15 * time.Minute
		s := newTestServer(t, st, withThrottle(10, window))
		cheapUser(t, s, "a@example.com")
		cheapUser(t, s, "b@example.com")
		for i := range 9 {
			cheapUser(t, s, fmt.Sprintf("ip%d@example.com", i))
		}

		t.Run("ten failures for one email lock it", func(t *testing.T) {
			// Each failure from its own address, so only the email's
			// counter reaches ten.
			var pairs [][2]string
			for _, ip := range loopbackIPs(10, 10) {
				pairs = append(pairs, [2]string{ip, "a@example.com"})
			}
			failLogins(t, s, pool, pairs)
			// The right password is refused too while locked, from any
			// address, whatever the email's case and spacing.
			resp := loginFrom(t, s, pool, "127.0.0.30", "a@example.com", testPassword, http.StatusTooManyRequests)
			wantThrottled(t, resp, window)
			// The refusal says which counter is locked (new-user pass).
			if e := wantError(t, resp, http.StatusTooManyRequests); !strings.Contains(e.Message, "failed logins for this email;") {
				t.Errorf("message = %q, want it to say the email is locked, and only the email", e.Message)
			}
			wantThrottled(t, loginFrom(t, s, pool, "127.0.0.31", " A@Example.COM ", testPassword, http.StatusTooManyRequests), window)
			wantThrottled(t, loginFrom(t, s, pool, "127.0.0.31", "a@example.com", "another guess", http.StatusTooManyRequests), window)
			// Another email from the same addresses is not locked.
			loginFrom(t, s, pool, "127.0.0.30", "b@example.com", testPassword, http.StatusOK)
			loginFrom(t, s, pool, "127.0.0.10", "b@example.com", testPassword, http.StatusOK)
		})

		t.Run("ten failures from one address lock it", func(t *testing.T) {
			const ip = "127.0.0.40"
			var pairs [][2]string
			for i := range 9 {
				pairs = append(pairs, [2]string{ip, fmt.Sprintf("ip%d@example.com", i)})
			}
			// An unknown email counts as much as a wrong password.
			pairs = append(pairs, [2]string{ip, "nobody@example.com"})
			failLogins(t, s, pool, pairs)
			resp := loginFrom(t, s, pool, ip, "b@example.com", testPassword, http.StatusTooManyRequests)
			wantThrottled(t, resp, window)
			// The refusal says the address, not the email, is locked, so a
			// user who ran 'webhookd user unlock' knows why it still fails.
			if e := wantError(t, resp, http.StatusTooManyRequests); !strings.Contains(e.Message, "failed logins from this client address;") {
				t.Errorf("message = %q, want it to say the client address is locked, and only it", e.Message)
			}
			// A forwarded-for header is the client's word, not its address:
			// it neither moves nor lifts the lock.
			wantThrottled(t, loginFrom(t, s, pool, ip, "b@example.com", testPassword, http.StatusTooManyRequests,
				"X-Forwarded-For", "198.51.100.7", "X-Real-Ip", "198.51.100.7"), window)
			// The same user from another address logs in.
			loginFrom(t, s, pool, "127.0.0.41", "b@example.com", testPassword, http.StatusOK)
		})

	})
}

func TestLoginThrottleConfigurable(t *testing.T) {
	// The store's clock, which the server reads too, stands still unless
	// the test moves it: a window passes when the test says, not after a
	// wait. It is a day ahead of the machine's, so a Retry-After counted
	// on another clock than the one that stamped the failures is a day off.
	c := &clock{}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		c.set(time.Now().UTC().Add(24 * time.Hour))
		pool := loopbackClients(t)

		t.Run("success clears the email's failures", func(t *testing.T) {
			s := newTestServer(t, st, withThrottle(3, time.Hour))
			cheapUser(t, s, "c@example.com")
			addr := loopbackIPs(60, 20)
			// Two failures, a success, two more failures: without the
			// reset that is four, past the limit of three.
			failLogins(t, s, pool, [][2]string{{addr[0], "c@example.com"}, {addr[1], "c@example.com"}})
			loginFrom(t, s, pool, addr[2], "c@example.com", testPassword, http.StatusOK)
			failLogins(t, s, pool, [][2]string{{addr[3], "c@example.com"}, {addr[4], "c@example.com"}})
			loginFrom(t, s, pool, addr[5], "c@example.com", testPassword, http.StatusOK)
			// Three in a row lock it, with a Retry-After within the hour.
			failLogins(t, s, pool, [][2]string{{addr[6], "c@example.com"}, {addr[7], "c@example.com"}, {addr[8], "c@example.com"}})
			wantThrottled(t, loginFrom(t, s, pool, addr[9], "c@example.com", testPassword, http.StatusTooManyRequests), time.Hour)
		})

		t.Run("a short window lifts", func(t *testing.T) {
			const window = 2 * time.Second
			s := newTestServer(t, st, withThrottle(2, window))
			cheapUser(t, s, "d@example.com")
			failLogins(t, s, pool, [][2]string{{"127.0.0.90", "d@example.com"}, {"127.0.0.91", "d@example.com"}})
			wantThrottled(t, loginFrom(t, s, pool, "127.0.0.92", "d@example.com", testPassword, http.StatusTooManyRequests), window)
			// Still throttled a moment before the window has passed.
			// Refused attempts do not count: were these two counted, they
			// would lock the email past the window.
			c.set(c.Now().Add(window - time.Millisecond))
			for range 2 {
				wantThrottled(t, loginFrom(t, s, pool, "127.0.0.92", "d@example.com", testPassword, http.StatusTooManyRequests), window)
			}
			// Once it has passed, the right password logs in.
			c.set(c.Now().Add(2 * time.Millisecond))
			loginFrom(t, s, pool, "127.0.0.92", "d@example.com", testPassword, http.StatusOK)
		})

		t.Run("zero turns it off", func(t *testing.T) {
			s := newTestServer(t, st, withThrottle(0, time.Hour))
			cheapUser(t, s, "e@example.com")
			var pairs [][2]string
			for range 11 {
				pairs = append(pairs, [2]string{"127.0.0.100", "e@example.com"})
			}
			failLogins(t, s, pool, pairs)
			loginFrom(t, s, pool, "127.0.0.100", "e@example.com", testPassword, http.StatusOK)
		})
	}, store.WithClock(c.Now))
}

// jwtPart is the base64url JSON of v, as a token's header or claims.
func jwtPart(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode token part: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hmacToken builds a token by hand with any header, signed HMAC-SHA256
// with key: it forges what jwt.SigningMethod would refuse to make.
func hmacToken(t testing.TB, header, claims map[string]any, key []byte) string {
	t.Helper()
	input := jwtPart(t, header) + "." + jwtPart(t, claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signToken signs claims with a jwt method and key.
func signToken(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s token: %v", method.Alg(), err)
	}
	return s
}

func TestTokensRefused(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		u, _ := s.user(t, "a@example.com")
		now := time.Now()
		// claims returns valid claims for u with the changes applied; a nil
		// value removes the claim.
		claims := func(changes map[string]any) jwt.MapClaims {
			c := jwt.MapClaims{
				"iss": auth.Issuer, "sub": u.ID, "iat": now.Unix(), "nbf": now.Unix(),
				"exp": now.Add(time.Hour).Unix(), "ver": 0,
			}
			for k, v := range changes {
				if v == nil {
					delete(c, k)
				} else {
					c[k] = v
				}
			}
			return c
		}
		hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
		unsigned := func(alg string) string {
			return jwtPart(t, map[string]any{"alg": alg, "typ": "JWT"}) + "." + jwtPart(t, claims(nil)) + "."
		}

		// Controls: a hand-made token and a library-made one with valid
		// claims work, so every refusal below is for the reason it names.
		for name, tok := range map[string]string{
			"hand-made": hmacToken(t, hs256, claims(nil), testJWTSecret),
			"jwt":       signToken(t, jwt.SigningMethodHS256, testJWTSecret, claims(nil)),
		} {
			if resp := s.do(t, http.MethodGet, "/api/v1/auth/me", tok, nil); resp.Status != http.StatusOK {
				t.Fatalf("control token (%s): status %d, want 200; body %s", name, resp.Status, resp.Body)
			}
		}

		tests := []struct {
			name, token string
		}{
			{"alg none", unsigned("none")},
			{"alg None", unsigned("None")},
			{"alg NONE", unsigned("NONE")},
			{"alg none with a valid HS256 signature", hmacToken(t, map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), testJWTSecret)},
			{"alg HS256 without a signature", unsigned("HS256")},
			{"alg missing", hmacToken(t, map[string]any{"typ": "JWT"}, claims(nil), testJWTSecret)},
			{"alg hs256 in lower case", hmacToken(t, map[string]any{"alg": "hs256"}, claims(nil), testJWTSecret)},
			{"HS384 with the right secret", signToken(t, jwt.SigningMethodHS384, testJWTSecret, claims(nil))},
			{"HS512 with the right secret", signToken(t, jwt.SigningMethodHS512, testJWTSecret, claims(nil))},
			{"RS256", signToken(t, jwt.SigningMethodRS256, rsaKey, claims(nil))},
			{"PS256", signToken(t, jwt.SigningMethodPS256, rsaKey, claims(nil))},
			{"ES256", signToken(t, jwt.SigningMethodES256, ecKey, claims(nil))},
			{"EdDSA", signToken(t, jwt.SigningMethodEdDSA, edKey, claims(nil))},
			{"RS256 header over an HMAC signature", hmacToken(t, map[string]any{"alg": "RS256"}, claims(nil), testJWTSecret)},
			{"HS256 with an empty key", hmacToken(t, hs256, claims(nil), nil)},
			{"HS256 with another key", hmacToken(t, hs256, claims(nil), []byte("not-the-server-secret-0123456789"))},
			{"exp missing", hmacToken(t, hs256, claims(map[string]any{"exp": nil}), testJWTSecret)},
			{"exp a minute ago", hmacToken(t, hs256, claims(map[string]any{"exp": now.Add(-time.Minute).Unix()}), testJWTSecret)},
			{"exp long ago", hmacToken(t, hs256, claims(map[string]any{"exp": 1}), testJWTSecret)},
			// golang-jwt reads a NumericDate from a JSON string too, so a
			// string exp is at least held to the same time.
			{"exp a past time as a string", hmacToken(t, hs256, claims(map[string]any{"exp": strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)}), testJWTSecret)},
			{"exp null", hmacToken(t, hs256, claims(map[string]any{"exp": json.RawMessage("null")}), testJWTSecret)},
			{"nbf in an hour", hmacToken(t, hs256, claims(map[string]any{"nbf": now.Add(time.Hour).Unix()}), testJWTSecret)},
			{"iss wrong", hmacToken(t, hs256, claims(map[string]any{"iss": "someone-else"}), testJWTSecret)},
			{"iss in another case", hmacToken(t, hs256, claims(map[string]any{"iss": strings.ToUpper(auth.Issuer)}), testJWTSecret)},
			{"iss missing", hmacToken(t, hs256, claims(map[string]any{"iss": nil}), testJWTSecret)},
			{"iss an array", hmacToken(t, hs256, claims(map[string]any{"iss": []string{auth.Issuer}}), testJWTSecret)},
			{"sub missing", hmacToken(t, hs256, claims(map[string]any{"sub": nil}), testJWTSecret)},
			{"sub unknown", hmacToken(t, hs256, claims(map[string]any{"sub": store.NewID()}), testJWTSecret)},
			{"sub SQL", hmacToken(t, hs256, claims(map[string]any{"sub": "' OR '1'='1"}), testJWTSecret)},
			{"sub with NUL", hmacToken(t, hs256, claims(map[string]any{"sub": u.ID + "\x00"}), testJWTSecret)},
			{"sub with a lone surrogate", hmacToken(t, hs256, claims(map[string]any{"sub": json.RawMessage(`"\udc00` + u.ID + `"`)}), testJWTSecret)},
			{"ver missing", hmacToken(t, hs256, claims(map[string]any{"ver": nil}), testJWTSecret)},
			{"ver ahead", hmacToken(t, hs256, claims(map[string]any{"ver": 1}), testJWTSecret)},
			{"ver a string", hmacToken(t, hs256, claims(map[string]any{"ver": "0"}), testJWTSecret)},
			{"two dots only", ".."},
			{"four parts", hmacToken(t, hs256, claims(nil), testJWTSecret) + ".x"},
			{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("{not json")) + "." + jwtPart(t, claims(nil)) + ".sig"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, path := range []string{"/api/v1/auth/me", "/api/v1/webhooks"} {
					resp := s.do(t, http.MethodGet, path, tt.token, nil)
					wantError(t, resp, http.StatusUnauthorized)
					if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
						t.Errorf("GET %s: WWW-Authenticate = %q, want Bearer", path, h)
					}
					if len(tt.token) > 8 && strings.Contains(string(resp.Body), tt.token) {
						t.Errorf("GET %s: the 401 echoes the token: %s", path, resp.Body)
					}
				}
			})
		}
	})
}

// newAPIKey makes an API key for the token's user and returns the key.
func newAPIKey(t testing.TB, s *testServer, token, name string) apiKeyJSON {
	t.Helper()
	var k apiKeyJSON
	s.call(t, http.MethodPost, "/api/v1/api-keys", token, map[string]string{"name": name}, http.StatusCreated, &k)
	return k
}

// wantRefused requires credential to be refused with 401 on a read and on
// a publish, without the answer echoing it.
func wantRefused(t testing.TB, s *testServer, credential, why string) {
	t.Helper()
	for _, r := range [][2]string{{http.MethodGet, "/api/v1/auth/me"}, {http.MethodPost, "/api/v1/events"}} {
		resp := s.do(t, r[0], r[1], credential, map[string]any{"event": "message.new", "data": 1})
		if resp.Status != http.StatusUnauthorized {
			t.Errorf("%s: %s %s: status %d, want 401; body %s", why, r[0], r[1], resp.Status, resp.Body)
			continue
		}
		wantError(t, resp, http.StatusUnauthorized)
		if strings.Contains(string(resp.Body), credential) {
			t.Errorf("%s: %s %s: the 401 echoes the credential", why, r[0], r[1])
		}
	}
}

// wantAccepted requires credential to work.
func wantAccepted(t testing.TB, s *testServer, credential, why string) {
	t.Helper()
	if resp := s.do(t, http.MethodGet, "/api/v1/auth/me", credential, nil); resp.Status != http.StatusOK {
		t.Errorf("%s: GET /api/v1/auth/me: status %d, want 200; body %s", why, resp.Status, resp.Body)
	}
}

// loginAs logs in and requires status want.
func loginAs(t testing.TB, s *testServer, email, password string, want int) response {
	t.Helper()
	return s.call(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, want, nil)
}

func TestTokenRevocation(t *testing.T) {
	const newPassword = "a brand new passphrase"
	newHash := cheapHash(t, newPassword)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newTestServer(t, st)

		t.Run("password change ends tokens", func(t *testing.T) {
			u, token := cheapUser(t, s, "pw@example.com")
			key := newAPIKey(t, s, token, "publisher")
			wantAccepted(t, s, token, "before the change")
			if err := st.SetPassword(ctx, u.ID, newHash); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, s, token, "token issued before the password change")
			// A token claiming the new version can only come from the
			// secret holder: it works, which shows the version is what
			// refused the old one.
			fresh, err := s.tokens.Issue(u.ID, u.TokenVersion+1)
			if err != nil {
				t.Fatal(err)
			}
			wantAccepted(t, s, fresh, "token at the new version")
			// API keys are not tokens: they stay until deleted.
			wantAccepted(t, s, key.Key, "API key after a password change")
			loginAs(t, s, "pw@example.com", testPassword, http.StatusUnauthorized)
			var got wiretest.Login
			decodeJSON(t, loginAs(t, s, "pw@example.com", newPassword, http.StatusOK), &got)
			wantAccepted(t, s, got.AccessToken, "token from logging in with the new password")
		})

		t.Run("disabling ends tokens, API keys and logins", func(t *testing.T) {
			u, token := cheapUser(t, s, "off@example.com")
			key := newAPIKey(t, s, token, "publisher")
			if err := st.SetUserDisabled(ctx, u.ID, true); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, s, token, "token of a disabled user")
			wantRefused(t, s, key.Key, "API key of a disabled user")
			atNew, err := s.tokens.Issue(u.ID, u.TokenVersion+1)
			if err != nil {
				t.Fatal(err)
			}
			wantRefused(t, s, atNew, "token at the current version of a disabled user")
			e := wantError(t, loginAs(t, s, "off@example.com", testPassword, http.StatusUnauthorized), http.StatusUnauthorized)
			if strings.Contains(e.Message, testPassword) {
				t.Errorf("login message %q echoes the password", e.Message)
			}

			// Enabling again lets the user log in and the key work, but
			// tokens from before stay dead.
			if err := st.SetUserDisabled(ctx, u.ID, false); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, s, token, "token issued before disabling, after enabling")
			wantRefused(t, s, atNew, "token issued while disabled, after enabling")
			wantAccepted(t, s, key.Key, "API key after enabling")
			loginAs(t, s, "off@example.com", testPassword, http.StatusOK)
		})

		t.Run("deleting ends tokens and API keys", func(t *testing.T) {
			u, token := cheapUser(t, s, "gone@example.com")
			key := newAPIKey(t, s, token, "publisher")
			if err := st.DeleteUser(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, s, token, "token of a deleted user")
			wantRefused(t, s, key.Key, "API key of a deleted user")
			loginAs(t, s, "gone@example.com", testPassword, http.StatusUnauthorized)
		})
	})
}

// rotateJSON is POST /api/v1/webhooks/:id/rotate-secret's answer.
type rotateJSON struct {
	webhookJSON
	PreviousSecretExpiresAt *string `json:"previousSecretExpiresAt"`
}

// rotateSecret rotates a webhook's secret, to secret unless it is empty.
func rotateSecret(t testing.TB, s *testServer, token, id, secret string) rotateJSON {
	t.Helper()
	var body any
	if secret != "" {
		body = map[string]string{"secret": secret}
	}
	var r rotateJSON
	s.call(t, http.MethodPost, "/api/v1/webhooks/"+id+"/rotate-secret", token, body, http.StatusOK, &r)
	return r
}

// signatureEntries returns the webhook-signature entries of a delivery, after
// checking each is a v1 entry.
func signatureEntries(t testing.TB, c captured) []string {
	t.Helper()
	entries := strings.Fields(c.Header.Get("webhook-signature"))
	for _, e := range entries {
		if !strings.HasPrefix(e, "v1,") {
			t.Errorf("webhook-signature entry %q, want v1,<base64>", e)
		}
	}
	return entries
}

// wantSignedWith requires the last delivery rc got to carry exactly the
// Standard Webhooks signatures of secrets, in that order, and the seed's
// X-Webhook-Signature of the first.
func wantSignedWith(t testing.TB, rc *receiver, secrets ...string) {
	t.Helper()
	reqs := rc.requests()
	if len(reqs) == 0 {
		t.Fatal("the receiver got nothing")
	}
	c := reqs[len(reqs)-1]
	id, stamp := c.Header.Get("webhook-id"), c.Header.Get("webhook-timestamp")
	var want []string
	for _, s := range secrets {
		want = append(want, standardSignature(t, s, id, stamp, c.Body))
	}
	if got := signatureEntries(t, c); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("webhook-signature = %q, want %q (signed with %d secrets)", got, want, len(secrets))
	}
	if got, want := c.Header.Get("X-Webhook-Signature"), seedSignature(secrets[0], c.Body); got != want {
		t.Errorf("X-Webhook-Signature = %q, want %q (the new secret)", got, want)
	}
}

func TestRotateSecret(t *testing.T) {
	const grace = time.Hour
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, withSecretGrace(grace))
		_, token := s.user(t, "a@example.com")
		_, tokenB := s.user(t, "b@example.com")
		rc := newReceiver(t)
		const first = "first-secret-0123456789"
		hook := s.createWebhook(t, token, map[string]any{"name": "h", "url": rc.URL(), "events": []string{"*"}, "secret": first})

		var generated rotateJSON
		t.Run("without a body the secret is generated", func(t *testing.T) {
			generated = rotateSecret(t, s, token, hook.ID, "")
			rest, ok := strings.CutPrefix(generated.Secret, "whsec_")
			if b, err := base64.StdEncoding.DecodeString(rest); !ok || err != nil || len(b) != 32 {
				t.Errorf("secret = %q, want whsec_ and base64 of 32 random bytes", generated.Secret)
			}
			if generated.ID != hook.ID || generated.Name != hook.Name || generated.URL != hook.URL {
				t.Errorf("rotate answered %+v, want webhook %s as it is", generated.webhookJSON, hook.ID)
			}
			if generated.PreviousSecretExpiresAt == nil {
				t.Fatal("previousSecretExpiresAt is null after a rotation with a grace period")
			}
			if gen := parseTime(t, "previousSecretExpiresAt", *generated.PreviousSecretExpiresAt); time.Until(gen) < grace-5*time.Minute || time.Until(gen) > grace+time.Minute {
				t.Errorf("previousSecretExpiresAt = %s, want about %s from now", *generated.PreviousSecretExpiresAt, grace)
			}
			var got webhookJSON
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID, token, nil, http.StatusOK, &got)
			if got.Secret != generated.Secret {
				t.Errorf("GET shows secret %q, want the rotated %q", got.Secret, generated.Secret)
			}
		})

		t.Run("both secrets sign during the grace", func(t *testing.T) {
			s.sendTest(t, token, hook.ID, "message.new", map[string]string{"n": "1"})
			wantSignedWith(t, rc, generated.Secret, first)
		})

		const chosen = "chosen-secret-abcdefghij"
		t.Run("a given secret is used", func(t *testing.T) {
			r := rotateSecret(t, s, token, hook.ID, chosen)
			if r.Secret != chosen {
				t.Errorf("secret = %q, want the given %q", r.Secret, chosen)
			}
			// Only the secret just replaced keeps signing, not the one
			// before it.
			s.sendTest(t, token, hook.ID, "message.new", map[string]string{"n": "2"})
			wantSignedWith(t, rc, chosen, generated.Secret)
		})

		t.Run("bad secrets are refused and change nothing", func(t *testing.T) {
			before := s.getWebhook(t, token, hook.ID)
			for _, bad := range []any{
				"short",
				"has spaces in it",
				"tab\tinside-secret",
				"nul\x00inside-secret",
				"whsec_not base64!",
				"whsec_" + base64.StdEncoding.EncodeToString([]byte("15 bytes only..")[:15]),
				strings.Repeat("s", 1025),
				chosen, // the current secret
				12345678,
				true,
				[]string{"array-secret-0123456789"},
			} {
				resp := s.do(t, http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/rotate-secret", token, map[string]any{"secret": bad})
				wantError(t, resp, http.StatusBadRequest, "secret")
				if str, ok := bad.(string); ok && len(str) >= 8 && str != chosen && strings.Contains(string(resp.Body), str) {
					t.Errorf("refusal of secret %q echoes it: %s", str, resp.Body)
				}
			}
			wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/rotate-secret", token,
				map[string]any{"secret": "fine-secret-0123456789", "grace": "1h"}), http.StatusBadRequest, "grace")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/rotate-secret", token, rawBody(`{"secret":`)), http.StatusBadRequest)
			if after := s.getWebhook(t, token, hook.ID); after != before {
				t.Errorf("webhook changed by refused rotations:\nbefore %s\n after %s", before, after)
			}
		})

		t.Run("another user's webhook is not found", func(t *testing.T) {
			before := s.getWebhook(t, token, hook.ID)
			for _, body := range []any{nil, map[string]string{"secret": "b-would-like-this-one"}} {
				resp := s.do(t, http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/rotate-secret", tokenB, body)
				wantError(t, resp, http.StatusNotFound)
				if strings.Contains(string(resp.Body), chosen) {
					t.Errorf("B's rotate answer shows A's secret: %s", resp.Body)
				}
			}
			wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks/"+store.NewID()+"/rotate-secret", token, nil), http.StatusNotFound)
			if after := s.getWebhook(t, token, hook.ID); after != before {
				t.Errorf("B's rotation changed A's webhook:\nbefore %s\n after %s", before, after)
			}
		})

		t.Run("no grace signs with the new secret only", func(t *testing.T) {
			s0 := newTestServer(t, st, withSecretGrace(0))
			r := rotateSecret(t, s0, token, hook.ID, "")
			if r.PreviousSecretExpiresAt != nil {
				t.Errorf("previousSecretExpiresAt = %q with no grace, want null", *r.PreviousSecretExpiresAt)
			}
			s0.sendTest(t, token, hook.ID, "message.new", map[string]string{"n": "3"})
			wantSignedWith(t, rc, r.Secret)
		})
	})
}

// syncBuffer is a log destination tests can read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withLogs sends the server's and the test sender's logs, debug included,
// to buf.
func withLogs(t testing.TB, st *store.Store, buf *syncBuffer) serverOption {
	t.Helper()
	logger := slog.New(slog.NewJSONHandler(io.MultiWriter(buf, testLogWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	sender := delivery.NewSender(delivery.SenderConfig{Version: "test", Timeout: 10 * time.Second, Logger: logger})
	t.Cleanup(sender.Close)
	return func(c *server.Config) {
		c.Logger = logger
		c.Sender = delivery.TestSender{Sender: sender, Store: st}
	}
}

func TestSecretsStayHidden(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var logs syncBuffer
		s := newTestServer(t, st, withLogs(t, st, &logs), withSecretGrace(time.Hour))
		_, token := cheapUser(t, s, "a@example.com")
		rc := newReceiver(t)
		const (
			secret        = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAx" // base64 of 30 bytes
			receiverCred  = "receiver-credential-7f3a9c"
			receiverKey   = "receiver-api-key-51d2e8"
			wrongPassword = "wrong-password-9e8d7c"
		)
		hook := s.createWebhook(t, token, map[string]any{
			"name": "h", "url": rc.URL(), "events": []string{"*"}, "secret": secret,
			"headers": map[string]string{"Authorization": "Bearer " + receiverCred, "X-Api-Key": receiverKey, "X-Tenant": "acme"},
		})
		if hook.Secret != secret {
			t.Fatalf("create shows secret %q, want it in full to its owner", hook.Secret)
		}
		key := newAPIKey(t, s, token, "publisher")
		sent := s.sendTest(t, token, hook.ID, "message.new", map[string]string{"hello": "world"})
		rotated := rotateSecret(t, s, token, hook.ID, "")
		s.sendTest(t, token, hook.ID, "message.new", map[string]string{"hello": "again"})
		s.call(t, http.MethodPost, "/api/v1/events", key.Key, map[string]any{"event": "message.new", "data": 1}, http.StatusAccepted, nil)
		loginAs(t, s, "a@example.com", wrongPassword, http.StatusUnauthorized)
		loginAs(t, s, "a@example.com", testPassword, http.StatusOK)
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", token+"x", nil), http.StatusUnauthorized)
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", key.Key+"x", nil), http.StatusUnauthorized)

		// Every value that must never be shown where it does not belong.
		hidden := map[string]string{
			"the first webhook secret": secret, "the rotated secret": rotated.Secret,
			"the receiver's Authorization": receiverCred, "the receiver's API key": receiverKey,
			"the password": testPassword, "the wrong password": wrongPassword,
			"the access token": token, "the API key": key.Key,
		}
		wantHidden := func(t *testing.T, where, text string, except ...string) {
			t.Helper()
			for what, v := range hidden {
				if !strings.Contains(text, v) {
					continue
				}
				allowed := false
				for _, e := range except {
					allowed = allowed || e == what
				}
				if !allowed {
					t.Errorf("%s shows %s", where, what)
				}
			}
		}

		t.Run("the receiver got the custom headers", func(t *testing.T) {
			c := rc.requests()[0]
			if c.Header.Get("Authorization") != "Bearer "+receiverCred || c.Header.Get("X-Api-Key") != receiverKey {
				t.Errorf("receiver got Authorization %q, X-Api-Key %q", c.Header.Get("Authorization"), c.Header.Get("X-Api-Key"))
			}
		})

		t.Run("lists mask secrets", func(t *testing.T) {
			var p page[webhookJSON]
			resp := s.call(t, http.MethodGet, "/api/v1/webhooks", token, nil, http.StatusOK, &p)
			wantHidden(t, "the webhook list", string(resp.Body))
			if len(p.Data) != 1 || !strings.HasPrefix(p.Data[0].Secret, "whsec_****") {
				t.Errorf("listed webhooks %+v, want one with a masked whsec_ secret", p.Data)
			}
			resp = s.call(t, http.MethodGet, "/api/v1/api-keys", token, nil, http.StatusOK, nil)
			wantHidden(t, "the API key list", string(resp.Body))
			resp = s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs", token, nil, http.StatusOK, nil)
			wantHidden(t, "the log list", string(resp.Body))
		})

		t.Run("the owner sees the webhook in full", func(t *testing.T) {
			resp := s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID, token, nil, http.StatusOK, nil)
			if !strings.Contains(string(resp.Body), rotated.Secret) || !strings.Contains(string(resp.Body), receiverCred) {
				t.Errorf("GET of one webhook = %s, want the secret and headers in full", resp.Body)
			}
			// The secret rotated out is gone from the API for good.
			wantHidden(t, "GET of one webhook", string(resp.Body), "the rotated secret", "the receiver's Authorization", "the receiver's API key")
		})

		t.Run("logged attempts redact credentials", func(t *testing.T) {
			var l logJSON
			resp := s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs/"+sent.LogID, token, nil, http.StatusOK, &l)
			wantHidden(t, "the log entry", string(resp.Body))
			for name, want := range map[string]string{"Authorization": "[redacted]", "X-Api-Key": "[redacted]", "X-Tenant": "acme"} {
				if got := l.RequestHeaders[name]; got != want {
					t.Errorf("logged %s = %q, want %q", name, got, want)
				}
			}
			if l.RequestHeaders["X-Webhook-Signature"] == "" || l.RequestHeaders["webhook-signature"] == "" {
				t.Errorf("logged headers %v lack the signatures", l.RequestHeaders)
			}
		})

		t.Run("server logs show none", func(t *testing.T) {
			wantHidden(t, "the server's log", logs.String())
		})

		t.Run("error messages echo none", func(t *testing.T) {
			for _, r := range []struct {
				method, path, token string
				body                any
			}{
				{http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": "a@example.com", "password": wrongPassword}},
				{http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": "a@example.com", "password": wrongPassword, "extra": 1}},
				{http.MethodPost, "/api/v1/auth/login", "", rawBody(`{"email":"a@example.com","password":"` + wrongPassword + `" x}`)},
				{http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": "", "password": wrongPassword}},
				{http.MethodGet, "/api/v1/webhooks", testPassword, nil},
				{http.MethodGet, "/api/v1/webhooks", key.Key + "x", nil},
				{http.MethodPost, "/api/v1/webhooks", token, map[string]any{"name": "h", "url": rc.URL(), "events": []string{"*"}, "secret": receiverCred + " x"}},
				{http.MethodPost, "/api/v1/webhooks", token, map[string]any{"name": "h", "url": rc.URL(), "events": []string{"*"},
					"headers": map[string]string{"Authorization": "Bearer " + receiverCred + "\r\nX-Injected: 1"}}},
				{http.MethodPatch, "/api/v1/webhooks/" + hook.ID, token, map[string]any{"headers": map[string]string{"X-Api-Key": receiverKey + "\n"}}},
				{http.MethodPost, "/api/v1/webhooks/" + hook.ID + "/rotate-secret", token, map[string]any{"secret": receiverKey + "\x00"}},
			} {
				resp := s.do(t, r.method, r.path, r.token, r.body)
				if resp.Status < 400 || resp.Status >= 500 {
					t.Errorf("%s %s: status %d, want a 4xx; body %s", r.method, r.path, resp.Status, resp.Body)
				}
				wantHidden(t, fmt.Sprintf("the %d answer to %s %s", resp.Status, r.method, r.path), string(resp.Body))
			}
		})
	})
}
