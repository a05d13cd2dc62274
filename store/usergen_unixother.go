//go:build unix && !linux

package store

import "os"

// allocateUserGen grows the user changes file to its counters' size,
// keeping what it holds (see the Linux version, which also allocates
// the counters' block).
func allocateUserGen(f *os.File, size int64) error { return extendUserGen(f, size) }
