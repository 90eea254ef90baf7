package main

import (
	"crypto/ed25519"
	"math/big"
	"strings"

	tv "github.com/sicher-go/sicher/testvectors"
	"github.com/sicher-go/sicher/testvectors/libolm"
)

// sasEmoji and sasDecimal are the Matrix spec's derivations (client-server
// API, "SAS method: emoji / decimal") from the first 6 / 5 HKDF bytes.
func sasEmoji(b []byte) []int {
	var v uint64
	for _, c := range b[:6] {
		v = v<<8 | uint64(c)
	}
	out := make([]int, 7)
	for i := range 7 {
		out[i] = int(v >> (42 - 6*i) & 63)
	}
	return out
}

func sasDecimal(b []byte) []int {
	return []int{
		(int(b[0])<<5 | int(b[1])>>3) + 1000,
		((int(b[1])&7)<<10 | int(b[2])<<2 | int(b[3])>>6) + 1000,
		((int(b[3])&63)<<7 | int(b[4])>>1) + 1000,
	}
}

func genSAS() {
	var vs []tv.SAS
	sasCase := func(name, source string, priv []byte, theirs string, infos []string, lens []int, macs [][2]string) tv.SAS {
		s := must(libolm.NewSAS(priv))
		defer s.Free()
		v := tv.SAS{Meta: tv.Meta{Name: name, Source: source, Expect: tv.OK}, Private: priv, Public: s.PublicKey(), TheirPublic: theirs}
		check(s.SetTheirKey(theirs))
		for i, info := range infos {
			out := must(s.GenerateBytes([]byte(info), lens[i%len(lens)]))
			b := tv.SASBytes{Info: info, Output: out}
			if len(out) >= 6 {
				b.Emoji, b.Decimal = sasEmoji(out), sasDecimal(out)
			}
			v.Bytes = append(v.Bytes, b)
		}
		for _, m := range macs {
			v.MACs = append(v.MACs, tv.SASMAC{Input: m[0], Info: m[1],
				MAC:        must(s.CalculateMACFixedBase64([]byte(m[0]), []byte(m[1]))),
				MACLegacy:  must(s.CalculateMAC([]byte(m[0]), []byte(m[1]))),
				MACLongKDF: must(s.CalculateMACLongKDF([]byte(m[0]), []byte(m[1])))})
		}
		return v
	}
	// V14 and the derived RFC 7748 vectors of the reference study §3.4.
	alicePub, bobPub := b64.EncodeToString(rfcAlicePub), b64.EncodeToString(rfcBobPub)
	for _, side := range []struct {
		name        string
		priv        []byte
		pub, theirs string
	}{{"alice", rfcAlicePriv, alicePub, bobPub}, {"bob", rfcBobPriv, bobPub, alicePub}} {
		v := sasCase("V14 RFC 7748 keys, "+side.name, "libolm tests/test_sas.cpp keys, python/tests/sas_test.py MAC (V14), reference §3.4; checked against libolm 3.2.13",
			side.priv, side.theirs, []string{"SAS"}, []int{6}, [][2]string{{"Hello world!", "MAC"}})
		if v.Public != side.pub || v.Bytes[0].Output.String() != "3987a872e7b9" ||
			v.MACs[0].MACLegacy != "2nSMTXM+TStTU3RUVTNSVVZUTlNWVlpVVGxOV1ZscFY" ||
			v.MACs[0].MAC != "2nSMU3M+FMBTCWQg5IoIUoEErFZOjniAZTdqNhf+Dmo" ||
			v.MACs[0].MACLongKDF != "aYtxeF31MzG4ekc0ZWtjMFpXdGpNRnBYZEdwTlJuQlk" {
			fatalf("V14/§3.4 SAS differs: %+v", v)
		}
		if e := v.Bytes[0].Emoji; e[0] != 14 || e[6] != 30 {
			fatalf("emoji %v", e)
		}
		if d := v.Bytes[0].Decimal; d[0] != 2840 || d[1] != 8841 || d[2] != 7515 {
			fatalf("decimal %v", d)
		}
		vs = append(vs, v)
	}
	// Generated: random key pairs, spec-shaped info strings, many lengths.
	s := tv.NewStream("sicher sas")
	rd := func(n int) []byte { b := make([]byte, n); s.Read(b); return b }
	for i := range 40 {
		a, b := rd(32), rd(32)
		bpub, _ := libolm.Curve25519(b, nil)
		pa, _ := libolm.Curve25519(a, nil)
		txn := b64.EncodeToString(rd(9))
		info := "MATRIX_KEY_VERIFICATION_SAS|@alice:example.org|ALICEDEV|" + b64.EncodeToString(pa) +
			"|@bob:example.org|BOBDEV|" + b64.EncodeToString(bpub) + "|" + txn
		macInfo := "MATRIX_KEY_VERIFICATION_MAC@alice:example.orgALICEDEV@bob:example.orgBOBDEV" + txn
		infos := []string{info, "", "MATRIX_KEY_VERIFICATION_SAS", strings.Repeat("i", i*7)}
		lens := []int{6, 1 + i, 32 + i%5, 64 + 3*i}
		macs := [][2]string{
			{b64.EncodeToString(bpub), macInfo + "ed25519:BOBDEV"},
			{"ed25519:BOBDEV", macInfo + "KEY_IDS"},
			{"", ""},
			{strings.Repeat("x", 1+i*5), "MAC"},
		}
		vs = append(vs, sasCase("generated #"+itoa(i), srcLibolm, a, b64.EncodeToString(bpub), infos, lens, macs))
	}
	// Non-contributory peer key: libolm computes with it.
	v := sasCase("their key all zero", srcLibolm, rd(32), b64.EncodeToString(make([]byte, 32)), []string{"SAS"}, []int{6}, nil)
	v.Expect, v.LibolmExpect = tv.NonContributory, tv.OK
	v.Comment = "a small-order peer key makes the shared secret zero; libolm 3.2.13 does not check (vodozemac rejects)"
	vs = append(vs, v)
	// Bad peer keys.
	for _, bad := range []struct{ name, key, class string }{
		{"their key 42 chars", b64.EncodeToString(rfcBobPub)[:42], tv.BadKey},
		{"their key 44 chars", b64.EncodeToString(rfcBobPub) + "A", tv.BadKey},
		{"their key empty", "", tv.BadKey},
	} {
		sas := must(libolm.NewSAS(rfcAlicePriv))
		err := sas.SetTheirKey(bad.key)
		sas.Free()
		v := tv.SAS{Meta: tv.Meta{Name: bad.name, Source: srcLibolm, Expect: bad.class, Accept: []string{tv.BadBase64, tv.BadFormat}},
			Private: rfcAlicePriv, Public: alicePub, TheirPublic: bad.key}
		if err == nil {
			v.LibolmExpect = tv.OK
			v.Comment = "libolm 3.2.13 reads the first 43 characters and ignores the rest"
		} else {
			v.LibolmError = failure(bad.name, err, bad.class)
		}
		vs = append(vs, v)
	}
	emit("sas/sas.json", "sas",
		"SAS: X25519 public key from libolm's 32 random bytes, HKDF bytes for spec info strings and arbitrary lengths (with emoji and decimal), and the three MAC variants (hkdf-hmac-sha256.v2, the legacy broken base64 hkdf-hmac-sha256, long-KDF). V14 and the reference's derived RFC 7748 vectors included.", vs)
}

func genPK() {
	var vs []tv.PK
	// V8: RFC 7748 Alice as recipient, Bob as ephemeral.
	const srcV8 = "libolm tests/test_pk.cpp (V8), checked against libolm 3.2.13"
	ct, mac, eph := must3(libolm.PkEncrypt(b64.EncodeToString(rfcAlicePub), []byte("This is a test"), rfcBobPriv))
	if ct != "ntk49j/KozVFtSqJXhCejg" || mac != "zpzU6BkZcNI" || eph != "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08" {
		fatalf("V8: %s %s %s", ct, mac, eph)
	}
	d := must(libolm.NewPkDecryption(rfcAlicePriv))
	vs = append(vs, tv.PK{Meta: tv.Meta{Name: "V8 RFC 7748 keys", Source: srcV8, Expect: tv.OK}, RecipientPrivate: rfcAlicePriv,
		RecipientPublic: d.PublicKey, EphemeralPrivate: rfcBobPriv, Plaintext: []byte("This is a test"), Ephemeral: eph, Ciphertext: ct, MAC: mac})
	_, err := d.Decrypt(eph, "0YKKo6yL6p8", ct)
	vs = append(vs, tv.PK{Meta: tv.Meta{Name: "V8 MAC over the ciphertext", Source: "reference §3.4 (derived), rejected by libolm 3.2.13", Expect: tv.BadMAC,
		LibolmError: failure("pk mac over ct", err, tv.BadMAC),
		Comment:     "libolm's MAC covers the empty string, not the ciphertext; a MAC computed over the ciphertext must be rejected"},
		RecipientPrivate: rfcAlicePriv, RecipientPublic: d.PublicKey, Ephemeral: eph, Ciphertext: ct, MAC: "0YKKo6yL6p8"})

	s := tv.NewStream("sicher pk")
	rd := func(n int) []byte { b := make([]byte, n); s.Read(b); return b }
	pts := [][]byte{nil, []byte("x"), []byte("0123456789abcdef"),
		[]byte(`{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"abc","session_key":"AQAAAAAB","sender_claimed_keys":{},"forwarding_curve25519_key_chain":[]}`)}
	for i := range 60 {
		priv, ephPriv := rd(32), rd(32)
		d := must(libolm.NewPkDecryption(priv))
		p := pts[i%len(pts)]
		if i%4 == 3 {
			p = rd(i * 11)
		}
		ct, mac, eph := must3(libolm.PkEncrypt(d.PublicKey, p, ephPriv))
		back := must(d.Decrypt(eph, mac, ct))
		same("pk round trip", back, p)
		vs = append(vs, tv.PK{Meta: tv.Meta{Name: "generated #" + itoa(i), Source: srcLibolm, Expect: tv.OK}, RecipientPrivate: priv,
			RecipientPublic: d.PublicKey, EphemeralPrivate: ephPriv, Plaintext: p, Ephemeral: eph, Ciphertext: ct, MAC: mac})
		if i >= 4 {
			continue
		}
		// Failures, judged by libolm.
		bad := func(name, class, e, m, c, comment string, libolmOK bool) {
			out, err := d.Decrypt(e, m, c)
			v := tv.PK{Meta: tv.Meta{Name: name + " #" + itoa(i), Source: srcDerived, Expect: class, Comment: comment},
				RecipientPrivate: priv, RecipientPublic: d.PublicKey, Ephemeral: e, Ciphertext: c, MAC: m}
			if err == nil {
				if !libolmOK {
					fatalf("%s: libolm accepted", name)
				}
				v.LibolmExpect, v.Plaintext = tv.OK, out
			} else {
				v.LibolmError = failure(name, err, class)
				if class != tv.BadMAC {
					v.Accept = []string{tv.BadFormat, tv.BadBase64, tv.BadKey}
				}
			}
			vs = append(vs, v)
		}
		flipB64 := func(x string, k int) string {
			r := unb64(x)
			r[k%len(r)] ^= 1
			return b64.EncodeToString(r)
		}
		bad("mac flipped", tv.BadMAC, eph, flipB64(mac, 0), ct, "", false)
		bad("other ephemeral", tv.BadMAC, b64.EncodeToString(rfcBobPub), mac, ct, "the MAC proves knowledge of the shared secret", false)
		bad("mac 10 chars", tv.BadFormat, eph, mac[:10], ct, "", false)
		bad("ephemeral 42 chars", tv.BadKey, eph[:42], mac, ct, "", false)
		bad("ciphertext not a block multiple", tv.BadMAC, eph, mac, b64.EncodeToString(unb64(ct)[1:]), "libolm checks the (empty-input) MAC, then fails to decrypt and reports BAD_MESSAGE_MAC (or, when the truncated input happens to unpad, returns garbage)", true)
		vs[len(vs)-1].Accept = []string{tv.BadFormat}
		// libolm's MAC does not cover the ciphertext: a flipped first block
		// decrypts to garbage that libolm returns.
		if len(unb64(ct)) >= 32 {
			bad("ciphertext first block flipped", tv.BadMAC, eph, mac, flipB64(ct, 0), "the backup v1 MAC covers the empty string only (libolm quirk, kept by vodozemac); a tampered ciphertext is not detected but garbles the plaintext — recorded so implementations know what libolm returns", true)
		}
		bad("ephemeral all zero", tv.NonContributory, b64.EncodeToString(make([]byte, 32)), mac, ct, "small-order ephemeral key; libolm fails only at the MAC", false)
		vs[len(vs)-1].Accept = []string{tv.BadMAC}
	}
	emit("pk/pk.json", "pk",
		"m.megolm_backup.v1.curve25519-aes-sha2 (libolm PkEncryption/PkDecryption): deterministic encryption given the ephemeral private key, decryption, and failures (bad MAC, wrong key lengths, bad ciphertexts). Upstream V8.", vs)

	// Signing.
	var ss []tv.Signing
	msg := []byte("We hold these truths to be self-evident, that all men are created equal, that they are endowed by their Creator with certain unalienable Rights, that among these are Life, Liberty and the pursuit of Happiness.")
	pub, sig := must2(libolm.PkSign(rfcAlicePriv, msg))
	ss = append(ss, tv.Signing{Meta: tv.Meta{Name: "libolm test_pk.cpp signing", Source: "libolm tests/test_pk.cpp Public Key Signing, outputs from libolm 3.2.13", Expect: tv.OK},
		Seed: rfcAlicePriv, Public: pub, Message: msg, Signature: sig})
	for i := range 30 {
		seed, m := rd(32), rd(i*7)
		pub, sig := must2(libolm.PkSign(seed, m))
		k := ed25519.NewKeyFromSeed(seed)
		same("pk signing vs crypto/ed25519", unb64(sig), ed25519.Sign(k, m))
		check(libolm.Ed25519Verify(pub, m, sig))
		ss = append(ss, tv.Signing{Meta: tv.Meta{Name: "generated #" + itoa(i), Source: srcLibolm, Expect: tv.OK}, Seed: seed, Public: pub, Message: m, Signature: sig})
		if i < 5 {
			verify := func(name, class, p string, m []byte, s string) {
				err := libolm.Ed25519Verify(p, m, s)
				v := tv.Signing{Meta: tv.Meta{Name: name + " #" + itoa(i), Source: srcDerived, Expect: class}, Public: p, Message: m, Signature: s}
				if class == tv.OK {
					check(err)
				} else {
					v.LibolmError = failure(name, err, class)
				}
				ss = append(ss, v)
			}
			verify("verify", tv.OK, pub, m, sig)
			fl := func(x string, k int) string { r := unb64(x); r[k] ^= 1; return b64.EncodeToString(r) }
			verify("signature R flipped", tv.BadSignature, pub, m, fl(sig, 0))
			verify("signature S flipped", tv.BadSignature, pub, m, fl(sig, 40))
			verify("message changed", tv.BadSignature, pub, append(clone(m), 0), sig)
			verify("other key", tv.BadSignature, fl(pub, 5), m, sig)
		}
	}
	// Hardening: signatures libolm's (orlp ed25519) verifier accepts and a
	// strict RFC 8032 verifier with small-order checks rejects.
	weakPub, weakSig := weakKeyAndSignature()
	for i, m := range [][]byte{[]byte("any message"), nil} {
		err := libolm.Ed25519Verify(weakPub, m, weakSig)
		v := tv.Signing{Meta: tv.Meta{Name: "small-order key, identity R, S = 0 #" + itoa(i), Source: srcDerived, Expect: tv.BadSignature,
			Comment: "A = R = the identity point and S = 0 satisfy [S]B = R + [h]A for every message"}, Public: weakPub, Message: m, Signature: weakSig}
		if err == nil {
			v.LibolmExpect = tv.OK
			v.Comment += "; libolm 3.2.13 accepts it"
		} else {
			v.LibolmError = failure(v.Name, err, tv.BadSignature)
		}
		ss = append(ss, v)
	}
	for i := range 3 {
		seed, m := rd(32), rd(20)
		pub, sig := must2(libolm.PkSign(seed, m))
		mal, ok := malleate(unb64(sig))
		if !ok {
			continue
		}
		err := libolm.Ed25519Verify(pub, m, b64.EncodeToString(mal))
		v := tv.Signing{Meta: tv.Meta{Name: "non-canonical S = S + L #" + itoa(i), Source: srcDerived, Expect: tv.BadSignature,
			Comment: "RFC 8032 requires S < L; S + L verifies under the cofactorless equation"}, Public: pub, Message: m, Signature: b64.EncodeToString(mal)}
		if err == nil {
			v.LibolmExpect = tv.OK
			v.Comment += "; libolm 3.2.13 checks only the top three bits of S and accepts it"
		} else {
			v.LibolmError = failure(v.Name, err, tv.BadSignature)
		}
		ss = append(ss, v)
	}
	emit("pk/signing.json", "signing",
		"Ed25519 signing from a 32-byte seed (libolm PkSigning, the cross-signing keys) and verification (olm_ed25519_verify) with tampered signatures, messages and keys.", ss)
}

func must3[A, B, C any](a A, b B, c C, err error) (A, B, C) {
	if err != nil {
		fatalf("%v", err)
	}
	return a, b, c
}

// weakKeyAndSignature returns the identity point as a public key and the
// signature (R = identity, S = 0), which verifies for every message under
// the cofactorless equation if the key is not checked.
func weakKeyAndSignature() (pub, sig string) {
	id := make([]byte, 32)
	id[0] = 1
	sg := make([]byte, 64)
	sg[0] = 1
	return b64.EncodeToString(id), b64.EncodeToString(sg)
}

// malleate returns the signature with S replaced by S + L, if that still
// fits below 2^253 (libolm's only check on S).
func malleate(sig []byte) ([]byte, bool) {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	le := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	sv := new(big.Int).Add(le(sig[32:]), l)
	if sv.BitLen() > 253 {
		return nil, false
	}
	be := sv.FillBytes(make([]byte, 32))
	out := clone(sig)
	for i := range 32 {
		out[32+i] = be[31-i]
	}
	return out, true
}
