package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ErrNoDatabase is returned by Open with MustExist when the SQLite file is
// not there. The error names the absolute path looked at.
var ErrNoDatabase = errors.New("store: no database")

// MustExist makes Open refuse, with ErrNoDatabase, an SQLite file that does
// not exist, instead of creating an empty one: administrative commands run
// in the wrong folder or with a mistyped --db would otherwise work on a new,
// empty database while the real one is elsewhere.
func MustExist() Option {
	return func(s *Store) { s.mustExist = true }
}

// prepareSQLiteFile makes sure the database file exists before SQLite opens
// it, and returns the URI parameter that keeps SQLite from creating it.
// A new file is created readable by its owner only: it holds the JWT
// secret, webhook secrets and receivers' credential headers. SQLite
// creates the -wal and -shm files later with the main file's mode, so
// they are private too.
func (s *Store) prepareSQLiteFile(path string) (string, error) {
	if s.mustExist {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: there is no SQLite database at %s", ErrNoDatabase, absPath(path))
		} else if err != nil {
			return "", fmt.Errorf("store: open sqlite %s: %w", absPath(path), err)
		}
		// Should the file go away in the meantime, SQLite fails rather
		// than create it.
		return "&mode=rw", nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("store: create sqlite %s: %w", absPath(path), err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("store: create sqlite %s: %w", absPath(path), err)
	}
	return "", nil
}

// realPath is the path of the database's file itself, symbolic links
// followed as SQLite follows them, or path as given when that fails.
func realPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	return path
}

// absPath is path made absolute for messages, or path as given when that
// fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// ExposedFile is a database file that users other than its owner may read.
type ExposedFile struct {
	Path string
	Mode fs.FileMode
}

// ExposedFiles returns those of an SQLite database's files (the database,
// its -wal and -shm) that exist and are readable by group or others. It
// returns none for PostgreSQL and on systems without Unix permissions.
func (s *Store) ExposedFiles() ([]ExposedFile, error) {
	if !s.d.embedded() || runtime.GOOS == "windows" {
		return nil, nil
	}
	var out []ExposedFile
	for _, suffix := range []string{"", "-wal", "-shm"} {
		p := absPath(s.label + suffix)
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: check permissions: %w", err)
		}
		if fi.Mode().Perm()&0o044 != 0 {
			out = append(out, ExposedFile{Path: p, Mode: fi.Mode().Perm()})
		}
	}
	return out, nil
}
