package e2e

// Issue 5's `webhookd bench` on the real binary: every figure it promises
// is printed and every delivery arrives exactly once, on both databases,
// in batch and steady mode, against its own webhookd and against a running
// one; the profiles it is asked for are written.

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store/storetest"
)

// benchFigures are the rows every bench report prints.
var benchFigures = []string{
	"events accepted per second",
	"deliveries per second (end to end)",
	"deliveries arrived",
	"publish→arrival latency p50",
	"publish→arrival latency p95",
	"publish→arrival latency p99",
	"publish→arrival latency max",
	"time to publish / to last arrival",
	"CPU seconds per 1,000 deliveries",
	"peak RSS",
}

var (
	benchArrived = regexp.MustCompile(`deliveries arrived\s+(\d+) \(missing 0, duplicates 0, failed on purpose (\d+)\)`)
	benchRate    = regexp.MustCompile(`deliveries per second \(end to end\)\s+(\d+)`)
	benchFloor   = regexp.MustCompile(`floor: deliveries per second\s+(\d+)  \(bare Go server in webhookd's place, same publishers and receiver: (\d+) events, (\d+) exchanges in `)
	benchOfFloor = regexp.MustCompile(`deliveries per second \(end to end\)\s+(\d+)  \((\d+\.\d)% of the floor\)`)
	benchOwnCPU  = regexp.MustCompile(`webhookd CPU seconds per 1,000 deliveries\s+(\d+\.\d{3})  \((\d+\.\d{2})s in all, process (\d+) alone, from /proc/(\d+)/stat\)`)
)

// checkFloor checks that a --baseline report has a floor line for events
// and exchanges and the deliveries per second as a positive percentage of
// it. It asserts no rate: only that the figures are there and positive.
func checkFloor(t *testing.T, r result, events, exchanges int) {
	t.Helper()
	m := benchFloor.FindStringSubmatch(r.stdout)
	if m == nil || m[1] == "0" || m[2] != strconv.Itoa(events) || m[3] != strconv.Itoa(exchanges) {
		t.Errorf("want a floor line with a positive rate over %d events and %d exchanges\n%s", events, exchanges, r)
	}
	if p := benchOfFloor.FindStringSubmatch(r.stdout); p == nil || p[1] == "0" || p[2] == "0.0" {
		t.Errorf("want deliveries per second as a positive percentage of the floor\n%s", r)
	}
}

// checkBenchReport checks that the report has every figure and a delivery
// rate, and that want deliveries arrived, none missing and none twice. It
// returns how many answers the receiver failed on purpose.
func checkBenchReport(t *testing.T, r result, want int) int {
	t.Helper()
	for _, f := range benchFigures {
		if !strings.Contains(r.stdout, "  "+f+" ") {
			t.Errorf("the report lacks %q\n%s", f, r)
		}
	}
	m := benchArrived.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != strconv.Itoa(want) {
		t.Fatalf("want %d deliveries arrived, none missing or twice\n%s", want, r)
	}
	if rate := benchRate.FindStringSubmatch(r.stdout); rate == nil || rate[1] == "0" {
		t.Errorf("no delivery rate in the report\n%s", r)
	}
	failed, _ := strconv.Atoi(m[2])
	return failed
}

// checkProfile checks that path holds a pprof profile (gzip-compressed
// protocol buffers).
func checkProfile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) || len(b) < 100 {
		t.Errorf("%s is not a pprof profile (%d bytes)", path, len(b))
	}
}

func TestE2EBench(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		dir := t.TempDir()
		cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
		args := []string{"bench", "--events", "300", "--webhooks", "2", "--concurrency", "8",
			"--cpuprofile", cpu, "--memprofile", mem}
		if strings.HasPrefix(db, "postgres") {
			args = append(args, "--db", db)
		}
		r := mustWebhookd(t, nil, "", args...)
		if !strings.Contains(r.stdout, "webhookd bench: 300 events × 2 webhooks") || !strings.Contains(r.stdout, "and webhookd)") {
			t.Errorf("the report does not say what ran\n%s", r)
		}
		checkBenchReport(t, r, 600)
		// Issue 19: stderr is a pipe here, so progress comes as plain
		// lines, not a bar redrawn with carriage returns.
		if strings.Contains(r.stderr, "\r") || !strings.Contains(r.stderr, "600/600 deliveries (100%)\n") {
			t.Errorf("bench's progress on a pipe: %q, want plain lines ending with 600/600 deliveries (100%%) and no \\r", r.stderr)
		}
		checkProfile(t, cpu)
		checkProfile(t, mem)
	})

	t.Run("batch publishing", func(t *testing.T) {
		r := mustWebhookd(t, nil, "", "bench", "--events", "450", "--batch", "100", "--webhooks", "2")
		checkBenchReport(t, r, 900)
	})

	t.Run("more webhooks than an owner's default allowance", func(t *testing.T) {
		// The benchmarked webhookd lifts --max-webhooks-per-owner (100).
		r := mustWebhookd(t, nil, "", "bench", "--events", "2", "--webhooks", "101")
		checkBenchReport(t, r, 202)
	})

	t.Run("steady rate", func(t *testing.T) {
		r := mustWebhookd(t, nil, "", "bench", "--duration", "1s", "--rate", "100")
		checkBenchReport(t, r, 100)
	})

	t.Run("receiver failures are retried", func(t *testing.T) {
		r := mustWebhookd(t, nil, "", "bench", "--events", "200", "--receiver-fail-rate", "0.3",
			"--retry-schedule", "10ms,10ms,10ms,10ms,10ms,10ms,10ms,10ms,10ms,10ms")
		if failed := checkBenchReport(t, r, 200); failed == 0 {
			t.Errorf("the receiver failed no answer on purpose\n%s", r)
		}
	})

	t.Run("every webhook filtered", func(t *testing.T) {
		r := mustWebhookd(t, nil, "", "bench", "--events", "100", "--webhooks", "3",
			"--filter", `{"event": "message.new", "data.seq": {"$gte": 0}, "data.content": {"$regex": "^x*$"}}`)
		checkBenchReport(t, r, 300)
	})

	t.Run("a running webhookd", func(t *testing.T) {
		p := startServe(t, storetest.SQLitePath(t), adminEnv)
		token := login(t, p.URL, adminEmail, adminPassword)
		r := mustWebhookd(t, nil, "", "bench", "--target", p.URL, "--token", token, "--events", "200")
		checkBenchReport(t, r, 200)
		if strings.Contains(r.stdout, "and webhookd)") {
			t.Errorf("against a running webhookd, the CPU and RSS figures claim to include it\n%s", r)
		}
		// Issue 18: the target on loopback is found by its listening
		// socket, and its own CPU is reported apart from the bench's.
		pid := strconv.Itoa(p.cmd.Process.Pid)
		if m := benchOwnCPU.FindStringSubmatch(r.stdout); m == nil || m[3] != pid || m[4] != pid {
			t.Errorf("want webhookd's own CPU per 1,000 deliveries from process %s, found by its port\n%s", pid, r)
		}
	})

	t.Run("baseline", func(t *testing.T) {
		r := mustWebhookd(t, nil, "", "bench", "--events", "300", "--webhooks", "2", "--baseline")
		checkBenchReport(t, r, 600)
		checkFloor(t, r, 300, 300+600)
	})

	t.Run("baseline for batches against a running webhookd, its pid given", func(t *testing.T) {
		p := startServe(t, storetest.SQLitePath(t), adminEnv)
		token := login(t, p.URL, adminEmail, adminPassword)
		pid := strconv.Itoa(p.cmd.Process.Pid)
		r := mustWebhookd(t, nil, "", "bench", "--target", p.URL, "--token", token, "--target-pid", pid,
			"--events", "400", "--batch", "50", "--baseline")
		checkBenchReport(t, r, 400)
		checkFloor(t, r, 400, 8+400)
		if m := benchOwnCPU.FindStringSubmatch(r.stdout); m == nil || m[3] != pid {
			t.Errorf("want webhookd's own CPU per 1,000 deliveries from process %s\n%s", pid, r)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"bench", "--receiver-fail-rate", "1"},
			{"bench", "--target", "http://127.0.0.1:9"},
			{"bench", "--batch", "1001"},
			{"bench", "--batch", "0"},
			{"bench", "--filter", "{not json"},
			{"bench", "--events", "10", "--filter", `{"data.seq": {"$lt": 0}}`},
			{"bench", "--events", "10", "--filter", `{"data.seq": {"$in": 1}}`},
			{"bench", "--baseline", "--duration", "1s", "--rate", "10"},
			{"bench", "--baseline", "--receiver-fail-rate", "0.1"},
			{"bench", "--target-pid", "1"},
			{"bench", "--target", "http://127.0.0.1:9", "--token", "x", "--target-pid", "-1"},
			{"bench", "--target", "http://127.0.0.1:9", "--token", "x", "--target-pid", "999999999"},
		} {
			r := webhookd(t, nil, "", args...)
			if r.code == 0 || !strings.Contains(r.stderr, "bench:") {
				t.Errorf("%s\nwant a non-zero exit naming bench's problem", r)
			}
		}
	})
}
