// Package console serves webhookd's web console: one static page, its
// script (native ES modules, no build step) and its stylesheet, embedded
// in the binary. The page signs in through POST /api/v1/auth/login and
// drives the same JSON API as curl; it has no server-side state of its
// own, so this package only serves files with strict security headers.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/webhookd/webhookd/internal/wire"
)

// static is the console: index.html, app.css and the script's ES
// modules, no build step.
//
//go:embed static
var static embed.FS

// ContentSecurityPolicy allows only this origin's own script, style and
// API, no inline script, and no framing. It is the policy of a console
// served without frame ancestors (see Policy).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Policy is the Content-Security-Policy of a console that the origins in
// frameAncestors may embed in a frame: ContentSecurityPolicy with those
// origins as its frame-ancestors, or ContentSecurityPolicy itself when
// there are none. The origins must already be checked as scheme://host
// with an optional port (serve's --portal-frame-ancestors does), since
// they are written into the header as they are.
func Policy(frameAncestors []string) string {
	if len(frameAncestors) == 0 {
		return ContentSecurityPolicy
	}
	return strings.Replace(ContentSecurityPolicy, "frame-ancestors 'none'", "frame-ancestors "+strings.Join(frameAncestors, " "), 1)
}

// Paths the console answers besides the script's other modules, which
// are served under /console/ by their names in static/; everything else
// is 404.
const (
	IndexPath  = "/"
	ScriptPath = "/console/app.js"
	StylePath  = "/console/app.css"
)

// asset is one embedded file with what it is served with.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// contentTypes are what the files in static/ are served as, by their
// extension. They are set here, not guessed from the machine's MIME
// tables, which vary (and X-Content-Type-Options: nosniff makes a wrong
// one fatal for a script or a module).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// assets maps each served path to its file: index.html at "/", and every
// other file in static/ at /console/ and its name there.
var assets = loadAll()

func loadAll() map[string]asset {
	out := map[string]asset{IndexPath: load("static/index.html")}
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "static/index.html" {
			return err
		}
		out["/console/"+strings.TrimPrefix(name, "static/")] = load(name)
		return nil
	})
	if err != nil {
		panic("console: walk embedded files: " + err.Error()) // a build fault
	}
	return out
}

func load(name string) asset {
	contentType, ok := contentTypes[path.Ext(name)]
	if !ok {
		panic("console: no content type for embedded file " + name) // a build fault
	}
	b, err := static.ReadFile(name)
	if err != nil {
		panic("console: embedded file missing: " + err.Error()) // a build fault
	}
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Handler serves the console: index.html at "/", the script at
// /console/app.js with the modules it imports beside it, and the
// stylesheet at /console/app.css, for GET and HEAD. Every other path is
// 404, so it can be mounted on "/" and "/console/*file" beside the API
// without shadowing anything.
//
// frameAncestors are the origins (scheme://host[:port], checked by the
// caller) that may show the console in a frame, such as a CRM embedding
// a tenant's portal. With none, no page may frame it: the CSP says
// frame-ancestors 'none' and X-Frame-Options says DENY for browsers that
// predate CSP. With some, the CSP lists them and X-Frame-Options is left
// out, because it cannot express an allow-list (its ALLOW-FROM is gone
// from browsers) and DENY would refuse the allowed origins too.
func Handler(frameAncestors []string) http.Handler {
	policy := Policy(frameAncestors)
	deny := len(frameAncestors) == 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Content-Type-Options", "nosniff")
		if deny {
			h.Set("X-Frame-Options", "DENY")
		}
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		a, ok := assets[r.URL.Path]
		if !ok {
			writeError(w, http.StatusNotFound, "no console file at "+r.URL.Path)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
			return
		}
		// no-cache: the browser revalidates each load (cheaply, by ETag),
		// so a new binary's console is never mixed with an old script.
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// writeError answers in the API's error shape, so a client sees one kind
// of error wherever it strays.
func writeError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Cache-Control", "no-store")
	wire.WriteError(w, status, message, nil)
}
