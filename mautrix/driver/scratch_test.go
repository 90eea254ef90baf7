package driver

import (
	"bytes"
	"testing"
)

// TestScratchNotAliased: what Encrypt and Decrypt return stays the
// caller's after later calls reuse the pooled buffers.
func TestScratchNotAliased(t *testing.T) {
	out, err := Driver{}.NewOutboundGroupSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := Driver{}.NewInboundGroupSession([]byte(out.Key()))
	if err != nil {
		t.Fatal(err)
	}
	var msgs, copies, pts [][]byte
	for i, n := range []int{100, 5000, 100, 70000, 1 << 18, 100} {
		pt := bytes.Repeat([]byte{byte('a' + i)}, n)
		m, err := out.Encrypt(pt)
		if err != nil {
			t.Fatal(err)
		}
		msgs, copies, pts = append(msgs, m), append(copies, bytes.Clone(m)), append(pts, pt)
	}
	var got [][]byte
	for i, m := range msgs {
		if !bytes.Equal(m, copies[i]) {
			t.Fatalf("message %d changed after later encryptions", i)
		}
		pt, index, err := in.Decrypt(m)
		if err != nil || index != uint(i) {
			t.Fatalf("message %d: index %d, %v", i, index, err)
		}
		got = append(got, pt)
	}
	for i := range got {
		if !bytes.Equal(got[i], pts[i]) {
			t.Fatalf("plaintext %d changed after later decryptions", i)
		}
		if !bytes.Equal(msgs[i], copies[i]) {
			t.Fatalf("message %d changed by decryption", i)
		}
	}
}
