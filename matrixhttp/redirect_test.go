package matrixhttp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A homeserver that redirects to another origin (here the same host name on another port, which
// net/http treats as the same domain) must not get the access token sent there; a redirect
// within the homeserver's origin is still followed.
func TestRedirectDoesNotLeakTokenToAnotherOrigin(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(other.Close)
	var hs *httptest.Server
	hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, hs.URL+"/here", http.StatusFound)
		case "/here":
			if r.Header.Get("Authorization") != "Bearer secret-token" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(hs.Close)
	for _, hc := range []*http.Client{nil, {CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}} {
		tr, err := newTransport(Config{HomeserverURL: hs.URL, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		tr.token = "secret-token"
		_, err = tr.do(context.Background(), request{method: "GET", path: "/away"})
		if !errors.Is(err, ErrRedirect) {
			t.Fatalf("redirect to another origin: err = %v, want ErrRedirect", err)
		}
		if got := leaked.Load().(string); got != "" {
			t.Fatalf("the other origin received Authorization %q", got)
		}
		if _, err := tr.do(context.Background(), request{method: "GET", path: "/moved"}); err != nil {
			t.Fatalf("redirect within the homeserver: %v", err)
		}
	}
	if _, err := newTransport(Config{HomeserverURL: "matrix.example.org"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("a homeserver URL without a scheme: err = %v", err)
	}
}
