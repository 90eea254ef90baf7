package key

import (
	"errors"
	"io"
	"testing"
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
