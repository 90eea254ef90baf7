package matrixhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sicher-go/sicher/internal/jsonstrict"
)

// Error is a request the homeserver refused: an HTTP status other than 2xx with the spec's
// error body (spec "Standard error response",
// https://spec.matrix.org/v1.19/client-server-api/#standard-error-response). It matches
// errors.Is against an *Error whose non-zero Status and ErrCode are equal:
// errors.Is(err, &matrixhttp.Error{ErrCode: "M_FORBIDDEN"}).
type Error struct {
	// Method and Path are the request's (the path without its query string).
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// ErrCode is the Matrix error code (M_FORBIDDEN, M_LIMIT_EXCEEDED, ...); empty when the
	// body was not a Matrix error.
	ErrCode string
	// Message is the server's human-readable "error".
	Message string
	// RetryAfter is how long the server asked the client to wait (retry_after_ms or the
	// Retry-After header), zero if it did not say.
	RetryAfter time.Duration

	body []byte // the response body, for user-interactive authentication
}

// Error returns "matrixhttp: METHOD path: status errcode: message".
func (e *Error) Error() string {
	s := fmt.Sprintf("matrixhttp: %s %s: %d", e.Method, e.Path, e.Status)
	if e.ErrCode != "" {
		s += " " + e.ErrCode
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is an *Error whose non-zero Status and ErrCode match e's.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && (t.Status == 0 || t.Status == e.Status) && (t.ErrCode == "" || t.ErrCode == e.ErrCode)
}

// transport sends requests to one homeserver with one access token, retrying what may be
// retried.
type transport struct {
	base    string
	hc      *http.Client
	token   string // secret
	retries int
	backoff time.Duration
	log     *slog.Logger
}

func newTransport(cfg Config) (*transport, error) {
	if cfg.HomeserverURL == "" {
		return nil, ErrConfig
	}
	t := &transport{base: strings.TrimSuffix(cfg.HomeserverURL, "/"), retries: cfg.MaxRetries,
		backoff: cfg.Backoff, log: cfg.Logger}
	base, err := url.Parse(t.base)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("%w: HomeserverURL %q is not an absolute URL", ErrConfig, cfg.HomeserverURL)
	}
	t.hc = sameOriginRedirects(cfg.HTTPClient, base)
	switch {
	case t.retries == 0:
		t.retries = 8
	case t.retries < 0:
		t.retries = 0
	}
	if t.backoff <= 0 {
		t.backoff = time.Second
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	return t, nil
}

// ErrRedirect reports a redirect to another origin (scheme, host or port) than the
// homeserver's. net/http would follow it with the Authorization header whenever the new host is
// the same name or a subdomain of it, even to another port or from https to http: the access
// token would reach whoever answers there. It is not retried.
var ErrRedirect = errors.New("matrixhttp: redirect to another origin refused")

// sameOriginRedirects returns a copy of hc (http.DefaultClient when nil) that follows only
// redirects to the homeserver's own origin, after hc's own CheckRedirect (or its default
// limit of 10 redirects).
func sameOriginRedirects(hc *http.Client, base *url.URL) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !strings.EqualFold(req.URL.Scheme, base.Scheme) || !strings.EqualFold(req.URL.Host, base.Host) {
			return fmt.Errorf("%w: to %s://%s", ErrRedirect, req.URL.Scheme, req.URL.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("matrixhttp: stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// maxBackoff bounds the exponential backoff after 5xx responses and network errors.
const maxBackoff = time.Minute

// maxResponse bounds a response body read into memory (a /sync response, a media file).
const maxResponse = 256 << 20

// request describes one HTTP request; path is below the base URL, escaped, with its query.
type request struct {
	method, path string
	body         []byte
	contentType  string // application/json when empty and body is set
	noAuth       bool
}

// do sends r, retrying after 429 (waiting as long as the server asks), 5xx responses and
// network errors with exponential backoff, up to the configured number of retries. It
// returns the body of a 2xx response, an *Error for a refusal, or ctx's error.
func (t *transport) do(ctx context.Context, r request) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		body, err := t.once(ctx, r)
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait, retry := t.retryAfter(err, attempt)
		if !retry || attempt >= t.retries {
			return nil, err
		}
		t.log.Debug("matrixhttp: retrying", "method", r.method, "path", pathOnly(r.path), "wait", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// retryAfter says whether err may be retried and how long to wait first.
func (t *transport) retryAfter(err error, attempt int) (time.Duration, bool) {
	backoff := min(t.backoff<<min(attempt, 16), maxBackoff)
	var e *Error
	switch {
	case errors.Is(err, ErrRedirect):
		return 0, false
	case !errors.As(err, &e):
		return backoff, true // a network error
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		if e.RetryAfter > 0 { // a 503 may say when to come back too
			return e.RetryAfter, true
		}
		return backoff, true
	}
	return 0, false
}

func (t *transport) once(ctx context.Context, r request) ([]byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, t.base+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("matrixhttp: %s %s: %w", r.method, pathOnly(r.path), err)
	}
	if !r.noAuth && t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("matrixhttp: %s %s: %w", r.method, pathOnly(r.path), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err == nil && len(data) > maxResponse {
		err = errors.New("response too large")
	}
	if err != nil {
		return nil, fmt.Errorf("matrixhttp: %s %s: reading the response: %w", r.method, pathOnly(r.path), err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, nil
	}
	e := &Error{Method: r.method, Path: pathOnly(r.path), Status: resp.StatusCode, body: data}
	var std struct {
		ErrCode      string `json:"errcode"`
		Error        string `json:"error"`
		RetryAfterMS int64  `json:"retry_after_ms"`
	}
	if jsonstrict.Unmarshal(data, &std) == nil {
		e.ErrCode, e.Message = std.ErrCode, std.Error
		if std.RetryAfterMS > 0 {
			e.RetryAfter = time.Duration(min(std.RetryAfterMS, int64(time.Hour/time.Millisecond))) * time.Millisecond
		}
	}
	if e.RetryAfter == 0 {
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return nil, e
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date (RFC 9110,
// section 10.2.3), capped at an hour.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		d = time.Duration(min(s, 3600)) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return max(0, min(d, time.Hour))
}

func pathOnly(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return p
}
