package netguard

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
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
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.url)
		err := tt.policy.CheckURL(u)
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
