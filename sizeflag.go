package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag value counting bytes, written as a number with an
// optional unit: KiB, MiB, GiB (powers of 1024), KB, MB, GB (powers of
// 1000) or B, in any case, as in "64MiB" or "500MB".
type byteSize int64

var sizeUnits = []struct {
	suffix string
	scale  int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"b", 1},
}

// parseByteSize reads a size such as "64MiB".
func parseByteSize(s string) (int64, error) {
	text := strings.ToLower(strings.TrimSpace(s))
	scale := int64(1)
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(text, u.suffix); ok {
			text, scale = strings.TrimSpace(num), u.scale
			break
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a whole number of bytes, optionally with KiB, MiB, GiB, KB, MB or GB", s)
	}
	if n > 0 && scale > (1<<62)/n {
		return 0, errors.New("size " + strconv.Quote(s) + ": too large")
	}
	return n * scale, nil
}

// String implements flag.Value, in the largest binary unit that divides
// the size exactly.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		name  string
		scale int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.scale == 0 {
			return strconv.FormatInt(n/u.scale, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set implements flag.Value.
func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}
