package megolm

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/internal/wire"
)

// Known-attack regressions and resource bounds for Megolm. The
// owners' tests cover the rest and are not repeated: version 4 (session
// config v2) and version 2 refused, 1 MiB bound: TestParseInvalid; tamper
// of every byte region: TestTamper; imports unverified under fuzzing:
// FuzzExportedSessionKey; libolm v1/v2 pickles and the flag:
// TestLibolmPickleVersions.

// TestRegressionImportedSessionsUnverified (Albrecht et al. 2022; libolm
// marks an imported session verified after any decryption): a session from
// an ExportedSessionKey (m.forwarded_room_key, backup, key export) is
// unverified and stays so through decryption, pickling (own and libolm)
// and export/import; only a merge with a verified copy upgrades it.
func TestRegressionImportedSessionsUnverified(t *testing.T) {
	out := newTestOutbound(t, 'U')
	verified, err := NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	m := out.Encrypt(nil, []byte("hello"))
	imported, err := ImportInboundSession(verified.ExportAtFirstKnownIndex())
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, s *InboundSession) {
		t.Helper()
		if s.IsVerified() {
			t.Errorf("%s: imported session is verified", what)
		}
		if !strings.Contains(fmtV(s), "unverified") && !strings.Contains(fmtV(s), "verified: false") {
			t.Errorf("%s: fmt shows %q (no visible unverified state)", what, fmtV(s))
		}
	}
	check("import", imported)
	if _, _, err := imported.Decrypt(nil, m); err != nil {
		t.Fatal(err)
	}
	check("after decryption", imported)
	p, _ := imported.Pickle(&testPickleKey)
	s, err := UnpickleInboundSession(&testPickleKey, p)
	if err != nil {
		t.Fatal(err)
	}
	check("own pickle", s)
	s, err = UnpickleLibolmInboundSession([]byte("k"), mustPickleLibolm(t, imported, []byte("k")))
	if err != nil {
		t.Fatal(err)
	}
	check("libolm pickle", s)
	k, _ := verified.Export(0)
	s, _ = ImportInboundSession(k)
	check("export of a verified session", s)
	// A SessionKey parsed as an exported key loses its signature, so it is
	// imported unverified too.
	k, err = parseExportedKeyText(out.SessionKey().Base64())
	if err != nil {
		t.Fatal(err)
	}
	s, _ = ImportInboundSession(k)
	check("signed key read as exported", s)
	merged, err := imported.Merge(verified)
	if err != nil || !merged.IsVerified() {
		t.Errorf("merge with the verified copy: verified %v, %v", merged != nil && merged.IsVerified(), err)
	}
}

func fmtV(s *InboundSession) string { return strings.ToLower(fmt.Sprintf("%v", s)) }

// TestRegressionSmallOrderSigningKey (CVE-2024-45193 shape, at the Megolm
// layer): session keys whose Ed25519 key is a small-order point are
// refused, so no session can be made whose "signatures" anyone can forge.
func TestRegressionSmallOrderSigningKey(t *testing.T) {
	out := newTestOutbound(t, 'S')
	good := out.SessionKey()
	exported := good.Bytes()[:exportedKeySize]
	exported[0] = 1
	for _, small := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000", // identity
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
		"0000000000000000000000000000000000000000000000000000000000000080", // order 4
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	} {
		b := bytes.Clone(exported)
		copy(b[len(b)-32:], mustHex(t, small))
		if _, err := ParseExportedSessionKey(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("exported key with small-order signing key %s…: %v", small[:8], err)
		}
	}
}

// TestBoundsHostileIndex: a validly signed message at index 2^32-1 is
// decrypted from index 0 with a bounded amount of work (megolm's ratchet
// advances by at most 4·256 hashes), and a forged one claiming that index
// is refused before any ratchet work, with a fixed, small allocation.
func TestBoundsHostileIndex(t *testing.T) {
	out := newTestOutbound(t, 'I')
	in, err := NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	out.r.advanceTo(math.MaxUint32)
	m := out.Encrypt(nil, []byte("last index"))
	start := time.Now()
	pt, idx, err := in.Decrypt(nil, m)
	if err != nil || idx != math.MaxUint32 || string(pt) != "last index" {
		t.Fatalf("index 2^32-1: %q %d %v", pt, idx, err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("decrypting index 2^32-1 from 0 took %v", el)
	}
	forged := bytes.Clone(m)
	forged[len(forged)-1] ^= 1
	before, _ := in.pickleFrom(cryptotest.ZeroReader{}, &testPickleKey)
	n := cryptotest.AllocBytes(20, func() {
		if _, _, err := in.Decrypt(nil, forged); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("forged: %v", err)
		}
	})
	if n > 512 {
		t.Errorf("refusing a forged message allocates %d bytes", n)
	}
	if after, _ := in.pickleFrom(cryptotest.ZeroReader{}, &testPickleKey); after != before {
		t.Error("forged message changed the session")
	}
}

// TestBoundsHugeVarints: index and length varints beyond their ranges are
// refused at parse time without allocating for the claim.
func TestBoundsHugeVarints(t *testing.T) {
	build := func(fields func(w *wire.Builder)) []byte {
		w := wire.NewBuilder(nil)
		w.AddUint8(3)
		fields(w)
		return append(w.Bytes(), make([]byte, 8+64)...)
	}
	for name, b := range map[string][]byte{
		"index 2^32":         build(func(w *wire.Builder) { w.AddVarintField(1, 1<<32); w.AddBytesField(2, make([]byte, 16)) }),
		"index 2^64-1":       build(func(w *wire.Builder) { w.AddVarintField(1, math.MaxUint64); w.AddBytesField(2, make([]byte, 16)) }),
		"ciphertext 2^63":    build(func(w *wire.Builder) { w.AddVarintField(1, 1); w.AddUvarint(2<<3 | 2); w.AddUvarint(1 << 63) }),
		"unknown field 2^62": build(func(w *wire.Builder) { w.AddUvarint(9<<3 | 2); w.AddUvarint(1 << 62) }),
		"11-byte varint":     build(func(w *wire.Builder) { w.AddUint8(0x08); w.AddBytes(bytes.Repeat([]byte{0xff}, 10)); w.AddUint8(1) }),
	} {
		var err error
		n := cryptotest.AllocBytes(50, func() { _, err = ParseMessage(b) })
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
		if n > 4*uint64(len(b))+512 { // the copy, the Message, the error
			t.Errorf("%s: parsing %d bytes allocates %d", name, len(b), n)
		}
	}
}
