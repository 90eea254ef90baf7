package megolm

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/key"
)

// TestRedaction: fmt, log/slog and encoding/json never show the ratchet
// bytes, the signing key or the session keys of any secret-holding type,
// ExportedSession included; only MarshalSecretJSON writes its key.
func TestRedaction(t *testing.T) {
	out := newTestOutbound(t, 'Z')
	sk := out.SessionKey()
	in, _ := NewInboundSession(sk)
	exp := sk.exported()
	es := NewExportedSession(exp, "!room:example.org", key.Curve25519{1}, key.Ed25519{2})
	seed, _ := out.signing.Seed()
	x := out.signing.Expanded()
	secrets := [][]byte{out.r.data[:32], out.r.data[96:], seed, x[:32], x[32:], sk.Bytes(), exp.Bytes(), in.initial.data[:]}
	for _, v := range []any{out, sk, exp, in, es, *out, *sk, *exp, *in, *es, &out.r, out.r} {
		cryptotest.Redacted(t, v, secrets...)
	}
	// The public parts are shown.
	if s := fmt.Sprint(in); !strings.Contains(s, in.SessionID().String()) {
		t.Errorf("session id missing from %s", s)
	}
	// The explicit wire form carries the key.
	b, err := es.MarshalSecretJSON()
	if err != nil || !bytes.Contains(b, []byte(exp.Base64())) {
		t.Errorf("MarshalSecretJSON = %s, %v", b, err)
	}
}
