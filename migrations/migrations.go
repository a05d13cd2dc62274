// Package migrations embeds the goose SQL migrations for both dialects.
//
// Each dialect has its own directory because column types differ (SQLite
// keeps times as INTEGER Unix milliseconds, PostgreSQL as TIMESTAMPTZ), but
// the two directories always carry the same version numbers and describe the
// same tables and columns.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// SQLite returns the migrations for SQLite.
func SQLite() fs.FS { return sub("sqlite") }

// Postgres returns the migrations for PostgreSQL.
func Postgres() fs.FS { return sub("postgres") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		// fs.Sub fails only for an invalid path, and dir is a constant.
		panic(err)
	}
	return f
}
