package peer

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestPeerHandles(t *testing.T) {
	p := newPeer()
	r := &request{args: map[string]json.RawMessage{"handle": json.RawMessage(`"mine"`)}}
	h, err := p.put(r, "thing", 42)
	if err != nil || h != "mine" {
		t.Fatalf("put = %q, %v", h, err)
	}
	h2, _ := p.put(&request{args: map[string]json.RawMessage{}}, "thing", 43)
	resp := string(p.handle([]byte(`{"cmd":"list_handles"}`)))
	if !strings.Contains(resp, `"mine":"thing"`) || !strings.Contains(resp, `"`+h2+`":"thing"`) {
		t.Fatalf("list_handles = %s", resp)
	}
	if v, err := object[int](p, "obj", "mine"); err != nil || v != 42 {
		t.Fatalf("object = %v, %v", v, err)
	}
	if _, err := object[string](p, "obj", "mine"); err == nil || errorType(err) != "PeerError" {
		t.Fatalf("object of the wrong kind: %v", err)
	}
	if resp := string(p.handle([]byte(`{"cmd":"free","handle":"mine"}`))); !strings.Contains(resp, `"freed":"mine"`) {
		t.Fatalf("free = %s", resp)
	}
	if _, err := object[int](p, "obj", "mine"); err == nil {
		t.Fatal("freed handle still usable")
	}
}

func TestRequestData(t *testing.T) {
	for in, want := range map[string]string{
		`{"plaintext":"héllo"}`:               "héllo",
		`{"plaintext":{"b": 1, "a": [1, 2]}}`: `{"b":1,"a":[1,2]}`,
		`{"plaintext_b64":"aGk="}`:            "hi",
		`{"plaintext_b64":"aGk"}`:             "hi",
		`{"plaintext_b64":"-_8"}`:             "\xfb\xff",
		`{"plaintext_b64":"+/8="}`:            "\xfb\xff",
	} {
		r, err := parseRequest([]byte(`{"cmd":"x",` + in[1:]))
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.data("plaintext")
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`{}`, `{"plaintext":5}`, `{"plaintext_b64":"!!"}`} {
		r, err := parseRequest([]byte(in))
		if r == nil {
			t.Fatalf("%s: %v", in, err)
		}
		if _, err := r.data("plaintext"); err == nil || errorType(err) != "PeerError" {
			t.Errorf("%s: %v", in, err)
		}
	}
	res := result{}
	addPlaintext(res, "plaintext", []byte{0xff})
	if res["plaintext"] != nil || res["plaintext_b64"] != "/w==" {
		t.Errorf("addPlaintext(invalid UTF-8) = %v", res)
	}
}

// TestPeerDocumented keeps docs/peer.md true: every command the peer
// answers must appear there as `name`.
func TestPeerDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../../docs/peer.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range handlers {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("peer command %q is not documented in docs/peer.md", name)
		}
	}
}
