package megolm

import (
	"bytes"
	"testing"
)

func TestInboundCloneIsIndependent(t *testing.T) {
	out, err := NewOutboundSessionFrom(bytes.NewReader(bytes.Repeat([]byte{5}, 160)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for range 3 {
		msgs = append(msgs, out.Encrypt(nil, []byte("hi")))
	}
	c := in.Clone()
	if _, _, err := c.Decrypt(nil, msgs[2]); err != nil {
		t.Fatal(err)
	}
	if !c.AdvanceTo(3) {
		t.Fatal("AdvanceTo(3) changed nothing")
	}
	if _, _, err := in.Decrypt(nil, msgs[0]); err != nil {
		t.Fatalf("the original lost index 0 after work on a clone: %v", err)
	}
	if in.FirstKnownIndex() != 0 || c.FirstKnownIndex() != 3 {
		t.Fatalf("first known indices %d and %d, want 0 and 3", in.FirstKnownIndex(), c.FirstKnownIndex())
	}
}
