package ratchet

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzStateStable: both state parsers are stable: whatever
// parses encodes to bytes that parse and encode to the same bytes again
// (parse -> encode -> parse is a fixed point), and every refusal wraps
// ErrBadState.
func FuzzStateStable(f *testing.F) {
	rand := &counterReader{}
	alice, bob := pair(f, rand)
	mustReceive(f, bob, send(f, alice, rand))
	send(f, alice, rand)
	mustReceive(f, bob, send(f, alice, rand))
	mustReceive(f, alice, send(f, bob, rand))
	for _, r := range []*Ratchet{alice, bob} {
		f.Add(r.AppendState(nil), false)
		f.Add(r.AppendLibolmState(nil), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, libolm bool) {
		parse, encode := ParseState, (*Ratchet).AppendState
		if libolm {
			parse, encode = ParseLibolmState, (*Ratchet).AppendLibolmState
		}
		r, err := parse(b)
		if err != nil {
			if r != nil || !errors.Is(err, ErrBadState) {
				t.Fatalf("refusal: %v (ratchet %v)", err, r != nil)
			}
			return
		}
		e1 := encode(r, nil)
		r2, err := parse(e1)
		if err != nil {
			t.Fatalf("re-encoded state does not parse: %v", err)
		}
		if e2 := encode(r2, nil); !bytes.Equal(e1, e2) {
			t.Fatalf("parse -> encode is not stable:\n%x\n%x", e1, e2)
		}
	})
}
