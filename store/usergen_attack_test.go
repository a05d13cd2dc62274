//go:build unix

package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestUserCacheSQLiteSymlinkedPath: an admin command that names the
// database through a symbolic link to its file (SQLite follows it, so both
// processes share one database, WAL and -shm) must still be seen by the
// serving process's cache: a user it disables is disabled at the serving
// store's next lookup.
func TestUserCacheSQLiteSymlinkedPath(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	real := filepath.Join(dir, "data", "webhookd.db")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	a := storetest.Open(t, real)
	runUserCache(t, a)
	link := filepath.Join(dir, "webhookd.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	b := storetest.Open(t, link, store.ForAdmin())
	u, err := b.CreateUser(ctx, "link@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UserByID(ctx, u.ID); err != nil || !a.UserCached(u.ID) {
		t.Fatalf("not cached: %v", err)
	}
	if err := b.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.DisabledAt == nil {
		t.Fatalf("the serving store after an admin store opened through a symlink disabled the user: %+v, %v; want disabled", got, err)
	}
}

// TestUserChangesFileOwnedLikeDatabase: an admin command run as root
// (sudo webhookd user disable ...) on a database owned by the service's
// user must not leave behind a user changes file only root can open, or
// the service cannot open its own database any more. SQLite gives the
// -wal and -shm it creates as root the database's owner; the user
// changes file must be given it too.
func TestUserChangesFileOwnedLikeDatabase(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	const uid, gid = 65534, 65534
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "webhookd.db")
	s := storetest.Open(t, path) // created and migrated by "the service"
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm", ".lock", ".users"} {
		_ = os.Chown(path+suffix, uid, gid)
	}
	if err := os.Remove(path + ".users"); err != nil { // as before the upgrade
		t.Fatal(err)
	}
	admin, err := store.Open(ctx, path, store.ForAdmin())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CountUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := admin.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path + ".users")
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != uid || sys.Gid != gid {
		t.Fatalf("%s.users created by root is owned by %d:%d, mode %v: the database's owner %d:%d cannot open it", filepath.Base(path), sys.Uid, sys.Gid, st.Mode(), uid, gid)
	}
}

// TestCloseWithUserChangeInFlight: closing a store while one of its
// changes to users is still running (a request past the shutdown grace,
// waiting for the write lock) must not crash the process when the change
// ends. Run in a child process, since the crash is a fatal fault.
func TestCloseWithUserChangeInFlight(t *testing.T) {
	if os.Getenv("WEBHOOKD_ATTACK_CHILD") == "1" {
		closeWithUserChangeInFlight(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCloseWithUserChangeInFlight$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "WEBHOOKD_ATTACK_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "change ended after close") {
		t.Fatalf("the process closing a store with a user change in flight: %v\n%s", err, tail(string(out), 3000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func closeWithUserChangeInFlight(t *testing.T) {
	ctx := context.Background()
	path := storetest.SQLitePath(t)
	a, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := a.CreateUser(ctx, "close@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	// The cache still runs when the store closes (a caller that closes
	// before stopping it).
	cacheCtx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	go a.RunUserCache(cacheCtx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for !a.UserCacheArmed() {
		time.Sleep(time.Millisecond)
	}
	if _, err := a.UserByID(ctx, u.ID); err != nil || !a.UserCached(u.ID) {
		t.Fatalf("not cached: %v", err)
	}
	// Another connection holds the write lock, so a's change waits.
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	changed := make(chan error, 1)
	go func() { changed <- a.SetUserDisabled(ctx, u.ID, true) }()
	time.Sleep(300 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	err = <-changed
	_, lookupErr := a.UserByID(ctx, u.ID)
	t.Logf("change ended after close: %v; a lookup after close: %v", err, lookupErr)
}

// TestSecondServingStoreThroughSymlinkRefused: SQLite serves from one
// process per database; a second serving process that names the database
// through a symbolic link to its file is the same database (SQLite follows
// the link), and must be refused as one naming it directly is, or two
// processes lease and deliver the same deliveries, which leases assume no
// other process does.
func TestSecondServingStoreThroughSymlinkRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	real := filepath.Join(dir, "data", "webhookd.db")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	storetest.Open(t, real)
	link := filepath.Join(dir, "webhookd.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, link)
	if err == nil {
		s.Close()
		t.Fatal("a second serving store opened the database through a symlink")
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second serving store through a symlink: %v, want ErrLocked", err)
	}
}

// TestUserCacheSQLiteStress: admin stores (other processes) change a
// user's password over and over while the serving store reads it from
// many goroutines and changes another user itself; right after each
// admin change returns, the serving store's next lookup sees it.
func TestUserCacheSQLiteStress(t *testing.T) {
	ctx := context.Background()
	path, a := servingSQLite(t)
	b := storetest.Open(t, path, store.ForAdmin())
	c := storetest.Open(t, path, store.ForAdmin())
	u, err := b.CreateUser(ctx, "stress@x.io", "h0", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.CreateUser(ctx, "other@x.io", "o0", "")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// untilStop runs step with 0, 1, 2, … in a goroutine until stop closes.
	untilStop := func(step func(i int)) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				step(i)
			}
		})
	}
	for range 4 {
		untilStop(func(int) {
			_, _ = a.UserByID(ctx, u.ID)
			_, _ = a.UserByID(ctx, other.ID)
		})
	}
	untilStop(func(i int) {
		_ = a.SetPassword(ctx, other.ID, fmt.Sprintf("o%d", i))
		time.Sleep(time.Duration(i%3) * time.Millisecond)
	})
	untilStop(func(i int) { // a third process's changes, to keep done moving
		_ = c.SetPassword(ctx, other.ID, fmt.Sprintf("c%d", i))
		time.Sleep(time.Duration(i%5) * time.Millisecond)
	})
	deadline := time.Now().Add(2 * time.Second)
	cached := 0
	for i := 1; time.Now().Before(deadline); i++ {
		want := fmt.Sprintf("h%d", i)
		if err := b.SetPassword(ctx, u.ID, want); err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		got, err := a.UserByID(ctx, u.ID)
		if err != nil || got.PasswordHash != want {
			close(stop)
			wg.Wait()
			t.Fatalf("change %d: the serving store read %q (%v) right after the admin store set %q", i, got.PasswordHash, err, want)
		}
		if a.UserCached(u.ID) {
			cached++
		}
		time.Sleep(time.Duration(i%2) * time.Millisecond)
		if got, err := a.UserByID(ctx, u.ID); err != nil || got.PasswordHash != want {
			close(stop)
			wg.Wait()
			t.Fatalf("change %d: the serving store read %q (%v) later, want %q", i, got.PasswordHash, err, want)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("cached after %d changes", cached)
}

// TestUserChangeOnFullDiskFails: on a full file system (here a full tmpfs
// named by WEBHOOKD_ATTACK_FULLFS) a change to users fails with an error,
// as SQLite's own writes do, instead of killing the process with SIGBUS
// on the first count into a user changes file created there without a
// block of its own.
func TestUserChangeOnFullDiskFails(t *testing.T) {
	fs := os.Getenv("WEBHOOKD_ATTACK_FULLFS")
	if fs == "" {
		t.Skip("set WEBHOOKD_ATTACK_FULLFS to a small tmpfs of this test's own")
	}
	if os.Getenv("WEBHOOKD_ATTACK_CHILD") == "1" {
		userChangeOnFullDisk(t, fs)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUserChangeOnFullDiskFails$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "WEBHOOKD_ATTACK_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "change on a full disk:") {
		t.Fatalf("a change to users on a full disk: %v\n%s", err, tail(string(out), 3000))
	}
}

func userChangeOnFullDisk(t *testing.T, fs string) {
	ctx := context.Background()
	dir, err := os.MkdirTemp(fs, "full")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "webhookd.db")
	keep := storetest.Open(t, path, store.ForAdmin()) // keeps -wal and -shm
	u, err := keep.CreateUser(ctx, "full@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + ".users"); err != nil { // as before the upgrade
		t.Fatal(err)
	}
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := filler.Write(buf); err != nil {
			break
		}
	}
	filler.Close()
	b, err := store.Open(ctx, path, store.ForAdmin())
	if err != nil {
		t.Logf("change on a full disk: open: %v", err)
		return
	}
	defer b.Close()
	err = b.SetUserDisabled(ctx, u.ID, true)
	t.Logf("change on a full disk: %v", err)
}
