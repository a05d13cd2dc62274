// Package netguardtest gives tests of the address guard a real DNS server:
// a UDP responder on 127.0.0.1 with fixed answers, and a resolver that asks
// it and nothing else, so that tests of host names never reach the
// machine's own DNS.
package netguardtest

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// Resolver starts a DNS server answering A and AAAA questions from answers
// (keyed by lower-case name without the final dot; any other name is
// NXDOMAIN) and returns a pure-Go resolver that sends every question to it.
// The server stops when t ends.
func Resolver(t testing.TB, answers map[string][]netip.Addr) *net.Resolver {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("netguardtest: listen: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return // closed by the cleanup below
			}
			if reply := answer(buf[:n], answers); reply != nil {
				_, _ = conn.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		wg.Wait()
	})
	addr := conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			if !strings.HasPrefix(network, "udp") {
				return nil, errors.New("netguardtest: the test DNS server answers over UDP only")
			}
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// answer builds the reply to one DNS query, or nil for a packet that is not
// a single-question query.
func answer(q []byte, answers map[string][]netip.Addr) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels, then type and class.
	var labels []string
	i := 12
	for {
		if i >= len(q) {
			return nil
		}
		n := int(q[i])
		i++
		if n == 0 {
			break
		}
		if n > 63 || i+n > len(q) {
			return nil
		}
		labels = append(labels, string(q[i:i+n]))
		i += n
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	question := q[12 : i+4]
	name := strings.ToLower(strings.Join(labels, "."))

	addrs, known := answers[name]
	var rrs [][]byte
	for _, a := range addrs {
		var data []byte
		switch {
		case qtype == 1 && a.Is4():
			b := a.As4()
			data = b[:]
		case qtype == 28 && a.Is6() && !a.Is4In6():
			b := a.As16()
			data = b[:]
		default:
			continue
		}
		rr := []byte{0xc0, 12} // the name: a pointer to the question's
		rr = binary.BigEndian.AppendUint16(rr, qtype)
		rr = binary.BigEndian.AppendUint16(rr, 1)  // class IN
		rr = binary.BigEndian.AppendUint32(rr, 60) // TTL
		rr = binary.BigEndian.AppendUint16(rr, uint16(len(data)))
		rrs = append(rrs, append(rr, data...))
	}
	flags := uint16(0x8580) // a response, authoritative, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	out := make([]byte, 0, 512)
	out = append(out, q[0], q[1]) // the query's id
	out = binary.BigEndian.AppendUint16(out, flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(rrs)))
	out = binary.BigEndian.AppendUint32(out, 0) // no authority or additional records
	out = append(out, question...)
	for _, rr := range rrs {
		out = append(out, rr...)
	}
	return out
}
