package cryptotest

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/edwards25519"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/secretstorage"
)

// One named regression test per known attack on Olm and Megolm
// implementations (each test names its CVE or paper). Where a package
// owner's test already proves the point it is named here and in
// SECURITY.md instead of repeated; these tests cover what crosses packages.

// moduleRoot is the repository root (this package is internal/cryptotest).
func moduleRoot(t *testing.T) string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return root
}

// libraryFiles parses every non-test Go file of the library (the root
// module without cmd/, bench/ and testvectors/).
func libraryFiles(t *testing.T) (*token.FileSet, map[string]*ast.File) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "cmd" || rel == "bench" || rel == "testvectors" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files[rel] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d library files", len(files))
	}
	return fset, files
}

// TestRegressionCVE2024_45191_NoTableAES: libolm used a table-based AES
// (cache-timing attacks). sicher's AES comes only from crypto/aes, which
// uses the AES instructions of amd64, arm64, s390x and ppc64 (constant
// time): no library file imports another AES, and none declares a lookup
// table of 64 or more constants (an S-box or T-table). Residual risk,
// stated in SECURITY.md: on CPUs without AES instructions Go's generic
// AES is still table-based (golang/go#69025, open).
func TestRegressionCVE2024_45191_NoTableAES(t *testing.T) {
	fset, files := libraryFiles(t)
	usesAES := false
	for name, f := range files {
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "crypto/aes" {
				usesAES = true
			}
			if strings.Contains(strings.ToLower(p), "aes") && p != "crypto/aes" && !strings.HasPrefix(p, "github.com/sicher-go/sicher/internal/aessha2") {
				t.Errorf("%s imports %s: AES must come from crypto/aes only", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || len(lit.Elts) < 64 {
				return true
			}
			for _, e := range lit.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					e = kv.Value
				}
				if _, ok := e.(*ast.BasicLit); !ok {
					return true
				}
			}
			t.Errorf("%s: a table of %d constants (an S-box or T-table?) at %s", name, len(lit.Elts), fset.Position(lit.Pos()))
			return true
		})
	}
	if !usesAES {
		t.Error("no library file imports crypto/aes: the scan is looking at the wrong tree")
	}
}

// TestRegressionCVE2024_45192_ConstantTimeSecretCodecs: libolm decoded
// secret base64 through a lookup table indexed by the secret characters.
// sicher's secret codecs (internal/b64 EncodeSecret/DecodeSecret, the base58
// of recovery keys in internal/recoverykey) must not index any package-level
// table, and their per-character functions must not branch.
func TestRegressionCVE2024_45192_ConstantTimeSecretCodecs(t *testing.T) {
	_, files := libraryFiles(t)
	for _, c := range []struct {
		file       string
		roots      []string // the secret entry points
		branchFree []string // per-character functions: no if, switch or index at all
	}{
		{filepath.Join("internal", "b64", "b64.go"), []string{"EncodeSecret", "AppendEncodeSecret", "DecodeSecret"}, []string{"decodeChar", "encodeChar"}},
		{filepath.Join("internal", "recoverykey", "recoverykey.go"), []string{"Encode", "Decode"}, []string{"decodeDigit"}},
	} {
		f := files[c.file]
		if f == nil {
			t.Errorf("%s not found", c.file)
			continue
		}
		globals := map[string]bool{}
		funcs := map[string]*ast.FuncDecl{}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if vs, ok := s.(*ast.ValueSpec); ok {
						for _, n := range vs.Names {
							globals[n.Name] = true
						}
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil {
					funcs[d.Name.Name] = d
				}
			}
		}
		// Every function reachable from the roots within the file.
		reach := map[string]bool{}
		var visit func(name string)
		visit = func(name string) {
			fd := funcs[name]
			if fd == nil || reach[name] {
				return
			}
			reach[name] = true
			ast.Inspect(fd, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if id, ok := call.Fun.(*ast.Ident); ok {
						visit(id.Name)
					}
				}
				return true
			})
		}
		for _, r := range append(c.roots, c.branchFree...) {
			if funcs[r] == nil {
				t.Errorf("%s: function %s not found (renamed? update this test)", c.file, r)
			}
			visit(r)
		}
		for name := range reach {
			ast.Inspect(funcs[name], func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.IndexExpr:
					if id, ok := n.X.(*ast.Ident); ok && globals[id.Name] {
						t.Errorf("%s: %s indexes the package-level table %s", c.file, name, id.Name)
					}
					if _, ok := n.X.(*ast.BasicLit); ok {
						t.Errorf("%s: %s indexes a string literal", c.file, name)
					}
					if slices.Contains(c.branchFree, name) {
						t.Errorf("%s: %s indexes memory with a secret", c.file, name)
					}
				case *ast.IfStmt, *ast.SwitchStmt:
					if slices.Contains(c.branchFree, name) {
						t.Errorf("%s: %s branches on a secret", c.file, name)
					}
				}
				return true
			})
		}
	}
}

// TestRegressionCVE2024_45193_Ed25519Malleability: libolm's Ed25519
// accepted S >= ℓ (malleable signatures) and, like crypto/ed25519, small
// -order keys and R. key.Ed25519.Verify and key.NewVerifier must refuse:
// a valid signature with ℓ added to S; the identity key with the identity
// R and S = 0 (which crypto/ed25519 accepts for every message); every
// small-order public key; a small-order R.
func TestRegressionCVE2024_45193_Ed25519Malleability(t *testing.T) {
	sk := must(key.NewSigningKey(make([]byte, 32)))
	msg := []byte("malleable?")
	sig := sk.Sign(msg)
	pub := sk.Public()
	if err := pub.Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
	// S + ℓ: the same signature in non-canonical form.
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	s := new(big.Int).SetBytes(reverse(sig[32:]))
	s.Add(s, l)
	mall := sig
	copy(mall[32:], reverse(leftPad(s.Bytes(), 32)))
	if err := pub.Verify(msg, mall); err == nil {
		t.Error("signature with S + ℓ accepted")
	}
	// The identity public key, R = identity, S = 0.
	identity := key.Ed25519{1}
	var idSig key.Ed25519Signature
	idSig[0] = 1
	if !ed25519.Verify(identity[:], msg, idSig[:]) {
		t.Log("crypto/ed25519 no longer accepts the identity signature (fine)")
	}
	if err := identity.Verify(msg, idSig); err == nil {
		t.Error("identity key with identity R and S = 0 accepted")
	}
	for _, h := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	} {
		var k key.Ed25519
		copy(k[:], hexBytes(h))
		if _, err := key.NewVerifier(k); err == nil {
			t.Errorf("small-order key %s… accepted by NewVerifier", h[:8])
		}
		if err := k.Verify(msg, idSig); err == nil {
			t.Errorf("small-order key %s… verified a signature", h[:8])
		}
	}
	// A small-order R with a real key: S·B = R + k·A cannot be met by an
	// honest signer, so build it as a forger would, for the key A = s·B
	// we hold: pick R small-order, compute k, set S = k·s (mod ℓ) + 0.
	// R has order 8, so S·B - k·A = R fails in cofactorless verification
	// unless R is the identity; use R = identity, S = k·s.
	var R key.Ed25519
	R[0] = 1
	h := sha512.New()
	h.Write(R[:])
	h.Write(pub[:])
	h.Write(msg)
	kS := must(edwards25519.NewScalar().SetUniformBytes(h.Sum(nil)))
	exp := sk.Expanded()
	sS := must(edwards25519.NewScalar().SetBytesWithClamping(exp[:32]))
	S := edwards25519.NewScalar().Multiply(kS, sS)
	var forged key.Ed25519Signature
	copy(forged[:32], R[:])
	copy(forged[32:], S.Bytes())
	if !ed25519.Verify(pub[:], msg, forged[:]) {
		t.Fatal("the small-order-R signature does not verify under crypto/ed25519: construction is wrong")
	}
	if err := pub.Verify(msg, forged); err == nil {
		t.Error("signature with the identity as R accepted (small-order R)")
	}
}

func reverse(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

func leftPad(b []byte, n int) []byte { return append(make([]byte, n-len(b)), b...) }

func hexBytes(h string) []byte {
	b := make([]byte, len(h)/2)
	for i := range b {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		b[i] = byte(v)
	}
	return b
}

// TestRegressionLowOrderX25519Everywhere (vodozemac 0.10 after Soatok,
// 2026: DH with the identity element): every X25519 sicher does refuses a
// low-order peer key with key.ErrNonContributory (wrapped): the 3DH on
// both sides, SAS, backup encryption and decryption. The ratchet steps
// have their own tests (olm TestNonContributoryKeys,
// TestRegressionLowOrderFirstRatchetKey; ratchet
// TestNonContributoryRatchetKey); SAS sas_test.go and backup
// keybackup_test.go test their packages more deeply.
func TestRegressionLowOrderX25519Everywhere(t *testing.T) {
	r := seeded("low order")
	acct := must(olm.NewAccountFrom(r))
	s := must(sas.NewFrom(r))
	dk := must(keybackup.NewDecryptionKey(readN(r, keybackup.KeySize)))
	good := acct.Curve25519()
	for _, lo := range LowOrder() {
		k := key.Curve25519(lo)
		checks := map[string]error{}
		_, checks["olm outbound, one-time key"] = acct.NewOutboundSessionFrom(r, good, k)
		_, checks["olm outbound, identity key"] = acct.NewOutboundSessionFrom(r, k, good)
		_, checks["sas"] = s.SetTheirKey(k)
		_, checks["backup encrypt"] = keybackup.EncryptFrom(r, k, []byte("x"))
		d, err := keybackup.ParseEncryptedSessionData(k.String(), "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAA")
		if err != nil {
			checks["backup decrypt"] = err
		} else {
			_, checks["backup decrypt"] = dk.Decrypt(d)
		}
		for what, err := range checks {
			if !errors.Is(err, key.ErrNonContributory) {
				t.Errorf("%s with low-order key %x…: %v, want key.ErrNonContributory", what, lo[:4], err)
			}
		}
	}
}

// TestRegressionMegolmWhereOlmRequired (CVE-2022-39251, Albrecht et al.):
// a to-device event encrypted with Megolm must never be accepted where Olm
// is required. The API keeps the paths apart by type: event.DecryptOlm
// accepts only m.olm.v1.curve25519-aes-sha2 content and returns an
// *OlmEvent; room keys and forwarded keys (RoomKeyFromEvent,
// ForwardedRoomKeyFromEvent) take only an *OlmEvent; event.DecryptMegolm
// returns a *RoomEvent, which no key-sharing function accepts; EncryptMegolm
// refuses key-sharing event types.
func TestRegressionMegolmWhereOlmRequired(t *testing.T) {
	r := seeded("39251")
	out := must(megolm.NewOutboundSessionFrom(r))
	in := must(megolm.NewInboundSession(out.SessionKey()))
	acct := must(olm.NewAccountFrom(r))
	roomKey := json.RawMessage(`{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:x","session_id":"x","session_key":"x"}`)
	for _, typ := range []string{"m.room_key", "m.forwarded_room_key", "m.room_key_request", "m.secret.send", "m.dummy"} {
		if _, _, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: "!r:x", Type: typ, Content: roomKey}); err == nil {
			t.Errorf("EncryptMegolm encrypted a %s event", typ)
		}
	}
	megolmContent, _, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: "!r:x", Type: "m.room.message", Content: json.RawMessage(`{"body":"hi"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := event.DecryptOlm(acct, megolmContent, event.OlmDecryptParams{Sender: "@a:x", OwnUserID: "@b:x"}); !errors.Is(err, event.ErrAlgorithm) {
		t.Errorf("DecryptOlm on Megolm content: %v, want event.ErrAlgorithm", err)
	}
	// And the converse: Olm content is not Megolm content.
	bob := must(olm.NewAccountFrom(r))
	otks, _, _ := bob.GenerateOneTimeKeysFrom(r, 1)
	sess := must(acct.NewOutboundSessionFrom(r, bob.Curve25519(), otks[0].Key))
	olmContent, _, err := event.EncryptOlmFrom(r, acct, sess, event.OlmEncryptParams{
		Sender: "@a:x", Recipient: "@b:x", RecipientEd25519: bob.Ed25519(), RecipientCurve25519: bob.Curve25519(),
		Type: "m.room_key", Content: roomKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := event.DecryptMegolm(in, olmContent, event.MegolmDecryptParams{InsecureSkipRoomCheck: true, InsecureSkipSenderCheck: true}); !errors.Is(err, event.ErrAlgorithm) {
		t.Errorf("DecryptMegolm on Olm content: %v, want event.ErrAlgorithm", err)
	}
}

// TestRegressionImportedSessionsVisiblyUnverified: every path that turns an
// unsigned (exported) Megolm key into a session gives an unverified one:
// megolm.ImportInboundSession (also megolm
// TestRegressionImportedSessionsUnverified), key export files
// and key backup entries (megolm.ExportedSession.InboundSession, the one
// call both restore with), ImportInboundSession, and the verified flag
// prints with fmt.
func TestRegressionImportedSessionsVisiblyUnverified(t *testing.T) {
	r := seeded("unverified")
	out := must(megolm.NewOutboundSessionFrom(r))
	in := must(megolm.NewInboundSession(out.SessionKey()))
	if !in.IsVerified() {
		t.Fatal("session from a signed key is not verified")
	}
	exp := in.ExportAtFirstKnownIndex()
	es := megolm.NewExportedSession(exp, "!r:x", key.Curve25519{1}, key.Ed25519{2})
	file, err := keyexport.Export([]*megolm.ExportedSession{es}, "pass", &keyexport.Options{Rounds: 1, InsecureAllowLowRounds: true})
	if err != nil {
		t.Fatal(err)
	}
	sessions, _, err := keyexport.Import(file, "pass", nil)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("import: %v", err)
	}
	fromFile, err := sessions[0].InboundSession()
	if err != nil {
		t.Fatal(err)
	}
	fromImport := must(megolm.ImportInboundSession(exp))
	bk := must(keybackup.NewDecryptionKey(readN(r, keybackup.KeySize)))
	entry := must(keybackup.EncryptSession(bk.PublicKey(), es))
	fromBackup := must(must(bk.DecryptSession(entry)).InboundSession())
	for what, s := range map[string]*megolm.InboundSession{"key export file": fromFile, "ImportInboundSession": fromImport, "key backup": fromBackup} {
		if s.IsVerified() {
			t.Errorf("%s: session is verified", what)
		}
		if m := out.Encrypt(nil, []byte("x")); true {
			if _, _, err := s.Decrypt(nil, m); err != nil {
				t.Fatal(err)
			}
		}
		if s.IsVerified() {
			t.Errorf("%s: decryption made the session verified", what)
		}
		if f := strings.ToLower(sprint(s)); !strings.Contains(f, "verified: false") && !strings.Contains(f, "unverified") {
			t.Errorf("%s: fmt does not show the unverified state: %s", what, f)
		}
	}
}

func sprint(v any) string { return fmt.Sprintf("%v", v) }

// TestRegressionShortMACs: an empty, truncated or over-long MAC never verifies, in
// every scheme with a MAC: the 8-byte Olm/Megolm/backup tag
// (internal/aessha2), backup session data, secret storage, and the SAS
// key MACs.
func TestRegressionShortMACs(t *testing.T) {
	k := aessha2.Derive([]byte("secret"), aessha2.InfoOlm)
	msg := []byte("authenticated")
	tag := k.AppendTag(nil, msg)
	for n := range len(tag) {
		if _, err := k.Open(nil, msg, tag[:n], nil); err != aessha2.ErrAuthentication {
			t.Errorf("aessha2: a %d-byte tag verified", n)
		}
	}
	if _, err := k.Open(nil, msg, tag, nil); err == aessha2.ErrAuthentication {
		t.Fatal("aessha2: the full tag does not verify")
	}

	r := seeded("short macs")
	dk := must(keybackup.NewDecryptionKey(readN(r, keybackup.KeySize)))
	enc := must(keybackup.EncryptFrom(r, dk.PublicKey(), []byte(`{"k":1}`)))
	eph, ct, fullMAC := enc.Ephemeral.String(), b64.Encode(enc.Ciphertext), b64.Encode(enc.MAC[:])
	// Short, truncated, and longer than 8 bytes (goolm accepted inexact
	// MAC lengths).
	for _, mac := range []string{"", "AA", "AAAAAA", fullMAC[:len(fullMAC)-1], fullMAC + "AAAA", b64.Encode(append(enc.MAC[:], 0))} {
		d, err := keybackup.ParseEncryptedSessionData(eph, ct, mac)
		if err == nil {
			if _, err = dk.Decrypt(d); err == nil {
				t.Errorf("keybackup: MAC %q accepted", mac)
			}
		}
	}

	ssk := must(secretstorage.NewKeyFromBytes(readN(r, 32)))
	ed := must(ssk.Encrypt("m.test", []byte("secret")))
	for _, mac := range []string{"", "AA", ed.MAC[:len(ed.MAC)/2], ed.MAC[:len(ed.MAC)-2], ed.MAC + "AAAA"} {
		bad := *ed
		bad.MAC = mac
		if _, err := ssk.Decrypt("m.test", &bad); err == nil {
			t.Errorf("secretstorage: MAC %q accepted", mac)
		}
	}

	a, b := must(sas.NewFrom(r)), must(sas.NewFrom(r))
	ea := must(a.SetTheirKey(b.PublicKey()))
	eb := must(b.SetTheirKey(a.PublicKey()))
	devA := sas.Device{UserID: "@a:x", DeviceID: "A"}
	devB := sas.Device{UserID: "@b:x", DeviceID: "B"}
	keys := map[string]string{"ed25519:A": "AAAA"}
	mc, err := ea.MACKeys(sas.HKDFHMACSHA256V2, devA, devB, "txn", keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.VerifyKeys(sas.HKDFHMACSHA256V2, devA, devB, "txn", mc, keys); err != nil {
		t.Fatalf("sas: the real MACs do not verify: %v", err)
	}
	for _, cut := range []func(string) string{
		func(string) string { return "" },
		func(s string) string { return s[:len(s)/2] },
		func(s string) string { return s[:len(s)-1] },
	} {
		bad := mc
		bad.Keys = cut(mc.Keys)
		if _, err := eb.VerifyKeys(sas.HKDFHMACSHA256V2, devA, devB, "txn", bad, keys); err == nil {
			t.Errorf("sas: key-ids MAC %q accepted", bad.Keys)
		}
		bad = mc
		bad.MAC = map[string]string{}
		for id, m := range mc.MAC {
			bad.MAC[id] = cut(m)
		}
		if _, err := eb.VerifyKeys(sas.HKDFHMACSHA256V2, devA, devB, "txn", bad, keys); err == nil {
			t.Errorf("sas: key MAC %v accepted", bad.MAC)
		}
	}
}

// readN reads n bytes from r, for keys made from a seeded reader.
func readN(r io.Reader, n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		panic(err)
	}
	return b
}
