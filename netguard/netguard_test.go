package netguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/webhookd/webhookd/netguard/netguardtest"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		ip      string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"172.32.0.1", false},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"100.64.0.1", true},
		{"224.0.0.1", true},
		{"0.0.0.0", true},
		{"255.255.255.255", true},
		{"198.18.0.1", true},
		{"::1", true},
		{"::", true},
		{"fd00::1", true},
		{"fe80::1", true},
		{"ff02::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"64:ff9b::a00:1", true},
		{"2001:db8::1", true},
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"93.184.216.34", false},
		{"2606:4700:4700::1111", false},
	}
	for _, tt := range tests {
		got := Classify(netip.MustParseAddr(tt.ip))
		if (got != "") != tt.blocked {
			t.Errorf("Classify(%s) = %q, want blocked=%v", tt.ip, got, tt.blocked)
		}
	}
}

func TestCheckURL(t *testing.T) {
	deny := Policy{}
	tests := []struct {
		url     string
		policy  Policy
		wantErr string
	}{
		{"https://8.8.8.8/hook", deny, ""},
		{"http://127.0.0.1:8080/hook", deny, "loopback"},
		{"http://[::1]/hook", deny, "loopback"},
		{"http://localhost:3000/x", deny, "loopback host"},
		{"http://api.localhost/x", deny, "loopback host"},
		{"http://169.254.169.254/latest/meta-data", deny, "link-local"},
		{"http://10.0.0.5/x", deny, "private"},
		{"http://[::ffff:192.168.0.1]/x", deny, "private"},
		{"http://127.0.0.1/x", Policy{AllowPrivate: true}, ""},
		{"http://8.8.8.8/x", Policy{RequireHTTPS: true}, "https"},
		// The built-in inbox of this process, and nothing else on loopback.
		{"http://localhost:3000/inbox/demo", Policy{InboxPort: 3000}, ""},
		{"http://127.0.0.1:3000/inbox/demo?x=1", Policy{InboxPort: 3000}, ""},
		{"https://[::1]:3000/inbox/a.b", Policy{InboxPort: 3000}, ""},
		{"http://localhost:3001/inbox/demo", Policy{InboxPort: 3000}, "loopback host"},
		{"http://localhost:3000/api/v1/webhooks", Policy{InboxPort: 3000}, "loopback host"},
		{"http://localhost:3000/inbox/", Policy{InboxPort: 3000}, "loopback host"},
		{"http://10.0.0.5:3000/inbox/demo", Policy{InboxPort: 3000}, "private"},
		{"http://localhost/inbox/demo", Policy{InboxPort: 80}, "loopback host"},
		// Issue 12 item 1: an inbox path that a server cleaning paths reads
		// as another route, and loopback addresses the listener does not
		// serve, where another process may listen at the same port.
		{"http://127.0.0.1:3000/inbox/../admin", Policy{InboxPort: 3000}, "loopback"},
		{"http://127.0.0.1:3000/inbox/%2e%2e/admin", Policy{InboxPort: 3000}, "loopback"},
		{"http://127.0.0.1:3000/inbox/x/../../admin", Policy{InboxPort: 3000}, "loopback"},
		{"http://127.0.0.1:3000/inbox/x%2f..%2f..%2fadmin", Policy{InboxPort: 3000}, "loopback"},
		{"http://localhost:3000/inbox/..", Policy{InboxPort: 3000}, "loopback host"},
		{"http://localhost:3000/inbox//admin", Policy{InboxPort: 3000}, "loopback host"},
		{"http://[::1]:3000/inbox/demo", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("127.0.0.1")}, "loopback"},
		{"http://127.0.0.2:3000/inbox/demo", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("127.0.0.1")}, "loopback"},
		{"http://127.0.0.1:3000/inbox/demo", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("127.0.0.1")}, ""},
		{"http://[::ffff:127.0.0.1]:3000/inbox/demo", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("127.0.0.1")}, ""},
		{"http://localhost:3000/inbox/demo", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("127.0.0.1")}, ""},
		{"http://[::1]:3000/inbox/demo", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("0.0.0.0")}, "loopback"},
		{"http://127.0.0.9:3000/inbox/demo", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("0.0.0.0")}, ""},
		{"http://[::1]:3000/inbox/demo", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("::")}, ""},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.url)
		err := tt.policy.CheckURL(context.Background(), u)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckURL(%s) = %v, want nil", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckURL(%s) = %v, want an error containing %q", tt.url, err, tt.wantErr)
		case tt.wantErr != "" && tt.wantErr != "https" && !strings.Contains(err.Error(), "--allow-private-targets"):
			t.Errorf("CheckURL(%s) = %v, want the flag named", tt.url, err)
		}
	}
}

// TestControlRefusesDialToLoopback checks the dial-time guard, which is what
// defeats DNS rebinding: whatever a name resolved to at save time, the
// address actually dialled is checked.
func TestControlRefusesDialToLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dialer := &net.Dialer{Control: Policy{}.Control}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	// A host name that resolves (via /etc/hosts) to loopback: the guard acts
	// on the address dialled, not on the name.
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	_, err := client.Get(u)
	if err == nil || !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET %s = %v, want ErrBlocked", u, err)
	}
	allow := &net.Dialer{Control: Policy{AllowPrivate: true}.Control}
	client = &http.Client{Transport: &http.Transport{DialContext: allow.DialContext}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	resp.Body.Close()
}

// TestControlAllowsOwnInbox checks that the inbox exemption opens this
// process's own port on loopback and nothing else.
func TestControlAllowsOwnInbox(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer other.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dialer := &net.Dialer{Control: Policy{InboxPort: port}.Control}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	resp, err := client.Get(srv.URL + "/inbox/demo")
	if err != nil {
		t.Fatalf("GET own inbox: %v", err)
	}
	resp.Body.Close()
	if _, err := client.Get(other.URL); err == nil || !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET another loopback port = %v, want ErrBlocked", err)
	}
}

// TestCheckURLSpellings covers the other ways of writing an internal
// address (issue 12, item 1): zones, numeric IPv4 forms, IPv4 inside IPv6,
// trailing dots, non-ASCII and percent-encoded hosts. Each is refused at
// save, and the message says what kind of address it is.
func TestCheckURLSpellings(t *testing.T) {
	deny, allow := Policy{}, Policy{AllowPrivate: true}
	tests := []struct {
		url     string
		policy  Policy
		wantErr string // "" for accepted
	}{
		// Zones: refused whatever the policy.
		{"http://[::1%251]:8080/", deny, "loopback IPv6 address with a zone"},
		{"http://[::1%25lo]:8080/", deny, "loopback IPv6 address with a zone"},
		{"http://[0:0:0:0:0:0:0:1%25lo]:8080/", deny, "loopback IPv6 address with a zone"},
		{"http://[fe80::1%25eth0]/", deny, "link-local IPv6 address with a zone"},
		{"http://[fd00:ec2::254%25eth0]/", deny, "private"},
		{"http://[::ffff:127.0.0.1%25lo]/", deny, "loopback"},
		{"http://[2606:4700:4700::1111%25eth0]/", deny, "zone"},
		{"http://127.0.0.1%25lo/", deny, "zone"},
		{"http://[::1%25%31]/", deny, "zone"},
		{"http://[::1%25lo]:8080/", allow, "zone"},
		{"http://[fe80::1%25eth0]/", allow, "zone"},
		{"http://[::1%25lo]:3000/inbox/demo", Policy{InboxPort: 3000}, "zone"},
		// Numeric IPv4 spellings: refused whatever the policy, with what
		// they would reach.
		{"http://2130706433/", deny, "loopback address 127.0.0.1"},
		{"http://0177.0.0.1/", deny, "loopback"},
		{"http://0x7f.1/", deny, "loopback"},
		{"http://0X7F.0.0.1/", deny, "loopback"},
		{"http://0x7f000001/", deny, "loopback"},
		{"http://017700000001/", deny, "loopback"},
		{"http://127.1/", deny, "loopback"},
		{"http://127.0.1/", deny, "loopback"},
		{"http://127.000.000.001/", deny, "loopback"},
		{"http://127.0.0.01/", deny, "loopback"},
		{"http://0/", deny, `"this network"`},
		{"http://0x0a.1/", deny, "private"},
		{"http://0xa9fea9fe/", deny, "link-local"},
		{"http://2130706433./", deny, "loopback"},
		{"http://127.1/", allow, "four decimal numbers"},
		{"http://0x08.8.8.8/", deny, "public address 8.8.8.8"},
		{"http://4294967296/", deny, "not an IPv4 address"},
		{"http://1.2.3.4.5/", deny, "not an IPv4 address"},
		{"http://256.0.0.1/", deny, "not an IPv4 address"},
		{"http://example.123/", deny, "not an IPv4 address"},
		// IPv4 inside IPv6, and the other special IPv6 forms.
		{"http://[::ffff:127.0.0.1]/", deny, "loopback"},
		{"http://[::ffff:7f00:1]/", deny, "loopback"},
		{"http://[::ffff:0:7f00:1]/", deny, "IPv4-translated"},
		{"http://[::127.0.0.1]/", deny, "IPv4-compatible"},
		{"http://[::7f00:1]/", deny, "IPv4-compatible"},
		{"http://[64:ff9b::7f00:1]/", deny, "NAT64"},
		{"http://[64:ff9b::a9fe:a9fe]/", deny, "NAT64"},
		{"http://[2002:7f00:1::]/", deny, "6to4"},
		{"http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", deny, "IETF"},
		{"http://[::]/", deny, "unspecified"},
		{"http://[0:0:0:0:0:0:0:1]/", deny, "loopback"},
		{"http://0.0.0.0/", deny, `"this network"`},
		{"http://0.0.0.0:8080/", deny, `"this network"`},
		// Names.
		{"http://localhost./", deny, "loopback host"},
		{"http://LOCALHOST/", deny, "loopback host"},
		{"http://LocalHost.:8080/", deny, "loopback host"},
		{"http://api.localhost./", deny, "loopback host"},
		{"http://localhost../", deny, "empty label"},
		{"http://.localhost/", deny, "empty label"},
		{"http://127.0.0.1./", deny, "loopback"},
		// Non-ASCII hosts, typed or percent-encoded: net/http would dial
		// what IDNA maps them to.
		{"http://１２７.０.０.１/", deny, "non-ASCII"},
		{"http://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1/", deny, "non-ASCII"},
		{"http://ｌｏｃａｌｈｏｓｔ/", allow, "non-ASCII"},
		{"http://bücher.example/", deny, "xn--"},
		// Still accepted.
		{"https://8.8.8.8/hook", deny, ""},
		{"https://[2606:4700:4700::1111]/hook", deny, ""},
		{"http://127.0.0.1:8080/", allow, ""},
		{"http://[::1]:8080/", allow, ""},
		{"http://[fe80::1]/", allow, ""},
		{"http://[::1]:3000/inbox/demo", Policy{InboxPort: 3000}, ""},
	}
	// No name here should reach DNS; if one does, it asks a server that
	// knows nothing rather than the machine's.
	empty := netguardtest.Resolver(t, nil)
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatalf("url.Parse(%s): %v", tt.url, err)
		}
		tt.policy.Resolver = empty
		err = tt.policy.CheckURL(context.Background(), u)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckURL(%s) = %v, want nil", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckURL(%s) = %v, want an error containing %q", tt.url, err, tt.wantErr)
		case err != nil && !errors.Is(err, ErrBlocked):
			t.Errorf("CheckURL(%s) = %v, want it to wrap ErrBlocked", tt.url, err)
		}
	}
}

// TestCheckURLNamesClassNotAddress checks that a name resolving to an
// internal address is refused with the kind of address, not the address:
// the error goes back to the user, who must not learn the internal network
// through it.
func TestCheckURLNamesClassNotAddress(t *testing.T) {
	r := netguardtest.Resolver(t, map[string][]netip.Addr{
		"db.internal.test":       {netip.MustParseAddr("10.20.30.40")},
		"metadata.internal.test": {netip.MustParseAddr("169.254.169.254")},
		"v6.internal.test":       {netip.MustParseAddr("2606:4700:4700::1111"), netip.MustParseAddr("fd12:3456::7")},
		"public.example.test":    {netip.MustParseAddr("93.184.216.34")},
	})
	p := Policy{Resolver: r}
	tests := []struct{ url, class, addr string }{
		{"http://db.internal.test/", "private", "10.20.30.40"},
		{"http://DB.Internal.Test.:8080/x", "private", "10.20.30.40"},
		{"http://metadata.internal.test/latest", "link-local", "169.254.169.254"},
		{"http://v6.internal.test/", "unique local", "fd12:3456::7"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.url)
		err := p.CheckURL(context.Background(), u)
		if err == nil || !strings.Contains(err.Error(), "resolves to a "+tt.class) {
			t.Errorf("CheckURL(%s) = %v, want it to say it resolves to a %s address", tt.url, err, tt.class)
			continue
		}
		if strings.Contains(err.Error(), tt.addr) {
			t.Errorf("CheckURL(%s) = %v, which names the address the host resolved to", tt.url, err)
		}
	}
	for _, ok := range []string{"https://public.example.test/hook", "https://unknown.example.test/hook"} {
		u, _ := url.Parse(ok)
		if err := p.CheckURL(context.Background(), u); err != nil {
			t.Errorf("CheckURL(%s) = %v, want nil", ok, err)
		}
	}
}

// TestControlSpellings calls the dial-time hook with the addresses the
// spellings above come to once parsed or resolved.
func TestControlSpellings(t *testing.T) {
	tests := []struct {
		address string
		policy  Policy
		wantErr string
	}{
		{"[::1%1]:8080", Policy{}, "zone"},
		{"[::1%lo]:8080", Policy{}, "zone"},
		{"[fe80::1%eth0]:80", Policy{}, "zone"},
		{"[fd00:ec2::254%eth0]:80", Policy{}, "zone"},
		{"[::1%lo]:8080", Policy{AllowPrivate: true}, "zone"},
		{"[fe80::1%eth0]:80", Policy{AllowPrivate: true}, "zone"},
		{"[::1%lo]:3000", Policy{InboxPort: 3000}, "zone"},
		{"[2606:4700:4700::1111%eth0]:443", Policy{}, "zone"},
		{"127.0.0.1:80", Policy{}, "loopback"},
		{"[::ffff:127.0.0.1]:80", Policy{}, "loopback"},
		{"[::ffff:0:7f00:1]:80", Policy{}, "IPv4-translated"},
		{"[::7f00:1]:80", Policy{}, "IPv4-compatible"},
		{"[64:ff9b::7f00:1]:80", Policy{}, "NAT64"},
		{"[2002:7f00:1::]:80", Policy{}, "6to4"},
		{"0.0.0.0:80", Policy{}, `"this network"`},
		{"[::]:80", Policy{}, "unspecified"},
		{"10.20.30.40:443", Policy{}, "private"},
		{"not-an-address:80", Policy{}, "cannot parse"},
		{"93.184.216.34:443", Policy{}, ""},
		{"[2606:4700:4700::1111]:443", Policy{}, ""},
		{"127.0.0.1:80", Policy{AllowPrivate: true}, ""},
		{"[::1]:3000", Policy{InboxPort: 3000}, ""},
		// Issue 12 item 1: only the loopback addresses the listener serves.
		{"[::1]:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("127.0.0.1")}, "loopback"},
		{"127.0.0.2:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("127.0.0.1")}, "loopback"},
		{"127.0.0.1:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("127.0.0.1")}, ""},
		{"[::ffff:127.0.0.1]:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("::ffff:127.0.0.1")}, ""},
		{"[::1]:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("0.0.0.0")}, "loopback"},
		{"127.0.0.2:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("0.0.0.0")}, ""},
		{"[::1]:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("::1")}, ""},
		{"127.0.0.1:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("::1")}, "loopback"},
		{"[::1]:3000", Policy{InboxPort: 3000, InboxAddr: netip.MustParseAddr("::")}, ""},
	}
	for _, tt := range tests {
		err := tt.policy.Control("tcp", tt.address, nil)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Control(%s) = %v, want nil", tt.address, err)
		case tt.wantErr != "" && (err == nil || !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Control(%s) = %v, want ErrBlocked containing %q", tt.address, err, tt.wantErr)
		case err != nil && strings.Contains(err.Error(), strings.Trim(tt.address[:strings.LastIndexByte(tt.address, ':')], "[]")):
			t.Errorf("Control(%s) = %v, which names the address dialled", tt.address, err)
		}
	}
}

// TestDialZonedLoopback dials a real receiver on [::1] through a zoned
// address: the guard must refuse before connecting, with or without
// --allow-private-targets.
func TestDialZonedLoopback(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("this machine has no IPv6 loopback: %v", err)
	}
	var hits atomic.Int32
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "internal answer")
	})}}
	srv.Start()
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	lo := loopbackInterface(t)
	// Without the guard the zoned address does reach the receiver: what
	// is refused below is refused by the guard, not by the network.
	if resp, err := http.Get(fmt.Sprintf("http://[::1%%25%s]:%d/", lo, port)); err != nil {
		t.Skipf("a zoned ::1 is not reachable on this machine: %v", err)
	} else {
		resp.Body.Close()
	}
	hits.Store(0)
	for _, p := range []Policy{{}, {AllowPrivate: true}, {InboxPort: port}} {
		dialer := &net.Dialer{Control: p.Control}
		client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
		for _, u := range []string{
			fmt.Sprintf("http://[::1%%25%s]:%d/inbox/x", lo, port),
			fmt.Sprintf("http://[0:0:0:0:0:0:0:1%%25%s]:%d/", lo, port),
		} {
			resp, err := client.Get(u)
			if err == nil {
				resp.Body.Close()
			}
			if !errors.Is(err, ErrBlocked) {
				t.Errorf("%+v: GET %s = %v, want ErrBlocked", p, u, err)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the receiver on [::1] answered %d guarded requests, want 0", n)
	}
}

// loopbackInterface names the loopback interface, for zones.
func loopbackInterface(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skipf("cannot list network interfaces: %v", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Name
		}
	}
	t.Skip("no loopback interface")
	return ""
}

// TestDialNonASCIILoopback checks that a host net/http maps to a loopback
// address (fullwidth digits, IDNA) is refused on the address dialled, as a
// webhook saved before CheckURL refused such hosts would be.
func TestDialNonASCIILoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dialer := &net.Dialer{Control: Policy{}.Control}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	for _, u := range []string{
		fmt.Sprintf("http://１２７.０.０.１:%d/", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port),
		fmt.Sprintf("http://0.0.0.0:%d/", port),
	} {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("GET %s = %v, want ErrBlocked", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver answered %d guarded requests, want 0", n)
	}
}

// TestCheckURLLooksUpOnCallersContext checks that CheckURL's DNS lookup
// runs on the context it is given (the saving request's), so a caller who
// hangs up ends it, rather than on a fresh context that outlives them
// (issue 14 item 7).
func TestCheckURLLooksUpOnCallersContext(t *testing.T) {
	type key struct{}
	var dials, onCallers atomic.Int32
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		dials.Add(1)
		if ctx.Value(key{}) == "request" {
			onCallers.Add(1)
		}
		return nil, errors.New("test resolver: no server")
	}}
	ctx := context.WithValue(context.Background(), key{}, "request")
	u, _ := url.Parse("https://hook.example.test/")
	if err := (Policy{Resolver: r}).CheckURL(ctx, u); err != nil {
		t.Fatalf("CheckURL(%s) = %v, want nil (a host that does not resolve is accepted)", u, err)
	}
	if dials.Load() == 0 {
		t.Fatal("the lookup never dialled the resolver")
	}
	if n := onCallers.Load(); n != dials.Load() {
		t.Errorf("%d of %d resolver dials ran on the caller's context", n, dials.Load())
	}
}
