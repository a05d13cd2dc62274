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
	"unicode"
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
		// After :: and ::1, which they contain: IPv4-compatible and
		// IPv4-translated addresses carry an IPv4 address inside that some
		// stacks reach over IPv4.
		{"::/96", "IPv4-compatible (deprecated)"},
		{"::ffff:0:0:0/96", "IPv4-translated"},
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
// A zone is ignored: netip.Prefix.Contains never matches a zoned address, so
// ::1%lo would otherwise pass as public.
func Classify(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
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
	// InboxAddr is the address that listener is bound to. Only loopback
	// addresses it serves are exempt: a listener on 127.0.0.1 does not
	// serve [::1] or 127.0.0.2 at the same port, where another process may
	// listen. The zero value, like an unspecified address bound dual-stack
	// (::), serves every loopback address; 0.0.0.0 serves IPv4 only.
	InboxAddr netip.Addr
}

// servesInbox reports whether a dial to ip at InboxPort reaches this
// process's own listener.
func (p Policy) servesInbox(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if !ip.IsLoopback() {
		return false
	}
	bound := p.InboxAddr.WithZone("").Unmap()
	switch {
	case !bound.IsValid() || bound == netip.IPv6Unspecified():
		return true
	case bound == netip.IPv4Unspecified():
		return ip.Is4()
	default:
		return ip == bound
	}
}

// isOwnInbox reports whether u is this process's inbox on an address its
// listener serves; a host name (localhost) is left to the dial-time check,
// which tries each of its addresses.
func (p Policy) isOwnInbox(u *url.URL) bool {
	if !IsInboxURL(u, p.InboxPort) {
		return false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err != nil || p.servesInbox(ip)
}

// InboxPath is where the built-in inbox lives.
const InboxPath = "/inbox/"

// IsInboxURL reports whether u targets the built-in inbox of a process
// listening on port: an http(s) URL on a loopback host at that port, under
// /inbox/.
//
// The path must be one inbox name: /inbox/x/../../admin, or its
// percent-encoded spellings, start with /inbox/ but a server that cleans
// paths reads them as another route.
func IsInboxURL(u *url.URL, port int) bool {
	name, ok := strings.CutPrefix(u.Path, InboxPath)
	if port <= 0 || !ok || name == "" || name == "." || name == ".." || strings.Contains(name, "/") || u.Opaque != "" {
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
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// CheckURL vets a webhook URL when it is saved: the scheme, the spelling of
// the host, and every address the host resolves to now. A host that does
// not resolve is accepted here; the dial-time check still guards it. The
// lookup runs on ctx (the saving request's), so it ends when the caller
// hangs up, and at most 3 seconds.
//
// Some spellings are refused whatever the policy (see checkSpelling). A
// refusal names the class of address a host name resolves to, never the
// address itself: that would let users map an internal network through
// its DNS.
func (p Policy) CheckURL(ctx context.Context, u *url.URL) error {
	if p.RequireHTTPS && u.Scheme != "https" {
		return fmt.Errorf("%w: must be an https:// URL (webhookd runs with --require-https)", ErrBlocked)
	}
	host, err := checkSpelling(u.Hostname())
	if err != nil {
		return err
	}
	if p.AllowPrivate || p.isOwnInbox(u) {
		return nil
	}
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
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, ip := range addrs {
		if what := Classify(ip); what != "" {
			return fmt.Errorf("%w: %s resolves to a %s address; %s", ErrBlocked, host, what, FlagHint)
		}
	}
	return nil
}

// checkSpelling refuses host spellings that are never a webhook target or
// that resolvers read differently, whatever the policy, and returns the host
// lower-cased without its final dot:
//
//   - a zone (::1%lo, fe80::1%eth0): it names an interface of this machine;
//   - non-ASCII characters: net/http maps them (IDNA) before dialling, so
//     １２７.０.０.１ or a percent-encoded form of it would dial 127.0.0.1
//     while the check here looked up a name that does not exist;
//   - a host that ends in a number but is not a dotted-quad IPv4 address
//     (2130706433, 0177.0.0.1, 0x7f.1, 127.1, 127.000.000.001): the C
//     library reads these as IPv4 addresses and Go's resolver does not;
//   - empty labels (localhost..), and an IPv6 literal that does not parse.
func checkSpelling(raw string) (string, error) {
	host := strings.ToLower(raw)
	if strings.Contains(host, "%") {
		if ip, err := netip.ParseAddr(host); err == nil {
			if what := Classify(ip); what != "" {
				return "", fmt.Errorf("%w: the host is a %s IPv6 address with a zone (%%25%s); a zoned address names a network interface of this machine and is never a webhook target", ErrBlocked, what, ip.Zone())
			}
		}
		return "", fmt.Errorf("%w: the host has a zone or a %% sign; a zoned address names a network interface of this machine and is never a webhook target", ErrBlocked)
	}
	for _, c := range host {
		if c > unicode.MaxASCII {
			return "", fmt.Errorf("%w: the host has non-ASCII characters; write an internationalised domain name in its ASCII form (xn--…)", ErrBlocked)
		}
	}
	host = strings.TrimSuffix(host, ".")
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", fmt.Errorf("%w: %s is not a valid IPv6 address", ErrBlocked, host)
		}
		return host, nil
	}
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return "", fmt.Errorf("%w: %q is not a valid host name (it has an empty label)", ErrBlocked, raw)
	}
	if _, err := netip.ParseAddr(host); err == nil || !endsInNumber(host) {
		return host, nil
	}
	const how = "write an IPv4 address as four decimal numbers from 0 to 255 without leading zeros, such as 203.0.113.10"
	ip, ok := parseNumericIPv4(host)
	if !ok {
		return "", fmt.Errorf("%w: %s ends in a number but is not an IPv4 address; %s", ErrBlocked, host, how)
	}
	what := "public"
	if c := Classify(ip); c != "" {
		what = c
	}
	return "", fmt.Errorf("%w: %s is a non-standard spelling of the %s address %s, which resolvers read differently; %s", ErrBlocked, host, what, ip, how)
}

// endsInNumber reports whether host's last label is a number (decimal, or
// hexadecimal after 0x), which makes the host an IPv4 address to URL
// parsers that follow the WHATWG URL standard and to inet_aton. No top-level
// domain is a number.
func endsInNumber(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if h, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// parseNumericIPv4 reads host as inet_aton does: one to four parts, each
// decimal, octal (leading 0) or hexadecimal (0x), the last filling the bytes
// that remain. It is how the C library, curl and browsers would read it, so
// the refusal can say what such a spelling reaches.
func parseNumericIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, part := range parts {
		base := 10
		switch {
		case strings.HasPrefix(part, "0x"):
			base, part = 16, part[2:]
			if part == "" {
				part = "0"
			}
		case len(part) > 1 && part[0] == '0':
			base, part = 8, part[1:]
		}
		v, err := strconv.ParseUint(part, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if v > 255 {
				return netip.Addr{}, false
			}
			b[i] = byte(v)
			continue
		}
		// The last part fills bytes i to 3.
		if rest := 4 - i; rest < 4 && v >= 1<<(8*rest) {
			return netip.Addr{}, false
		}
		for j := 3; j >= i; j-- {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return netip.AddrFrom4(b), true
}

// Control is a net.Dialer Control hook that refuses blocked addresses after
// DNS, on the address about to be connected.
//
// A zoned address is refused whatever the policy, as CheckURL refuses it.
// The refusal names the class of the address, not the address: it ends up
// in delivery logs that users read, and the address may be an internal DNS
// answer.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err == nil && ap.Addr().Zone() != "" {
		return fmt.Errorf("%w: the address dialled has an IPv6 zone, which names a network interface of this machine and is never a webhook target", ErrBlocked)
	}
	if p.AllowPrivate {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: cannot parse the address dialled", ErrBlocked)
	}
	if p.InboxPort > 0 && int(ap.Port()) == p.InboxPort && p.servesInbox(ap.Addr()) {
		return nil // this process's own listener: the built-in inbox
	}
	if what := Classify(ap.Addr()); what != "" {
		return fmt.Errorf("%w: the address dialled is a %s address; %s", ErrBlocked, what, FlagHint)
	}
	return nil
}
