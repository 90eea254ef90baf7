package signing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sicher-go/sicher/internal/jsonstrict"
)

// Spec appendices, "Canonical JSON": every example the spec gives.
func TestCanonicalSpecExamples(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{"{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", `{"one":1,"two":"Two"}`},
		{"{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", `{"a":"1","b":"2"}`},
		{`{"b":"2","a":"1"}`, `{"a":"1","b":"2"}`},
		{`{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`, `{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}`},
		{`{"a": "日本語"}`, `{"a":"日本語"}`},
		{`{"本": 2, "日": 1}`, `{"日":1,"本":2}`},
		{`{"a": "\u65E5"}`, `{"a":"日"}`},
		{`{"a": null}`, `{"a":null}`},
		{`{"a": -0, "b": 1e10}`, `{"a":0,"b":10000000000}`},
	}
	for _, tt := range tests {
		got, err := Canonical([]byte(tt.in))
		if err != nil {
			t.Errorf("Canonical(%q): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Canonical(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// Cases where encoding/json's output is not canonical JSON (Matrix spec,
// appendices, "Canonical JSON": https://spec.matrix.org/v1.19/appendices/#canonical-json).
func TestCanonicalWhereEncodingJSONDiffers(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"h":"<a>&</a>"}`, `{"h":"<a>&</a>"}`},
		{`{"s":"\u2028\u2029"}`, "{\"s\":\"\u2028\u2029\"}"},
		{"{\"s\":\"\u2028\"}", "{\"s\":\"\u2028\"}"},
		{`{"c":"\u0001\u001F\u007f"}`, "{\"c\":\"\\u0001\\u001f\x7f\"}"},
		{`{"c":"\u0008\u000c\u000A\u000d\u0009"}`, `{"c":"\b\f\n\r\t"}`},
		{`{"c":"\/"}`, `{"c":"/"}`},
		{`{"c":"\ud83d\ude00"}`, `{"c":"😀"}`},
		{`[-0, -0.0, 0e5, 1.0, 2.50e1, 100e-2, 1E2, 1e+2]`, `[0,0,0,1,25,1,100,100]`},
		{`[9007199254740991, -9007199254740991]`, `[9007199254740991,-9007199254740991]`},
		{`[9.007199254740991e15]`, `[9007199254740991]`},
		// Code-point order, not UTF-16 order: U+FFFF sorts before U+1F600
		// although its UTF-16 unit is larger than the high surrogate.
		{`{"😀":1,"\uffff":2,"\ue000":3}`, "{\"\ue000\":3,\"\uffff\":2,\"😀\":1}"},
		// The decoded key is sorted, not its escaped form.
		{`{"A":1,"\u0001":2}`, `{"\u0001":2,"A":1}`},
	}
	for _, tt := range tests {
		got, err := Canonical([]byte(tt.in))
		if err != nil {
			t.Errorf("Canonical(%q): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalInvalid(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{``, ErrMalformed},
		{` `, ErrMalformed},
		{`{`, ErrMalformed},
		{`{"a"}`, ErrMalformed},
		{`{"a":}`, ErrMalformed},
		{`{"a":1,}`, ErrMalformed},
		{`[1,]`, ErrMalformed},
		{`{'a':1}`, ErrMalformed},
		{`{a:1}`, ErrMalformed},
		{`{"a":1}x`, ErrMalformed},
		{`{"a":1}{}`, ErrMalformed},
		{"\ufeff{}", ErrMalformed},
		{`{"a":tru}`, ErrMalformed},
		{`{"a":nul}`, ErrMalformed},
		{`[01]`, ErrMalformed},
		{`[1.]`, ErrMalformed},
		{`[.5]`, ErrMalformed},
		{`[+1]`, ErrMalformed},
		{`[1e]`, ErrMalformed},
		{`[-]`, ErrMalformed},
		{`[NaN]`, ErrMalformed},
		{`[Infinity]`, ErrMalformed},
		{"[\"\t\"]", ErrMalformed},
		{"[\"\x00\"]", ErrMalformed},
		{`["\x"]`, ErrMalformed},
		{`["\u12"]`, ErrMalformed},
		{`["\u12g4"]`, ErrMalformed},
		{`["\ud800"]`, ErrMalformed},
		{`["\udc00"]`, ErrMalformed},
		{`["\ud800\u0041"]`, ErrMalformed},
		{`["\ud800\ud800"]`, ErrMalformed},
		{"[\"\xff\"]", ErrMalformed},
		{"[\"\xc0\xaf\"]", ErrMalformed},         // overlong '/'
		{"[\"\xed\xa0\x80\"]", ErrMalformed},     // UTF-8-encoded surrogate
		{"[\"\xf4\x90\x80\x80\"]", ErrMalformed}, // > U+10FFFF
		{`{"a":1,"a":1}`, ErrMalformed},
		{`{"a":1,"\u0061":2}`, ErrMalformed},
		{`[{"x":{"b":1,"c":2,"b":3}}]`, ErrMalformed},
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), ErrMalformed},
		{`[1.5]`, ErrMalformed},
		{`[0.1e1]`, nil},
		{`[1e-1]`, ErrMalformed},
		{`[9007199254740992]`, ErrMalformed},
		{`[-9007199254740992]`, ErrMalformed},
		{`[1e16]`, ErrMalformed},
		{`[12345678901234567890]`, ErrMalformed},
		{`[1e999999999999999999999]`, ErrMalformed},
		{`[1e-999999999999999999999]`, ErrMalformed},
	}
	for _, tt := range tests {
		out, err := Canonical([]byte(tt.in))
		if tt.want == nil {
			if err != nil {
				t.Errorf("Canonical(%q): unexpected error %v", tt.in, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("Canonical(%q) = %q, %v; want %v", tt.in, out, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "signing: ") {
			t.Errorf("error %q does not name the package", err)
		}
	}
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := Canonical([]byte(ok)); err != nil {
		t.Errorf("nesting of exactly %d: %v", maxDepth, err)
	}
}

func TestNumberError(t *testing.T) {
	_, err := Canonical([]byte(`{"a":[2.5]}`))
	var ne *NumberError
	if !errors.As(err, &ne) || !ne.Fraction || ne.Literal != "2.5" {
		t.Fatalf("got %v (%#v)", err, ne)
	}
	_, err = Canonical([]byte(`[-18014398509481984]`))
	if !errors.As(err, &ne) || ne.Fraction || ne.Literal != "-18014398509481984" {
		t.Fatalf("got %v (%#v)", err, ne)
	}
	long := "1" + strings.Repeat("0", 100)
	_, err = Canonical([]byte(long))
	if !errors.As(err, &ne) || len(ne.Literal) > 40 {
		t.Fatalf("literal not bounded: %v", err)
	}
}

// Every strict prefix of a document fails: there is no silent truncation.
func TestCanonicalStrictPrefix(t *testing.T) {
	for _, doc := range []string{
		`{"a":[1,2,{"b":"c\u00e9\ud83d\ude00"}],"d":true,"e":null,"f":-12}`,
		`{"signatures":{"@a:b":{"ed25519:X":"sig"}},"unsigned":{"age":1}}`,
	} {
		for i := range len(doc) {
			if _, err := Canonical([]byte(doc[:i])); err == nil {
				t.Errorf("prefix %q accepted", doc[:i])
			}
		}
	}
}

func TestAppendCanonical(t *testing.T) {
	dst := []byte("prefix:")
	out, err := AppendCanonical(dst, []byte(`{"b":1,"a":2}`))
	if err != nil || string(out) != `prefix:{"a":2,"b":1}` {
		t.Fatalf("got %q, %v", out, err)
	}
	out, err = AppendCanonical(dst, []byte(`{"b":1.5}`))
	if err == nil || string(out) != "prefix:" {
		t.Fatalf("on error got %q, %v", out, err)
	}
}

func TestMarshal(t *testing.T) {
	type s struct {
		Z string          `json:"z"`
		A int             `json:"a"`
		R json.RawMessage `json:"r"`
	}
	got, err := Marshal(s{Z: "<\u2028>", A: -0, R: json.RawMessage(`{"y":1e3,"x":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"a\":0,\"r\":{\"x\":[],\"y\":1000},\"z\":\"<\u2028>\"}"; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, err := Marshal(map[string]float64{"f": 0.5}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("float accepted: %v", err)
	}
	if _, err := Marshal(func() {}); err == nil {
		t.Fatal("unmarshalable value accepted")
	}
}

type goldenCase struct {
	In  string  `json:"in"`
	Out *string `json:"out"`
}

// The golden file was produced by testdata/canonical_gen.py (CPython's
// json module, see its doc string) from testdata/canonical_corpus.json.
func TestCanonicalPythonGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/canonical_corpus.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 50 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	checkAgainstOracle(t, cases)
}

func checkAgainstOracle(t *testing.T, cases []goldenCase) {
	t.Helper()
	for _, c := range cases {
		got, err := Canonical([]byte(c.In))
		switch {
		case c.Out == nil && err == nil:
			t.Errorf("Canonical(%q) = %q; the oracle refuses it", c.In, got)
		case c.Out != nil && err != nil:
			t.Errorf("Canonical(%q): %v; the oracle gives %q", c.In, err, *c.Out)
		case c.Out != nil && string(got) != *c.Out:
			t.Errorf("Canonical(%q) = %q; the oracle gives %q", c.In, got, *c.Out)
		}
	}
}

// pythonWithJSON returns a python3 that runs the oracle, or skips.
func pythonOracle(t *testing.T) string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("python3 not installed")
	return ""
}

// TestCanonicalPythonLive generates thousands of random documents full of
// awkward strings, keys and numbers and compares Canonical with CPython's
// json module run live (testdata/canonical_gen.py).
func TestCanonicalPythonLive(t *testing.T) {
	py := pythonOracle(t)
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	inputs := make([]string, n)
	for i := range inputs {
		var b strings.Builder
		randomValue(r, &b, 0)
		inputs[i] = b.String()
	}
	in, _ := json.Marshal(inputs)
	cmd := exec.Command(py, "testdata/canonical_gen.py")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("python oracle failed: %v", err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(out, &cases); err != nil || len(cases) != n {
		t.Fatalf("oracle output: %v (%d cases)", err, len(cases))
	}
	refused := 0
	for _, c := range cases {
		if c.Out == nil {
			refused++
		}
	}
	if refused == n || refused == 0 {
		t.Fatalf("corpus does not exercise both outcomes: %d of %d refused", refused, n)
	}
	checkAgainstOracle(t, cases)
}

var awkwardRunes = []rune{'a', 'Z', '"', '\\', '/', 0, 1, 0x1f, '\b', '\f', '\n', '\r', '\t', 0x7f, 0x80,
	0xe9, 0x301, 0x2028, 0x2029, 0x65e5, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff, '<', '&'}

func randomString(r *rand.Rand, b *strings.Builder) {
	b.WriteByte('"')
	for range r.IntN(6) {
		c := awkwardRunes[r.IntN(len(awkwardRunes))]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || r.IntN(3) == 0:
			if c > 0xffff {
				hi, lo := 0xd800+((c-0x10000)>>10), 0xdc00+((c-0x10000)&0x3ff)
				fmt.Fprintf(b, `\u%04x\u%04X`, hi, lo)
			} else {
				fmt.Fprintf(b, `\u%04X`, c)
			}
		default:
			b.WriteRune(c)
		}
	}
	if r.IntN(40) == 0 { // occasionally an unpaired surrogate
		b.WriteString(`\udbff`)
	}
	b.WriteByte('"')
}

var numbers = []string{"0", "-0", "1", "-1", "9007199254740991", "-9007199254740991", "9007199254740992",
	"1e10", "1E+2", "2.50e1", "1.5", "0.0", "-0.0e7", "1e16", "100e-2", "12345678901234567", "123e-3", "5e-1"}

func randomValue(r *rand.Rand, b *strings.Builder, depth int) {
	k := r.IntN(8)
	if depth > 3 {
		k = r.IntN(4)
	}
	switch k {
	case 0:
		randomString(r, b)
	case 1:
		b.WriteString(numbers[r.IntN(len(numbers))])
	case 2:
		b.WriteString([]string{"true", "false", "null"}[r.IntN(3)])
	case 3:
		fmt.Fprint(b, r.Int64N(1<<54)-1<<53)
	case 4, 5:
		b.WriteByte('[')
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteString(" , ")
			}
			randomValue(r, b, depth+1)
		}
		b.WriteByte(']')
	default:
		b.WriteString("{ ")
		for i := range r.IntN(5) {
			if i > 0 {
				b.WriteByte(',')
			}
			randomString(r, b)
			b.WriteString("\n:\t")
			randomValue(r, b, depth+1)
		}
		b.WriteString("}")
	}
}

func FuzzCanonical(f *testing.F) {
	data, err := os.ReadFile("testdata/canonical_corpus.json")
	if err != nil {
		f.Fatal(err)
	}
	var seeds []string
	if err := json.Unmarshal(data, &seeds); err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{"user_id":1,"uſer_id":2}`, `{"keys":{},"\u212aeys":{}}`, `[{"a":1,"A":2}]`, `{"ǅ":1,"ǆ":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonical(in)
		// The encoder and the strict decoder fold names alike: what one
		// accepts has no case-folded duplicate for the other either.
		if strictErr := jsonstrict.CheckNames(in); err == nil && strictErr != nil {
			t.Fatalf("Canonical accepted what the strict decoder refuses: %v", strictErr)
		}
		if err != nil {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("output %q is not valid JSON", out)
		}
		again, err := Canonical(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q → %q → %q, %v", in, out, again, err)
		}
		// The canonical form decodes to the same value as the input.
		var a, b any
		da := json.NewDecoder(bytes.NewReader(in))
		da.UseNumber()
		db := json.NewDecoder(bytes.NewReader(out))
		db.UseNumber()
		if da.Decode(&a) != nil || db.Decode(&b) != nil {
			t.Fatal("decode failed")
		}
		if !sameValue(a, b) {
			t.Fatalf("value changed: %q → %q", in, out)
		}
	})
}

// sameValue compares two decoded values, numbers by their integer value.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		var x, y json.Number = a, bn
		e := encoder{in: []byte(x)}
		xs, err1 := e.number(nil)
		e = encoder{in: []byte(y)}
		ys, err2 := e.number(nil)
		return err1 == nil && err2 == nil && bytes.Equal(xs, ys)
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			if !sameValue(v, bm[k]) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], bs[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

var benchDeviceKeys = []byte(`{
  "user_id": "@alice:example.com",
  "device_id": "JLAFKJWSCS",
  "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
  "keys": {
    "curve25519:JLAFKJWSCS": "3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI",
    "ed25519:JLAFKJWSCS": "lEuiRJBit0IG6nUf5pUzWTUEsRVVe/HJkoKuEww9ULI"
  },
  "signatures": {
    "@alice:example.com": {
      "ed25519:JLAFKJWSCS": "dSO80A01XiigH3uBiDVx/EjzaoycHcjq9lfQX0uWsqxl2giMIiSPR8a4d291W1ihKJL/a+myXS367WT6NAIcBA"
    }
  },
  "unsigned": {"device_display_name": "Alice's mobile phone"}
}`)

func TestCanonicalAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := AppendCanonical(dst[:0], benchDeviceKeys); err != nil {
			t.Fatal(err)
		}
	})
	// The scratch buffers, sized once (and one spare).
	if allocs > 3 {
		t.Errorf("AppendCanonical: %v allocations, budget 3", allocs)
	}
}

func BenchmarkCanonical(b *testing.B) {
	dst := make([]byte, 0, 1024)
	b.SetBytes(int64(len(benchDeviceKeys)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendCanonical(dst[:0], benchDeviceKeys); err != nil {
			b.Fatal(err)
		}
	}
}
