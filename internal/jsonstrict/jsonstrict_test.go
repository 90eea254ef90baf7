package jsonstrict

import (
	"errors"
	"testing"
)

type device struct {
	UserID string            `json:"user_id"`
	Keys   map[string]string `json:"keys"`
}

func TestUnmarshal(t *testing.T) {
	var d device
	if err := Unmarshal([]byte(`{"user_id":"@bob:x","keys":{"a":"b"},"unknown":[1,{"x":2}]}`), &d); err != nil {
		t.Fatal(err)
	}
	if d.UserID != "@bob:x" || d.Keys["a"] != "b" {
		t.Fatalf("got %+v", d)
	}
}

// TestFoldedNamesRefused: the attack of a signed object that carries
// "user_id" for Python, JavaScript and Rust and a case variant that
// encoding/json would have let win.
func TestFoldedNamesRefused(t *testing.T) {
	for _, in := range []string{
		`{"user_id":"@mallory:x","uſer_id":"@bob:x"}`,                 // U+017F LATIN SMALL LETTER LONG S
		`{"user_id":"@mallory:x","u\u017fer_id":"@bob:x"}`,            // the same, escaped
		`{"keys":{},"\u212aeys":{"a":"b"}}`,                           // U+212A KELVIN SIGN
		`{"user_id":"@mallory:x","USER_ID":"@bob:x"}`,                 // ASCII case
		`{"user_id":"@mallory:x","user_id":"@bob:x"}`,                 // exact duplicate
		`{"user_id":"@a:x","keys":{"ed25519:A":"1","ED25519:a":"2"}}`, // nested
		`{"other":[{"x":1,"X":2}]}`,                                   // in a part not decoded
	} {
		var d device
		err := Unmarshal([]byte(in), &d)
		if err == nil {
			t.Errorf("%s: accepted as %+v", in, d)
		}
	}
	if err := CheckNames([]byte(`{"a":{"b":1},"c":{"b":2}}`)); err != nil {
		t.Errorf("equal names in sibling objects refused: %v", err)
	}
	if err := CheckNames([]byte(`{"a":1,"A":2}`)); !errors.Is(err, ErrDuplicateName) {
		t.Errorf("CheckNames: %v", err)
	}
}

func TestExactNames(t *testing.T) {
	var d device
	if err := Unmarshal([]byte(`{"USER_ID":"@bob:x"}`), &d); err != nil || d.UserID != "" {
		t.Fatalf("a case variant filled the field: %+v %v", d, err)
	}
}

func TestInvalid(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a":1}{}`, `{"a":1} x`, "{\"a\":\"\xff\"}", `[1,]`} {
		var v any
		if err := Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	for _, in := range []string{`1`, `"s"`, `[]`, `{}`, ` {"a":[{"b":null}]} `} {
		if err := CheckNames([]byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
}
