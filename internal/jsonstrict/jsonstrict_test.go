package jsonstrict

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
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

// TestFoldMatchesEqualFold: AppendFold makes two runes equal exactly when
// strings.EqualFold does, over every rune of every simple folding orbit.
func TestFoldMatchesEqualFold(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		a := string(AppendFold(nil, []byte(string(r))))
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if b := string(AppendFold(nil, []byte(string(f)))); a != b || !strings.EqualFold(string(r), string(f)) {
				t.Fatalf("%U and %U: folded %q and %q", r, f, a, b)
			}
		}
		if r < 0x80 && a != strings.ToUpper(string(r)) {
			t.Fatalf("%U: ASCII fast path gives %q", r, a)
		}
	}
	for _, pair := range [][2]string{{"user_id", "uſer_id"}, {"keys", "\u212aeys"}, {"ǅ", "Ǆ"}, {"ß", "ẞ"}} {
		if string(AppendFold(nil, []byte(pair[0]))) != string(AppendFold(nil, []byte(pair[1]))) {
			t.Errorf("%q and %q fold apart", pair[0], pair[1])
		}
	}
	if string(AppendFold(nil, []byte("ss"))) == string(AppendFold(nil, []byte("ß"))) {
		t.Error("full folding used; the promise is simple folding")
	}
}

func TestDepth(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if err := CheckNames([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	deep := "[" + ok + "]"
	if err := CheckNames([]byte(deep)); !errors.Is(err, ErrSyntax) {
		t.Errorf("depth %d: %v", MaxDepth+1, err)
	}
	deepObj := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	var v any
	if err := Unmarshal([]byte(deepObj), &v); !errors.Is(err, ErrSyntax) {
		t.Errorf("object depth %d: %v", MaxDepth+1, err)
	}
}

func TestUnmarshalCanonical(t *testing.T) {
	for _, in := range []string{`{"n":0}`, `{"n":-0}`, `{"n":9007199254740991}`, `{"n":-9007199254740991}`, `[1,{"a":[2]}]`, `{"s":"1.5"}`} {
		var v any
		if err := UnmarshalCanonical([]byte(in), &v); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	for _, in := range []string{`{"n":1.5}`, `{"n":1.0}`, `{"n":1e3}`, `{"n":1E3}`, `{"n":9007199254740992}`, `{"n":-9007199254740992}`, `[{"a":[0.5]}]`, `{"n":12345678901234567890}`} {
		var v any
		if err := UnmarshalCanonical([]byte(in), &v); !errors.Is(err, ErrNumber) {
			t.Errorf("%s: %v", in, err)
		}
		if err := Unmarshal([]byte(in), &v); err != nil {
			t.Errorf("Unmarshal %s: %v", in, err)
		}
	}
}

// TestLargeObject: past linearNames members the check switches to a map
// and still finds folded duplicates, early or late.
func TestLargeObject(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"k":1`)
	for i := range 1000 {
		fmt.Fprintf(&b, `,"name%d":{"x":1,"X":null}`, i)
	}
	in := b.String()
	if err := CheckNames([]byte(in + "}")); !errors.Is(err, ErrDuplicateName) {
		t.Errorf("nested duplicate: %v", err)
	}
	in = strings.ReplaceAll(in, `"X"`, `"y"`)
	if err := CheckNames([]byte(in + "}")); err != nil {
		t.Errorf("no duplicate: %v", err)
	}
	if err := CheckNames([]byte(in + `,"\u212a":2}`)); !errors.Is(err, ErrDuplicateName) {
		t.Errorf("late Kelvin duplicate: %v", err)
	}
}

// TestCheckNamesAllocs: the name check allocates the same whatever the
// number of names (the decoder and its stacks), not once per name.
func TestCheckNamesAllocs(t *testing.T) {
	small := []byte(`{"user_id":"@a:x","device_id":"D","keys":{"curve25519:D":"c","ed25519:D":"e"}}`)
	var b strings.Builder
	b.WriteString(`{"user_id":"@a:x","keys":{`)
	for i := range 12 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"ed25519:DEVICE%d":"k%d","uſer%d":[{"Kelvin\u212a%d":1}]`, i, i, i, i)
	}
	b.WriteString(`}}`)
	large := []byte(b.String())
	allocs := func(data []byte) float64 {
		return testing.AllocsPerRun(50, func() {
			if err := CheckNames(data); err != nil {
				t.Fatal(err)
			}
		})
	}
	if s, l := allocs(small), allocs(large); l > s+4 {
		t.Errorf("CheckNames allocates %v times for %d bytes but %v for %d", s, len(small), l, len(large))
	}
}

var benchDeviceKeys = []byte(`{"algorithms":["m.olm.v1.curve25519-aes-sha2","m.megolm.v1.aes-sha2"],"device_id":"JLAFKJWSCS","keys":{"curve25519:JLAFKJWSCS":"3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI","ed25519:JLAFKJWSCS":"lEuiRJBit0IG6nUf5pUzWTUEsRVVe/HJkoKuEww9ULI"},"signatures":{"@alice:example.com":{"ed25519:JLAFKJWSCS":"dSO80A01XiigH3uBiDVx/EjzaoycHcjq9lfQX0uWsqxl2giMIiSPR8a4d291W1ihKJL/a+myXS367WT6NAIcBA"}},"user_id":"@alice:example.com","unsigned":{"device_display_name":"Alice's mobile phone"}}`)

func BenchmarkCheckNames(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckNames(benchDeviceKeys); err != nil {
			b.Fatal(err)
		}
	}
}
