package store

import (
	"errors"
	"os"
	"syscall"
)

// allocateUserGen grows the user changes file to its counters' size with
// their block allocated, keeping what it holds. A file only extended
// (ftruncate) has no block: on a full file system the first count into
// its mapping would then kill the process with SIGBUS instead of failing
// (SQLite writes into its -shm before mapping it, for the same reason).
// Where the file system cannot allocate ahead, it is extended as before.
func allocateUserGen(f *os.File, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, userGenSize)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOSYS):
			return extendUserGen(f, size)
		default:
			return err
		}
	}
}
