//go:build unix

package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// userGenFile is how the processes on one SQLite file tell each other that
// users changed, so that a serving process can keep its user cache exact
// (see userCache). SQLite has no notifications, and a serving process
// shares its file with the admin commands (ForAdmin) that create, disable
// and delete users, revoke keys and delete tenants from another process.
//
// The file (the database's path + ".users") holds two counters, mapped
// into every process that opens it: begun, counted before each change to
// users, keys or tenants, and done, counted after its transaction ends.
// While they differ a change may be on its way, and the cache is neither
// read nor filled; when they are equal, done names the state of the
// database, and what the cache read in another state is forgotten. A
// lookup costs two atomic loads instead of a read of the database.
//
// A process that dies between the two counts would leave them apart for
// good, the cache off. Every change therefore holds a shared flock on the
// file from before begun until after done, and a reader that finds the
// counters apart and can take the lock exclusively (no change is in flight
// anywhere) sets done to begun: what the dead process committed, or not,
// is then read anew.
type userGenFile struct {
	mem []byte // the mapped page; the counters are its first 16 bytes
	// changing holds the shared lock while this process makes changes;
	// healing is a separate open of the file, so that its exclusive lock
	// conflicts with this process's own shared one too (flock locks
	// belong to an open file, not to a process).
	changing, healing *os.File

	mu      sync.Mutex
	changes int // this process's changes in flight, under the shared lock
	// orphaned names the file when it was made anew beside a serving
	// process that maps another (see openUserGen): begin refuses.
	orphaned string
	// closed is set by close; while changes are in flight the mapping and
	// the lock outlive it, and the last change's end lets them go.
	closed bool
}

// userGenSize is the counters' bytes: begun, then done.
const userGenSize = 16

// openUserGen opens, creating it as needed, the counters file of the
// SQLite database at dbPath, with the database file's permissions. admin
// is a store opened ForAdmin, beside a serving process perhaps.
func openUserGen(dbPath string, admin bool) (*userGenFile, error) {
	// Named after the database's file itself: SQLite follows a symbolic
	// link to it, and a process that names the database through one must
	// count its changes in the same file as one that names it directly.
	dbPath = realPath(dbPath)
	mode := os.FileMode(0o600)
	st, statErr := os.Stat(dbPath)
	if statErr == nil {
		mode = st.Mode().Perm()
	}
	path := dbPath + ".users"
	changing, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
	created := err == nil
	if errors.Is(err, fs.ErrExist) {
		changing, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// An admin command run as root (as the service's documentation has
	// it) gives the file the database's owner, as SQLite does its -wal
	// and -shm: one only root could open would keep the service from
	// opening its database.
	if statErr == nil && os.Geteuid() == 0 {
		if db, ok := st.Sys().(*syscall.Stat_t); ok {
			if own, err := changing.Stat(); err == nil {
				if o, ok := own.Sys().(*syscall.Stat_t); ok && (o.Uid != db.Uid || o.Gid != db.Gid) {
					if err := changing.Chown(int(db.Uid), int(db.Gid)); err != nil {
						_ = changing.Close()
						return nil, fmt.Errorf("store: give %s the database's owner: %w", path, err)
					}
				}
			}
		}
	}
	f := &userGenFile{changing: changing}
	// A serving process makes the file as it opens the database, after
	// taking the process lock. An admin command that had to make it
	// beside a serving process therefore counts where that process does
	// not look (the file was deleted under it): its changes would go
	// unseen, so it makes none.
	if admin && created && lockHeld(dbPath+".lock") {
		f.orphaned = path
	}
	if err := f.init(path); err != nil {
		f.close()
		return nil, fmt.Errorf("store: user changes file %s: %w", path, err)
	}
	return f, nil
}

func (f *userGenFile) init(path string) error {
	st, err := f.changing.Stat()
	if err != nil {
		return err
	}
	// Only ever grown: two processes creating it at once must not cut
	// off counts the other already made.
	if err := allocateUserGen(f.changing, st.Size()); err != nil {
		return err
	}
	if f.healing, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
		return err
	}
	f.mem, err = syscall.Mmap(int(f.changing.Fd()), 0, userGenSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	return err
}

// counters returns begun and done, in the shared mapping (page-aligned,
// so 8-byte aligned as atomics need).
func (f *userGenFile) counters() (begun, done *atomic.Uint64) {
	return (*atomic.Uint64)(unsafe.Pointer(&f.mem[0])), (*atomic.Uint64)(unsafe.Pointer(&f.mem[8]))
}

// begin counts a change as begun, under the shared lock.
func (f *userGenFile) begin() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("store: user changes file closed")
	}
	if f.orphaned != "" {
		return fmt.Errorf("store: %s was missing while a webhookd serve process holds this database, so that process would not see this change; restart it (it makes the file anew), then try again", f.orphaned)
	}
	if f.changes == 0 {
		if err := flock(f.changing, syscall.LOCK_SH); err != nil {
			return fmt.Errorf("store: lock the user changes file: %w", err)
		}
	}
	f.changes++
	begun, _ := f.counters()
	begun.Add(1)
	return nil
}

// end counts a change begun by begin as done, whether its transaction
// committed or not.
func (f *userGenFile) end() {
	_, done := f.counters()
	done.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changes--; f.changes == 0 {
		_ = flock(f.changing, syscall.LOCK_UN)
		if f.closed {
			f.release()
		}
	}
}

// generation returns done, and whether it names the database's state: no
// change in flight. Counters left apart by a process that died mid-change
// are mended here (see userGenFile).
func (f *userGenFile) generation() (uint64, bool) {
	begun, done := f.counters()
	b, d := begun.Load(), done.Load()
	if b == d {
		return d, true
	}
	if flock(f.healing, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return 0, false // a change is in flight
	}
	defer func() { _ = flock(f.healing, syscall.LOCK_UN) }()
	b = begun.Load()
	done.Store(b)
	return b, true
}

// close lets the file go, once the changes in flight have ended (a
// change's end still counts in the mapping, under the lock).
func (f *userGenFile) close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	if f.changes == 0 {
		f.release()
	}
}

func (f *userGenFile) release() {
	if f.mem != nil {
		_ = syscall.Munmap(f.mem)
	}
	if f.healing != nil {
		_ = f.healing.Close()
	}
	_ = f.changing.Close()
}

// flock is syscall.Flock, retried when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// extendUserGen extends the user changes file to its counters' size when
// it is shorter, never cutting it.
func extendUserGen(f *os.File, size int64) error {
	if size < userGenSize {
		return f.Truncate(userGenSize)
	}
	return nil
}
