package megolm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/key"
)

// TestRedaction: fmt never shows ratchet bytes or signing-key secrets of
// any secret-holding type, whatever the verb.
func TestRedaction(t *testing.T) {
	out := newTestOutbound(t, 'Z')
	sk := out.SessionKey()
	in, _ := NewInboundSession(sk)
	exp := sk.exported()
	seed, _ := out.signing.Seed()
	x := out.signing.Expanded()
	secrets := [][]byte{out.r.data[:32], out.r.data[96:], seed, x[:32], x[32:]}
	values := []any{out, sk, exp, in, *out, *sk, *exp, *in, &out.r, out.r}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			s := fmt.Sprintf(verb, v)
			for _, sec := range secrets {
				for _, enc := range []string{hex.EncodeToString(sec[:8]), strings.ToUpper(hex.EncodeToString(sec[:8])), b64.Encode(sec[:9]), fmt.Sprint(sec[:4])[1:12], string(sec[:8])} {
					if strings.Contains(s, enc) {
						t.Errorf("%s of %T shows a secret: %s", verb, v, s)
					}
				}
			}
		}
	}
	// The public parts are shown.
	if s := fmt.Sprint(in); !strings.Contains(s, in.SessionID().String()) {
		t.Errorf("session id missing from %s", s)
	}
}

// TestEncryptDoesNotModifyInput and appends into spare capacity.
func TestEncryptAppend(t *testing.T) {
	out := newTestOutbound(t, 'U')
	in, _ := NewInboundSession(out.SessionKey())
	pt := []byte("plaintext that must not change")
	keep := append([]byte(nil), pt...)
	dst := make([]byte, 3, 500)
	copy(dst, "abc")
	msg := out.Encrypt(dst, pt)
	if &msg[0] != &dst[0] || string(msg[:3]) != "abc" || !bytes.Equal(pt, keep) {
		t.Error("Encrypt did not append in place or modified its input")
	}
	raw := append([]byte(nil), msg[3:]...)
	got, _, err := in.Decrypt(nil, msg[3:])
	if err != nil || !bytes.Equal(got, pt) || !bytes.Equal(raw, msg[3:]) {
		t.Errorf("Decrypt: %v, or it modified the message", err)
	}
}

// TestAllocs pins the allocation budgets of the append-style hot paths
// (2 each measured on Go 1.26/amd64, inside the standard library's HKDF
// and HMAC; one spare for other platforms).
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	out := newTestOutbound(t, 'V')
	in, _ := NewInboundSession(out.SessionKey())
	pt := make([]byte, 1024)
	buf := make([]byte, 0, 2048)
	msgs := make([][]byte, 200)
	for i := range msgs {
		msgs[i] = out.Encrypt(nil, pt)
	}
	const encryptBudget, decryptBudget = 3, 3
	if n := testing.AllocsPerRun(100, func() { buf = out.Encrypt(buf[:0], pt) }); n > encryptBudget {
		t.Errorf("Encrypt: %v allocations, budget %d", n, encryptBudget)
	} else {
		t.Logf("Encrypt: %v allocations", n)
	}
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		var err error
		buf, _, err = in.Decrypt(buf[:0], msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		i++
	}); n > decryptBudget {
		t.Errorf("Decrypt: %v allocations, budget %d", n, decryptBudget)
	} else {
		t.Logf("Decrypt: %v allocations", n)
	}
}

// TestTextMarshalling: the JSON forms of the public values, and the
// secret keys, which encoding/json reads as text but never writes.
func TestTextMarshalling(t *testing.T) {
	out := newTestOutbound(t, 'J')
	type content struct {
		SessionKey *SessionKey         `json:"session_key"`
		Exported   *ExportedSessionKey `json:"exported"`
		Ciphertext *Message            `json:"ciphertext"`
	}
	sk := out.SessionKey()
	m, err := ParseMessage(out.Encrypt(nil, []byte("json")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(content{sk, sk.exported(), m})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(sk.Base64())) || bytes.Contains(b, []byte(sk.exported().Base64())) {
		t.Fatalf("encoding/json wrote a secret key: %s", b)
	}
	in := fmt.Sprintf(`{"session_key":%q,"exported":%q,"ciphertext":%q}`, sk.Base64(), sk.exported().Base64(), b64.Encode(m.raw))
	var got content
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	if got.SessionKey.Base64() != sk.Base64() || got.Exported.Base64() != sk.exported().Base64() || !bytes.Equal(got.Ciphertext.Bytes(), m.Bytes()) {
		t.Errorf("JSON round trip differs: %s", b)
	}
	for _, bad := range []string{`{"session_key":"AgAA"}`, `{"exported":"!!"}`, `{"ciphertext":"AwgA"}`} {
		if err := json.Unmarshal([]byte(bad), new(content)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// TestRedactionSlogJSON: log/slog (text and JSON handlers) and
// encoding/json never show the secret of any secret-holding type,
// ExportedSession included; only MarshalSecretJSON writes its key.
func TestRedactionSlogJSON(t *testing.T) {
	out := newTestOutbound(t, 'L')
	sk := out.SessionKey()
	in, _ := NewInboundSession(sk)
	exp := sk.exported()
	es := NewExportedSession(exp, "!room:example.org", key.Curve25519{1}, key.Ed25519{2})
	seed, _ := out.signing.Seed()
	secrets := [][]byte{out.r.data[:], seed, sk.Bytes(), exp.Bytes(), in.initial.data[:]}
	values := map[string]any{"outbound": out, "session_key": sk, "exported_key": exp, "inbound": in, "exported_session": es,
		"outbound value": *out, "inbound value": *in, "exported_session value": *es}
	for name, v := range values {
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
		enc, err := json.Marshal(v)
		if err != nil {
			enc = []byte(err.Error())
		}
		for _, outText := range []string{text.String(), js.String(), string(enc)} {
			for _, sec := range secrets {
				for _, f := range cryptotest.Encodings(sec) {
					if f != "" && strings.Contains(outText, f) {
						t.Errorf("%s shows a secret: %s", name, outText)
					}
				}
			}
		}
		cryptotest.CheckRedacted(t, name, v, secrets...)
	}
	// The explicit wire form carries the key.
	b, err := es.MarshalSecretJSON()
	if err != nil || !bytes.Contains(b, []byte(exp.Base64())) {
		t.Errorf("MarshalSecretJSON = %s, %v", b, err)
	}
}
