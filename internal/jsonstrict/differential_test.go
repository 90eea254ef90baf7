package jsonstrict

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// reference reads data the way Python, JavaScript and Rust clients do:
// member names are exact byte strings, nothing is folded. Independently of
// the package it also reports whether some object has two names that
// strings.EqualFold calls equal (exact duplicates included), and the
// deepest nesting.
func reference(data []byte) (v any, foldDup bool, depth int, err error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true))
	var r refReader
	v, err = r.value(dec, 0)
	if err != nil {
		return nil, false, 0, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, false, 0, errors.New("data after the value")
	}
	return v, r.foldDup, r.depth, nil
}

type refReader struct {
	foldDup bool
	depth   int
}

func (r *refReader) value(dec *jsontext.Decoder, depth int) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		r.depth = max(r.depth, depth+1)
		m := map[string]any{}
		var names []string
		for dec.PeekKind() != '}' {
			nt, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			name := nt.String()
			for _, n := range names {
				if strings.EqualFold(n, name) {
					r.foldDup = true
				}
			}
			names = append(names, name)
			if m[name], err = r.value(dec, depth+1); err != nil {
				return nil, err
			}
		}
		_, err := dec.ReadToken()
		return m, err
	case '[':
		r.depth = max(r.depth, depth+1)
		a := []any{}
		for dec.PeekKind() != ']' {
			v, err := r.value(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.ReadToken()
		return a, err
	case '"':
		return tok.String(), nil
	case '0':
		f, _ := tok.Float() // out of range: ±Inf, which no decoder returns
		return f, nil
	case 't', 'f':
		return tok.Bool(), nil
	case 'n':
		return nil, nil
	}
	return nil, errors.New("unexpected token")
}

// signedKeys has the shape of the objects the attack targets.
type signedKeys struct {
	UserID     *string                      `json:"user_id"`
	DeviceID   *string                      `json:"device_id"`
	Keys       map[string]string            `json:"keys"`
	Usage      []string                     `json:"usage"`
	Signatures map[string]map[string]string `json:"signatures"`
	Unsigned   any                          `json:"unsigned"`
}

// asAny re-reads a decoded field as the reference would have read it.
func asAny(t *testing.T, v any) any {
	b, err := json.Marshal(v, json.FormatNilMapAsNull(true), json.FormatNilSliceAsNull(true))
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var foldSeeds = []string{
	`{"user_id":"@mallory:x","uſer_id":"@bob:x"}`,
	`{"user_id":"@mallory:x","u\u017fer_id":"@bob:x"}`,
	`{"keys":{"ed25519:A":"m"},"\u212aeys":{"ed25519:A":"b"}}`,
	`{"keys":{"ed25519:A":"m"},"Keys":{"ed25519:A":"b"}}`,
	`{"user_id":"@mallory:x","USER_ID":"@bob:x"}`,
	`{"user_id":"@mallory:x","user_id":"@bob:x"}`,
	`{"user_id":"@a:x","keys":{"ed25519:A":"1","ED25519:a":"2"}}`,
	`{"signatures":{"@a:x":{"ed25519:K":"1","ed25519:\u212a":"2"}}}`,
	`{"usage":["master"],"\u0075sage":["self_signing"]}`,
	`{"device_id":"A","DEVICE_ID":"B","user_id":"@a:x"}`,
	`{"unsigned":{"a":1,"A":2}}`,
	`{"user_id":"@a:x","device_id":"D","keys":{"curve25519:D":"c","ed25519:D":"e"},"usage":["master"],"signatures":{"@a:x":{"ed25519:D":"s"}},"unsigned":{"n":1.5}}`,
	`{"ǅ":1,"ǆ":2}`,
	`{"ß":1,"ẞ":2}`,
	`{"θ":1,"ϑ":2}`,
	`{"Ω":1,"Ω":2}`,
	`[{"a":1},{"a":1}]`,
	`{"a":{"b":1},"c":{"b":2}}`,
	`{"user_id":1}`,
	`{"keys":{"a":1e400}}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"Q":18}`,
}

// FuzzDifferential checks Unmarshal against the exact-name reference:
// whatever the reference refuses or finds a case-folded duplicate in, the
// strict decoder refuses; what it accepts it reads as the reference does.
func FuzzDifferential(f *testing.F) {
	for _, s := range foldSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, foldDup, depth, refErr := reference(data)
		checkErr := CheckNames(data)
		switch {
		case refErr != nil:
			if checkErr == nil {
				t.Fatalf("CheckNames accepted what the reference refuses (%v)", refErr)
			}
		case foldDup:
			if !errors.Is(checkErr, ErrDuplicateName) {
				t.Fatalf("case-folded duplicate not refused: %v", checkErr)
			}
		case depth <= MaxDepth:
			if checkErr != nil {
				t.Fatalf("CheckNames refused valid input: %v", checkErr)
			}
		}
		var got signedKeys
		if err := Unmarshal(data, &got); err != nil {
			return
		}
		if checkErr != nil || refErr != nil || foldDup {
			t.Fatalf("Unmarshal accepted what CheckNames refuses")
		}
		obj, ok := ref.(map[string]any)
		if !ok {
			t.Fatalf("Unmarshal into a struct accepted a non-object")
		}
		rv := reflect.ValueOf(got)
		for i := range rv.NumField() {
			name := rv.Type().Field(i).Tag.Get("json")
			want, present := obj[name]
			field := rv.Field(i)
			if !present {
				if !field.IsZero() {
					t.Fatalf("%s: filled without an exact-name member: %v", name, field)
				}
				continue
			}
			if g := asAny(t, field.Interface()); !reflect.DeepEqual(g, want) {
				t.Fatalf("%s: strict read %#v, exact-name reading %#v", name, g, want)
			}
		}
		var canon any
		if err := UnmarshalCanonical(data, &canon); err == nil && !reflect.DeepEqual(canon, ref) {
			t.Fatalf("UnmarshalCanonical read %#v, reference %#v", canon, ref)
		}
	})
}
