package main

// webhookd healthcheck: asks a running serve for GET /healthz, so that a
// container's HEALTHCHECK needs nothing but this binary (the image is FROM
// scratch: no curl, no shell).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// defaultHealthcheckAddr is where serve's default --addr (:3000, every
// interface) is reached from the same machine.
const defaultHealthcheckAddr = "localhost:3000"

// runHealthcheck is webhookd healthcheck: GET /healthz on --addr, exit 0
// on 200, and otherwise an error saying why (main prints it and exits 1).
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("healthcheck", "Usage: webhookd healthcheck [--addr HOST:PORT | --addr URL] [--timeout D]\n\n"+
		"Asks a running 'webhookd serve' for GET /healthz and exits 0 when it answers 200, or prints\n"+
		"why not and exits 1: a container's HEALTHCHECK without curl. --addr takes serve's listen\n"+
		"address (an empty or unspecified host, such as :3000 or 0.0.0.0:3000, is asked on loopback)\n"+
		"or a URL: http://host:port, or https://…, with a path to ask instead of /healthz.")
	var addr string
	var timeout time.Duration
	fs.StringVar(&addr, "addr", defaultHealthcheckAddr, "serve's address, HOST:PORT, or a URL")
	// The same variable as serve's --addr, so a container or unit that
	// sets WEBHOOKD_ADDR for serve has its health check follow.
	fs.bindEnv("addr", "WEBHOOKD_ADDR")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if timeout <= 0 {
		return fmt.Errorf("healthcheck: --timeout %s: want a positive duration such as 5s", timeout)
	}
	target, err := healthcheckURL(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	if err := checkHealth(ctx, target, timeout); err != nil {
		return err
	}
	// One line on success too: a container engine keeps it in the
	// health log beside the failures.
	fmt.Fprintf(stdout, "ok: GET %s: 200 OK\n", redactURL(target))
	return nil
}

// healthcheckURL turns --addr into the URL to GET: a listen address
// (HOST:PORT, :PORT) becomes http://HOST:PORT/healthz with an empty or
// unspecified host replaced by loopback, where a server listening on every
// interface is reached; a URL keeps its path, /healthz when it has none.
func healthcheckURL(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("--addr %q: want HOST:PORT or an http:// or https:// URL", addr)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/healthz"
		}
		return u.String(), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("--addr %q: want HOST:PORT (such as 127.0.0.1:3000 or :3000) or a URL", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// checkHealth GETs target within timeout and returns nil on 200, or an
// error naming the URL and what came back instead.
func checkHealth(ctx context.Context, target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		// No proxy from the environment: the check is of this process's
		// neighbour, not of whatever HTTP_PROXY reaches.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// A redirect is not a healthy answer from /healthz.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: GET %s: %w", redactURL(target), err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("healthcheck: GET %s: no answer within %s", redactURL(target), timeout)
		}
		// The client's error repeats the method and URL; keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("healthcheck: GET %s: %w", redactURL(target), err)
	}
	defer resp.Body.Close()
	// Only a little of the body: enough to show an error message.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s%s", redactURL(target), resp.Status, bodySnippet(body))
	}
	return nil
}

// bodySnippet is ": " and body on one line for an error message, or "".
func bodySnippet(body []byte) string {
	if !utf8.Valid(body) {
		return ""
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if s == "" {
		return ""
	}
	return ": " + s
}

// redactURL is target as printed: a password in it (an --addr URL with
// credentials) never reaches a health log.
func redactURL(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	return u.Redacted()
}
