// Package netguard keeps webhookd from being turned against the network it
// runs in: it refuses webhook targets on loopback, private, link-local and
// other special-purpose addresses, both when a URL is saved and on the
// address actually dialled, so a DNS answer that changes after the check
// (DNS rebinding) gets nowhere.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FlagHint tells users how to allow private targets.
const FlagHint = "start webhookd with --allow-private-targets (WEBHOOKD_ALLOW_PRIVATE_TARGETS=true) to allow them"

// ErrBlocked is wrapped by every refusal.
var ErrBlocked = errors.New("netguard: target address not allowed")

// blockedRange is a special-purpose range and why it is refused.
type blockedRange struct {
	prefix netip.Prefix
	what   string
}

// blocked lists the IANA special-purpose ranges a webhook must not reach.
var blocked = func() []blockedRange {
	ranges := []struct{ cidr, what string }{
		{"0.0.0.0/8", "\"this network\""},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local (cloud metadata)"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4 relay"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"},
		{"255.255.255.255/32", "broadcast"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"64:ff9b::/96", "NAT64"},
		{"64:ff9b:1::/48", "NAT64"},
		{"100::/64", "discard"},
		{"2001::/23", "IETF protocol assignments"},
		{"2001:db8::/32", "documentation"},
		{"2002::/16", "6to4"},
		{"fc00::/7", "unique local (private)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]blockedRange, len(ranges))
	for i, r := range ranges {
		out[i] = blockedRange{netip.MustParsePrefix(r.cidr), r.what}
	}
	return out
}()

// Classify returns why ip is refused, or "" when it is a public address.
func Classify(ip netip.Addr) string {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if !ip.IsValid() {
		return "invalid"
	}
	for _, r := range blocked {
		if r.prefix.Contains(ip) {
			return r.what
		}
	}
	return ""
}

// Policy decides which webhook targets are allowed.
type Policy struct {
	// AllowPrivate turns the address guard off, for development and for
	// sidecars whose receivers sit on a private network.
	AllowPrivate bool
	// RequireHTTPS refuses http:// targets.
	RequireHTTPS bool
	// Resolver looks up host names at check time; nil uses the default.
	Resolver *net.Resolver
	// InboxPort is the port this process serves its built-in inbox on (0:
	// none). A URL on a loopback host at that port whose path is under
	// /inbox/ is allowed, and so is dialling a loopback address at that
	// port: the request can only reach this same process, never the
	// network around it.
	InboxPort int
}

// InboxPath is where the built-in inbox lives.
const InboxPath = "/inbox/"

// IsInboxURL reports whether u targets the built-in inbox of a process
// listening on port: an http(s) URL on a loopback host at that port, under
// /inbox/.
func IsInboxURL(u *url.URL, port int) bool {
	if port <= 0 || !strings.HasPrefix(u.Path, InboxPath) || len(u.Path) == len(InboxPath) {
		return false
	}
	if u.Port() != strconv.Itoa(port) {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// CheckURL vets a webhook URL when it is saved: the scheme, and every
// address the host resolves to now. A host that does not resolve is
// accepted here; the dial-time check still guards it.
func (p Policy) CheckURL(u *url.URL) error {
	if p.RequireHTTPS && u.Scheme != "https" {
		return fmt.Errorf("%w: must be an https:// URL (webhookd runs with --require-https)", ErrBlocked)
	}
	if p.AllowPrivate || IsInboxURL(u, p.InboxPort) {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s is a loopback host; %s", ErrBlocked, host, FlagHint)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if what := Classify(ip); what != "" {
			return fmt.Errorf("%w: %s is a %s address; %s", ErrBlocked, ip, what, FlagHint)
		}
		return nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, ip := range addrs {
		if what := Classify(ip); what != "" {
			return fmt.Errorf("%w: %s resolves to %s, a %s address; %s", ErrBlocked, host, ip.Unmap(), what, FlagHint)
		}
	}
	return nil
}

// Control is a net.Dialer Control hook that refuses blocked addresses after
// DNS, on the address about to be connected.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dial address %q", ErrBlocked, address)
	}
	if p.InboxPort > 0 && int(ap.Port()) == p.InboxPort && ap.Addr().Unmap().IsLoopback() {
		return nil // this process's own listener: the built-in inbox
	}
	if what := Classify(ap.Addr()); what != "" {
		return fmt.Errorf("%w: %s is a %s address; %s", ErrBlocked, ap.Addr().Unmap(), what, FlagHint)
	}
	return nil
}
