package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/sicherc"
)

// toDeviceDelayer is a reverse proxy in front of the homeserver that holds
// every /sync response carrying to-device events for a while, so the room
// events that need the keys those events carry arrive first.
type toDeviceDelayer struct {
	delay   time.Duration
	delayed atomic.Int64
}

func (d *toDeviceDelayer) proxy(t *testing.T, target string) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // a client's cancelled long poll is no error here
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/sync") || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var s struct {
			ToDevice struct {
				Events []json.RawMessage `json:"events"`
			} `json:"to_device"`
		}
		if json.Unmarshal(body, &s) == nil && len(s.ToDevice.Events) > 0 {
			d.delayed.Add(1)
			time.Sleep(d.delay)
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

// TestToDeviceDelayed puts bob's sicher client behind a proxy that holds
// each /sync response with to-device events for 3 s: the room events
// reach bob before their keys (and while the response that carries the
// keys is held, the next sync cannot start). Every message must still
// decrypt once everything settled; the events that waited are counted.
func TestToDeviceDelayed(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	ctx := context.Background()
	alice, bob := s.MustRegister(t, "alice"), s.MustRegister(t, "bob")
	d := &toDeviceDelayer{delay: 3 * time.Second}
	px := d.proxy(t, s.URL)
	a := sicherc.Login(t, s, alice)
	b := sicherc.LoginVia(t, s, bob, px.URL)

	room, err := a.C().CreateRoom(ctx, t.Name(), []string{bob.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	sicherc.Eventually(t, 60*time.Second, "bob joins", func() error {
		_, err := b.C().JoinRoom(ctx, room)
		return err
	})
	a.WaitMembers(room, alice.ID, bob.ID)
	b.WaitMembers(room, alice.ID, bob.ID)
	a.WaitDevices(bob.ID, b.DeviceID)
	b.WaitDevices(alice.ID, a.DeviceID)

	start := time.Now()
	l := ledger{}
	for i := range 4 {
		l.send(t, a, room, fmt.Sprintf("alice %d", i))
		l.send(t, b, room, fmt.Sprintf("bob %d", i))
	}
	// Bob's client reports events whose key has not arrived and tries them
	// again after later syncs; what the test checks is the settled state.
	na := expectDecrypts(t, a, room, l)
	nb := expectDecrypts(t, b, room, l)
	live, waited := b.Counts()
	t.Logf("to-device delayed by %v in %d /sync responses to bob: alice decrypted %d of 4, bob %d of 4 (sync loop: %d decrypted, %d arrived before their key), settled in %v",
		d.delay, d.delayed.Load(), na, nb, live, waited, time.Since(start).Round(time.Second))
	if d.delayed.Load() == 0 {
		t.Errorf("the proxy delayed no /sync response: the test did not test anything")
	}
}
