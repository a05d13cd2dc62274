package wire

import (
	"math/rand/v2"
	"testing"
	"time"
)

// AppendTime writes what time.Format with TimeLayout in UTC writes, for
// every year, zone and fraction, including years it leaves to Format.
func TestAppendTimeIsFormat(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+30*60), time.FixedZone("west", -11*3600)}
	cases := []time.Time{
		time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 15, 1, 2, 3, 4_000_000, time.UTC),
		{},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		cases = append(cases, time.Unix(r.Int64N(400*365*86400)-100*365*86400, r.Int64N(1e9)))
	}
	for i, c := range cases {
		c = c.In(zones[i%len(zones)])
		want := c.UTC().Format(TimeLayout)
		if got := string(AppendTime([]byte("x"), c)); got != "x"+want {
			t.Fatalf("AppendTime(%v) = %q, want %q", c, got[1:], want)
		}
		if got := Time(c); got != want {
			t.Fatalf("Time(%v) = %q, want %q", c, got, want)
		}
	}
}

// BenchmarkAppendTime and BenchmarkFormatTime compare the envelope's
// timestamp as written now with time.Format, which it replaced.
func BenchmarkAppendTime(b *testing.B) {
	at, buf := time.Now(), make([]byte, 0, 32)
	for b.Loop() {
		buf = AppendTime(buf[:0], at)
	}
}

func BenchmarkFormatTime(b *testing.B) {
	at := time.Now()
	for b.Loop() {
		_ = at.UTC().Format(TimeLayout)
	}
}
