package bench

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProcessCPUOfThisProcess(t *testing.T) {
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel's tick count moves: the figure must
	// follow real work, not just parse.
	var after time.Duration
	x := 0
	for after <= before {
		for i := range 10_000_000 {
			x += i ^ x
		}
		if after, err = ProcessCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after-before <= 0 || x == 42 {
		t.Errorf("CPU went from %s to %s", before, after)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses: fields count from the
	// last ')'. utime 250 and stime 50 ticks are 3 s.
	line := "1234 (web) d (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 1000 200 18446744073709551615\n"
	got, err := parseStatCPU([]byte(line))
	if err != nil || got != 3*time.Second {
		t.Errorf("parseStatCPU = %s, %v; want 3s", got, err)
	}
	for _, bad := range []string{"", "1234 (web", "1234 (web) S 1 2", "1234 (web) S 1 1 1 0 -1 0 0 0 0 0 x 50 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) took it", bad)
		}
	}
}

func TestProcessCPUOfNoProcess(t *testing.T) {
	if _, err := ProcessCPU(-1); err == nil || !strings.Contains(err.Error(), "bench: CPU of process -1") {
		t.Errorf("err = %v, want one naming the process", err)
	}
}

func TestFindListener(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network]
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Logf("%s: %v", network, err)
			continue
		}
		defer ln.Close()
		pid, err := FindListener("http://" + ln.Addr().String())
		if err != nil || pid != os.Getpid() {
			t.Errorf("%s: FindListener = %d, %v; want this process, %d", network, pid, err, os.Getpid())
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	for target, want := range map[string]string{
		"http://localhost:" + strconv.Itoa(port): "nothing listens on port",
		"http://192.0.2.1:3000":                  "not a loopback address",
		"http://127.0.0.1:99999":                 "port",
	} {
		if _, err := FindListener(target); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FindListener(%s) = %v, want an error with %q", target, err, want)
		}
	}
}
