package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/key"
)

// Spec appendices "Signing JSON" examples
// (https://spec.matrix.org/v1.19/appendices/#signing-json): the seed is
// written with non-zero trailing bits, so it is decoded leniently here.
func specSigningKey(t testing.TB) *key.SigningKey {
	seed, err := base64.RawStdEncoding.DecodeString("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := key.NewSigningKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestSignSpecVectors(t *testing.T) {
	sk := specSigningKey(t)
	if got := sk.Public().String(); got != "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI" {
		t.Fatalf("public key %s", got)
	}
	tests := []struct{ in, want string }{
		{`{}`, `{"signatures":{"domain":{"ed25519:1":"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}}`},
		{`{"one": 1, "two": "Two"}`, `{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}`},
	}
	for _, tt := range tests {
		got, err := Sign([]byte(tt.in), "domain", "1", sk)
		if err != nil || string(got) != tt.want {
			t.Errorf("Sign(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		if err := Verify([]byte(tt.want), "domain", "1", sk.Public()); err != nil {
			t.Errorf("Verify(%s): %v", tt.want, err)
		}
	}
}

func TestSignKeepsUnsignedAndOtherSignatures(t *testing.T) {
	sk := specSigningKey(t)
	in := `{"b":1,"unsigned":{"age":5},"signatures":{"@x:y":{"ed25519:Z":"abc"}},"a":[1]}`
	out, err := Sign([]byte(in), "domain", "1", sk)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["unsigned"]) != `{"age":5}` || !strings.Contains(string(m["signatures"]), `"@x:y":{"ed25519:Z":"abc"}`) {
		t.Fatalf("lost data: %s", out)
	}
	// unsigned is not covered: changing it keeps the signature valid.
	changed := bytes.Replace(out, []byte(`"age":5`), []byte(`"age":6`), 1)
	if err := Verify(changed, "domain", "1", sk.Public()); err != nil {
		t.Fatalf("unsigned change broke the signature: %v", err)
	}
	// Nested "signatures" and "unsigned" are covered.
	nested, err := Sign([]byte(`{"x":{"unsigned":1,"signatures":2}}`), "domain", "1", sk)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(nested, []byte(`"unsigned":1`), []byte(`"unsigned":3`), 1)
	if err := Verify(tampered, "domain", "1", sk.Public()); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("nested unsigned not signed: %v", err)
	}
	// Re-signing replaces the signature under the same key ID.
	again, err := Sign(out, "domain", "1", sk)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("re-signing changed the object: %s", again)
	}
}

func TestVerifyFailures(t *testing.T) {
	sk := specSigningKey(t)
	other, _ := key.NewSigningKey(make([]byte, 32))
	signed, err := Sign([]byte(`{"content":"hello","n":7}`), "@a:b", "DEV", sk)
	if err != nil {
		t.Fatal(err)
	}
	s := string(signed)
	sig := s[strings.Index(s, `"ed25519:DEV":"`)+15 : strings.LastIndex(s, `"}}`)]
	tests := []struct {
		name, obj, user, keyName string
		pub                      key.Ed25519
		want                     error
	}{
		{"ok", s, "@a:b", "DEV", sk.Public(), nil},
		{"ok reformatted", "{ \"n\": 7.0e0,\n\"signatures\":{\"@a:b\":{\"ed25519:DEV\":\"" + sig + "\"}}, \"content\": \"hell\\u006f\"}", "@a:b", "DEV", sk.Public(), nil},
		{"wrong user", s, "@c:d", "DEV", sk.Public(), ErrNotSigned},
		{"wrong key name", s, "@a:b", "OTHER", sk.Public(), ErrNotSigned},
		{"wrong public key", s, "@a:b", "DEV", other.Public(), ErrAuthentication},
		{"weak public key", s, "@a:b", "DEV", key.Ed25519{1}, key.ErrWeakKey},
		{"content changed", strings.Replace(s, "hello", "hellO", 1), "@a:b", "DEV", sk.Public(), ErrAuthentication},
		{"member added", strings.Replace(s, `"n":7`, `"n":7,"x":1`, 1), "@a:b", "DEV", sk.Public(), ErrAuthentication},
		{"number changed", strings.Replace(s, `"n":7`, `"n":8`, 1), "@a:b", "DEV", sk.Public(), ErrAuthentication},
		{"signature flipped", strings.Replace(s, sig, "A"+sig[1:], 1), "@a:b", "DEV", sk.Public(), ErrAuthentication},
		{"signature truncated", strings.Replace(s, sig, sig[:80], 1), "@a:b", "DEV", sk.Public(), key.ErrMalformed},
		{"signature empty", strings.Replace(s, sig, "", 1), "@a:b", "DEV", sk.Public(), ErrAuthentication},
		{"signature not a string", strings.Replace(s, `"`+sig+`"`, "5", 1), "@a:b", "DEV", sk.Public(), ErrMalformed},
		{"signatures not an object", `{"content":"hello","n":7,"signatures":[]}`, "@a:b", "DEV", sk.Public(), ErrMalformed},
		{"no signatures", `{"content":"hello","n":7}`, "@a:b", "DEV", sk.Public(), ErrNotSigned},
		{"float", strings.Replace(s, `"n":7`, `"n":7.5`, 1), "@a:b", "DEV", sk.Public(), ErrMalformed},
		{"repeated key", strings.Replace(s, `"n":7`, `"n":7,"n":7`, 1), "@a:b", "DEV", sk.Public(), ErrMalformed},
		{"not an object", `[1]`, "@a:b", "DEV", sk.Public(), ErrMalformed},
		{"not an object (string)", `"x"`, "@a:b", "DEV", sk.Public(), ErrMalformed},
	}
	for _, tt := range tests {
		err := Verify([]byte(tt.obj), tt.user, tt.keyName, tt.pub)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestVerifyTamperEveryByte runs cryptotest.Tamper on a signed object:
// every flipped bit breaks parsing, the lookup of the signature, or the
// signature itself (the object has no unsigned member and no
// insignificant whitespace); no prefix or extension verifies.
func TestVerifyTamperEveryByte(t *testing.T) {
	sk := specSigningKey(t)
	signed, err := Sign([]byte(`{"algorithms":["m.olm.v1.curve25519-aes-sha2"],"user_id":"@a:b","n":-12}`), "@a:b", "DEV", sk)
	if err != nil {
		t.Fatal(err)
	}
	cryptotest.Tamper(t, signed, func(b []byte) error { return Verify(b, "@a:b", "DEV", sk.Public()) })
}

// Numbers in "unsigned" are nobody's signature's business: a float there
// (which canonical JSON forbids) neither breaks verification nor signing.
func TestUnsignedFloat(t *testing.T) {
	sk := specSigningKey(t)
	signed, err := Sign([]byte(`{"a":1,"unsigned":{"f":1.5e-3,"n":[-0.0]}}`), "domain", "1", sk)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(signed), `"unsigned":{"f":1.5e-3,"n":[-0.0]}`) {
		t.Fatalf("unsigned changed: %s", signed)
	}
	if err := Verify(signed, "domain", "1", sk.Public()); err != nil {
		t.Fatal(err)
	}
	// Everywhere else, floats still fail, nested "unsigned" included.
	for _, in := range []string{`{"a":1.5,"unsigned":{}}`, `{"x":{"unsigned":{"f":1.5}}}`, `{"signatures":{"f":1.5}}`} {
		if _, err := Sign([]byte(in), "domain", "1", sk); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", in, err)
		}
	}
	// And Canonical itself stays strict about unsigned.
	if _, err := Canonical([]byte(`{"unsigned":{"f":1.5}}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("Canonical accepted a float in unsigned: %v", err)
	}
	// Malformed numbers are still malformed.
	if _, err := SigningBytes([]byte(`{"unsigned":{"f":01}}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad literal in unsigned: %v", err)
	}
}

func TestSigningBytes(t *testing.T) {
	got, err := SigningBytes([]byte(`{"unsigned":{"a":1},"z":1,"signatures":{},"a":{"signatures":1}}`))
	if err != nil || string(got) != `{"a":{"signatures":1},"z":1}` {
		t.Fatalf("got %s, %v", got, err)
	}
	if _, err := SigningBytes([]byte(` {"a":1.5}`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	sk := specSigningKey(f)
	for _, in := range []string{`{}`, `{"one":1,"two":"Two"}`, `{"a":{"b":[1,2,"x"]},"unsigned":{"q":1}}`} {
		signed, err := Sign([]byte(in), "domain", "1", sk)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(signed)
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		err := Verify(obj, "domain", "1", sk.Public())
		if err == nil {
			// Whatever verified must re-sign to the same signed bytes.
			a, err1 := SigningBytes(obj)
			resigned, err2 := Sign(obj, "domain", "1", sk)
			b, err3 := SigningBytes(resigned)
			if err1 != nil || err2 != nil || err3 != nil || !bytes.Equal(a, b) {
				t.Fatalf("verified object does not round-trip: %q", obj)
			}
		}
	})
}

func TestVerifyAllocs(t *testing.T) {
	sk := specSigningKey(t)
	signed, err := Sign(benchDeviceKeys, "@alice:example.com", "JLAFKJWSCS", sk)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := Verify(signed, "@alice:example.com", "JLAFKJWSCS", sk.Public()); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 30 {
		t.Errorf("Verify: %v allocations, budget 30", allocs)
	}
}

func BenchmarkVerify(b *testing.B) {
	sk := specSigningKey(b)
	signed, err := Sign(benchDeviceKeys, "@alice:example.com", "JLAFKJWSCS", sk)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(signed, "@alice:example.com", "JLAFKJWSCS", sk.Public()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	sk := specSigningKey(b)
	b.SetBytes(int64(len(benchDeviceKeys)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(benchDeviceKeys, "@alice:example.com", "JLAFKJWSCS", sk); err != nil {
			b.Fatal(err)
		}
	}
}
