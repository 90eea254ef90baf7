package key

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
)

type failingReader struct{}

var errNoRandom = errors.New("test: no randomness")

func (failingReader) Read([]byte) (int, error) { return 0, errNoRandom }

// TestGenerateReaders: the generators take nil as crypto/rand and wrap a
// failing reader's error; neither panics.
func TestGenerateReaders(t *testing.T) {
	for _, r := range []io.Reader{nil, failingReader{}} {
		_, err1 := GenerateSigningKey(r)
		_, err2 := GenerateCurve25519(r)
		for i, err := range []error{err1, err2} {
			if r == nil && err != nil || r != nil && !errors.Is(err, errNoRandom) {
				t.Errorf("generator %d with reader %T: %v", i, r, err)
			}
		}
	}
}

// TestSigningKeyRedacted: a SigningKey prints, logs (slog text and JSON)
// and marshals its public key only.
func TestSigningKeyRedacted(t *testing.T) {
	k, err := GenerateSigningKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := k.Seed()
	exp := k.Expanded()
	for _, v := range []any{k, *k} {
		var out bytes.Buffer
		fmt.Fprintf(&out, "%v %+v %#v %s %x %q", v, v, v, v, v, v)
		slog.New(slog.NewTextHandler(&out, nil)).Info("m", "k", v)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("m", "k", v)
		j, _ := json.Marshal(v)
		out.Write(j)
		for _, sec := range [][]byte{seed, exp[:32], exp[32:]} {
			for _, enc := range []string{string(sec), fmt.Sprintf("%x", sec), b64.Encode(sec), fmt.Sprint(sec)} {
				if strings.Contains(out.String(), enc) {
					t.Fatalf("%T leaks a secret: %s", v, out.String())
				}
			}
		}
		if !strings.Contains(out.String(), k.Public().String()) {
			t.Fatalf("%T does not show its public key: %s", v, out.String())
		}
	}
}
