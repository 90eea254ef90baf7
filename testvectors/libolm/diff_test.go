package libolm_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/sicher-go/sicher/internal/pickle"
)

func pickleDiff(t *testing.T, key []byte, a, b string) {
	pa, err := pickle.OpenLibolm(key, a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := pickle.OpenLibolm(key, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("len %d vs %d", len(pa), len(pb))
	for i := range min(len(pa), len(pb)) {
		if pa[i] != pb[i] {
			t.Logf("first difference at %d:\nlibolm %s\nsicher %s", i, hex.EncodeToString(pa[i:min(len(pa), i+80)]), hex.EncodeToString(pb[i:min(len(pb), i+80)]))
			return
		}
	}
}

// sameSkippedSet reports whether two session pickle plaintexts (libolm's
// first) are equal up to the order of their skipped-message-key entries,
// or up to sicher holding more of them (libolm keeps 40 in total, sicher 40
// per chain, so sicher may hold keys libolm already evicted).
func sameSkippedSet(t *testing.T, key []byte, a, b string) bool {
	pa, _ := pickle.OpenLibolm(key, a)
	pb, _ := pickle.OpenLibolm(key, b)
	off := 4 + 1 + 96 + 32
	ns := int(binary.BigEndian.Uint32(pa[off:]))
	off += 4 + ns*100
	nr := int(binary.BigEndian.Uint32(pa[off:]))
	off += 4 + nr*68
	if len(pb) < off || !bytes.Equal(pa[:off], pb[:off]) {
		return false
	}
	entries := func(p []byte) map[string]bool {
		out := map[string]bool{}
		for i := off + 4; i+68 <= len(p); i += 68 {
			out[string(p[i:i+68])] = true
		}
		return out
	}
	// Skipped keys of a chain libolm no longer has are unreachable in
	// libolm (it looks a key up only after finding its chain); sicher
	// drops them with the chain.
	chains := map[string]bool{}
	for i := range nr {
		c := off - nr*68 + i*68
		chains[string(pa[c:c+32])] = true
	}
	la, sb := entries(pa), entries(pb)
	for e := range la {
		if chains[e[:32]] && !sb[e] {
			t.Logf("libolm's skipped key (chain %x, index %d) is missing in sicher's pickle",
				e[:4], binary.BigEndian.Uint32([]byte(e[64:])))
			return false
		}
	}
	return true
}

// skippedKeys returns the number of skipped message keys in a libolm
// session pickle.
func skippedKeys(key []byte, p string) int {
	pt, err := pickle.OpenLibolm(key, p)
	if err != nil {
		return -1
	}
	off := 4 + 1 + 96 + 32
	ns := int(binary.BigEndian.Uint32(pt[off:]))
	off += 4 + ns*100
	nr := int(binary.BigEndian.Uint32(pt[off:]))
	off += 4 + nr*68
	return int(binary.BigEndian.Uint32(pt[off:]))
}
