package peer

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/key"
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

// TestDecode checks the argument decoder every handler uses: required and
// optional arguments, types, handles, and the library's error classes for
// values its parsers refuse.
func TestDecode(t *testing.T) {
	p := newPeer()
	p.objects["acct"], p.kinds["acct"] = "not an account", "thing"
	type args struct {
		Name     string          `arg:"name"`
		Count    int64           `arg:"count,optional"`
		Flag     bool            `arg:"flag,optional"`
		Key      *key.Curve25519 `arg:"key,optional"`
		Thing    *ref[string]    `arg:"thing,optional"`
		Text     data            `arg:"text,optional"`
		Raw      rawB64          `arg:"raw_b64,optional"`
		Object   jsonObject      `arg:"object,optional"`
		Untagged json.RawMessage // not an argument
	}
	for _, c := range []struct {
		req, class string
	}{
		{`{"cmd":"x","name":"n"}`, ""},
		{`{"cmd":"x","name":"n","count":null,"flag":true,"text_b64":"aGk","raw_b64":"-_8","object":"{\"a\":1}"}`, ""},
		{`{"cmd":"x"}`, "PeerError"},
		{`{"cmd":"x","name":null}`, "PeerError"},
		{`{"cmd":"x","name":5}`, "PeerError"},
		{`{"cmd":"x","name":"n","count":"5"}`, "PeerError"},
		{`{"cmd":"x","name":"n","count":1.5}`, "PeerError"},
		{`{"cmd":"x","name":"n","flag":"yes"}`, "PeerError"},
		{`{"cmd":"x","name":"n","key":"not a key"}`, "InvalidKey"},
		{`{"cmd":"x","name":"n","key":7}`, "PeerError"},
		{`{"cmd":"x","name":"n","thing":"acct"}`, ""},
		{`{"cmd":"x","name":"n","thing":"nothing"}`, "PeerError"},
		{`{"cmd":"x","name":"n","text":5}`, "PeerError"},
		{`{"cmd":"x","name":"n","raw_b64":"!!"}`, "PeerError"},
		{`{"cmd":"x","name":"n","object":[1]}`, "PeerError"},
	} {
		r, err := parseRequest([]byte(c.req))
		if err != nil {
			t.Fatalf("%s: %v", c.req, err)
		}
		var a args
		err = decode(p, r, &a)
		switch {
		case c.class == "" && err != nil:
			t.Errorf("%s: %v", c.req, err)
		case c.class != "" && (err == nil || errorType(err) != c.class):
			t.Errorf("%s: error %v (%s), want class %s", c.req, err, errorType(err), c.class)
		}
	}
	r, _ := parseRequest([]byte(`{"cmd":"x","name":"n","flag":true,"text":{"b":1},"raw_b64":"+/8=","thing":"acct"}`))
	a := struct {
		Name  string      `arg:"name"`
		Count int64       `arg:"count,optional"`
		Flag  bool        `arg:"flag,optional"`
		Text  data        `arg:"text"`
		Raw   rawB64      `arg:"raw_b64"`
		Thing ref[string] `arg:"thing"`
	}{Count: 9}
	if err := decode(p, r, &a); err != nil {
		t.Fatal(err)
	}
	if a.Name != "n" || a.Count != 9 || !a.Flag || string(a.Text) != `{"b":1}` || string(a.Raw) != "\xfb\xff" || a.Thing.v != "not an account" || a.Thing.h != "acct" {
		t.Errorf("decoded %+v", a)
	}
}

// TestParseRequestStrict: a request with a member twice, also under case
// folding, is refused; so is anything but one JSON object.
func TestParseRequestStrict(t *testing.T) {
	for _, in := range []string{
		`{"cmd":"ping","cmd":"quit"}`,
		`{"cmd":"x","name":"a","NAME":"b"}`,
		`{"cmd":"ping"} {"cmd":"quit"}`,
		`[1]`,
		`{"cmd":"ping"`,
	} {
		if _, err := parseRequest([]byte(in)); err == nil || errorType(err) != "PeerError" {
			t.Errorf("%s: %v", in, err)
		}
	}
	p := newPeer()
	if resp := string(p.handle([]byte(`{"id":1,"cmd":"ping","cmd":"quit"}`))); !strings.Contains(resp, `"error_type":"PeerError"`) || p.quit {
		t.Errorf("duplicate cmd: %s", resp)
	}
}
