//go:build unix

package store_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestSQLiteFilesArePrivate checks that a new SQLite database and the -wal
// and -shm files SQLite creates beside it are readable by their owner only
// (issue 12 item 11): they hold the JWT secret, webhook secrets and
// receivers' credential headers. The umask is set to the common 022, which
// would leave files created with the default mode readable by everyone.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	ctx := context.Background()
	path := storetest.SQLitePath(t)
	s := storetest.Open(t, path)
	u, err := s.CreateUser(ctx, "a@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettingOrInit(ctx, "jwt_secret", "secret"); err != nil {
		t.Fatal(err)
	}
	newWebhook(t, s, u.ID, "message.new")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			t.Fatalf("stat %s: %v", path+suffix, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want -rw------- (0600)", filepath.Base(path+suffix), perm)
		}
	}
	if exposed, err := s.ExposedFiles(); err != nil || len(exposed) != 0 {
		t.Errorf("ExposedFiles of a private database = %v, %v; want none", exposed, err)
	}

	// An older database, created with the default mode, is reported.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	exposed, err := s.ExposedFiles()
	if err != nil || len(exposed) != 1 || exposed[0].Path != path || exposed[0].Mode != 0o644 {
		t.Errorf("ExposedFiles after chmod 644 = %+v, %v; want %s with mode 0644", exposed, err, path)
	}
}

// TestMustExistCreatesNothing opens a database file that is not there with
// MustExist (issue 12 item 12): Open fails naming the absolute path, and
// leaves no file behind, neither the database nor a lock file.
func TestMustExistCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, opts := range [][]store.Option{{store.MustExist()}, {store.MustExist(), store.ForAdmin()}} {
		_, err := store.Open(context.Background(), "typo.db", opts...)
		if !errors.Is(err, store.ErrNoDatabase) || !strings.Contains(err.Error(), filepath.Join(dir, "typo.db")) {
			t.Errorf("open a missing file: %v; want ErrNoDatabase naming %s", err, filepath.Join(dir, "typo.db"))
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("open of a missing database left %s behind", e.Name())
		}
	}
	// An existing database opens as usual.
	path := filepath.Join(dir, "webhookd.db")
	created, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := created.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	created.Close()
	s, err := store.Open(context.Background(), path, store.MustExist(), store.ForAdmin())
	if err != nil {
		t.Fatalf("open an existing database with MustExist: %v", err)
	}
	defer s.Close()
	if _, err := s.CountUsers(context.Background()); err != nil {
		t.Errorf("read it: %v", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		t.Error("the database went away")
	}
}
