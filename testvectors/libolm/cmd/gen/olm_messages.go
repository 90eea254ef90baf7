package main

import (
	"encoding/hex"

	tv "github.com/sicher-go/sicher/testvectors"
	"github.com/sicher-go/sicher/testvectors/libolm"
)

// A minimal reader of Olm's protobuf-style fields, for describing messages
// libolm produced (the generator never trusts it for expectations: libolm
// parses every case too).
type field struct {
	tag   byte
	num   uint64
	bytes []byte
}

func varint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

func fields(b []byte) []field {
	var out []field
	for len(b) > 0 {
		tag := b[0]
		b = b[1:]
		n, k := varint(b)
		if k < 0 {
			fatalf("bad varint")
		}
		b = b[k:]
		if tag&7 == 0 {
			out = append(out, field{tag: tag, num: n})
			continue
		}
		out = append(out, field{tag: tag, bytes: b[:n]})
		b = b[n:]
	}
	return out
}

func describeNormal(v *tv.OlmMessage, raw []byte) {
	v.Version = raw[0]
	for _, f := range fields(raw[1 : len(raw)-8]) {
		switch f.tag {
		case 0x0a:
			v.RatchetKey = f.bytes
		case 0x10:
			v.ChainIndex = uint32(f.num)
		case 0x22:
			v.Ciphertext = f.bytes
		}
	}
	v.MAC = raw[len(raw)-8:]
}

func prekeyInner(raw []byte) []byte {
	for _, f := range fields(raw[1:]) {
		if f.tag == 0x22 {
			return f.bytes
		}
	}
	fatalf("pre-key message without inner message")
	return nil
}

func describe(name, source string, typ int, body string) tv.OlmMessage {
	raw := unb64(body)
	v := tv.OlmMessage{Meta: tv.Meta{Name: name, Source: source, Expect: tv.OK}, Type: typ, Body: body}
	if typ == 1 {
		describeNormal(&v, raw)
		return v
	}
	v.Version = raw[0]
	for _, f := range fields(raw[1:]) {
		switch f.tag {
		case 0x0a:
			v.OneTimeKey = f.bytes
		case 0x12:
			v.BaseKey = f.bytes
		case 0x1a:
			v.IdentityKey = f.bytes
		case 0x22:
			in := tv.OlmMessage{Type: 1, Body: b64.EncodeToString(f.bytes)}
			describeNormal(&in, f.bytes)
			in.Name, in.Source, in.Expect = name+" (inner)", source, tv.OK
			v.Inner = &in
		}
	}
	return v
}

// parseOracle asks libolm to parse a message without decrypting it
// (olm_decrypt_max_plaintext_length decodes and checks the structure).
func parseOracle(typ int, body string) error {
	a := must(libolm.NewAccount(make([]byte, 64)))
	defer a.Free()
	s := must(libolm.NewOutboundSession(a, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08", make([]byte, 64)))
	defer s.Free()
	_, err := s.Decrypt(typ, body)
	if libolm.Code(err) == libolm.BadMessageMAC {
		err = nil // parsed; decryption failed as it must
	}
	if err != nil || typ != 0 {
		return err
	}
	// Creating an inbound session checks the pre-key fields too.
	_, err = libolm.NewInboundSession(a, body)
	if libolm.Code(err) == libolm.BadMessageKeyID {
		return nil
	}
	return err
}

func genOlmMessages(ts []tv.OlmTranscript) {
	var vs []tv.OlmMessage
	seen := map[string]bool{}
	for _, t := range ts {
		n := 0
		for _, st := range t.Steps {
			if st.Op != "encrypt" || st.Body == "" || seen[st.Body] || n >= 6 {
				continue
			}
			seen[st.Body] = true
			n++
			if err := parseOracle(st.Type, st.Body); err != nil {
				fatalf("libolm cannot parse its own message: %v", err)
			}
			vs = append(vs, describe(t.Name+" message "+itoa(len(vs)), srcLibolm, st.Type, st.Body))
		}
	}
	// V15: vodozemac's parse vectors.
	const srcV15 = "vodozemac src/olm/messages/mod.rs PRE_KEY_MESSAGE / MESSAGE (V15), parsed by libolm 3.2.13"
	pre := "AwoghAEuxPZ+w7M3pgUae4tDNiggUpOsQ/zci457VAtiAEYSIO3xOKRDBWKicIfxjSmYCYZ9DD4RMLjvvclbMlE5yIEWGiApLrCr853CKlPpW4Bi7S8ykRcejJ0lq7AfYLXKCjKdHSJPAwoghw3+P+cajhWj9Qzp5g87h+tbpiuh5wEaeUppqmWqug4QASIgRhZ2cgZcIWQbIa23R7U4y1Mo1R/tLCaMU+xjzRV5smGsCrJ6AHwktg"
	msg := "AwogI7JhE/UsMZqXKb3xV6kUZWoJc6jTm2+AIgWYmaETIR0QASIQ+X2zb7kEX/3JvoLspcNBcLWOFXYpV0nS"
	vp := describe("V15 vodozemac PRE_KEY_MESSAGE", srcV15, 0, pre)
	same("V15 pre-key ciphertext", vp.Inner.Ciphertext, []byte{70, 22, 118, 114, 6, 92, 33, 100, 27, 33, 173, 183, 71, 181, 56, 203, 83, 40, 213, 31, 237, 44, 38, 140, 83, 236, 99, 205, 21, 121, 178, 97})
	vm := describe("V15 vodozemac MESSAGE", srcV15, 1, msg)
	same("V15 ciphertext", vm.Ciphertext, []byte{249, 125, 179, 111, 185, 4, 95, 253, 201, 190, 130, 236, 165, 195, 65, 112})
	check(parseOracle(0, pre))
	check(parseOracle(1, msg))
	vs = append(vs, vp, vm)

	// Structural variants of one normal and one pre-key message, each
	// judged by libolm's parser.
	nraw, praw := unb64(msg), unb64(pre)
	variant := func(name string, typ int, raw []byte, class, comment string, accept ...string) {
		body := b64.EncodeToString(raw)
		err := parseOracle(typ, body)
		v := tv.OlmMessage{Meta: tv.Meta{Name: name, Source: srcDerived, Expect: class, Accept: accept, Comment: comment}, Type: typ, Body: body}
		if class == tv.OK {
			if err != nil {
				fatalf("%s: libolm: %v", name, err)
			}
			v = describeLoose(v, raw)
		} else if err == nil && libolmLax[name] {
			v.LibolmExpect = tv.OK
			v.Comment = "libolm 3.2.13 does not check this and accepts the message"
		} else {
			v.LibolmError = failure(name, err, class)
			v.Source = "derived by testvectors/libolm (cmd/gen), rejected by libolm 3.2.13"
		}
		vs = append(vs, v)
	}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	payload, mac := nraw[1:len(nraw)-8], nraw[len(nraw)-8:]
	fs := fields(payload)
	enc := func(f field) []byte {
		if f.tag&7 == 0 {
			return appendVarint([]byte{f.tag}, f.num)
		}
		return append(appendVarint([]byte{f.tag}, uint64(len(f.bytes))), f.bytes...)
	}
	variant("normal: fields reordered", 1, cat([]byte{3}, enc(fs[2]), enc(fs[0]), enc(fs[1]), mac), tv.OK, "decoders accept any field order")
	variant("normal: unknown varint field", 1, cat([]byte{3}, payload, []byte{0x28, 0x96, 0x01}, mac), tv.OK, "field 5, wire type 0: skipped")
	variant("normal: unknown bytes field", 1, cat([]byte{3}, payload, []byte{0x32, 0x02, 0xaa, 0xbb}, mac), tv.OK, "field 6, wire type 2: skipped")
	variant("normal: chain index non-minimal varint", 1, cat([]byte{3}, enc(fs[0]), []byte{0x10, 0x81, 0x00}, enc(fs[2]), mac), tv.OK, "0x81 0x00 = 1")
	variant("normal: version only", 1, []byte{3}, tv.BadFormat, "")
	variant("normal: no ratchet key", 1, cat([]byte{3}, enc(fs[1]), enc(fs[2]), mac), tv.BadFormat, "")
	variant("normal: no ciphertext", 1, cat([]byte{3}, enc(fs[0]), enc(fs[1]), mac), tv.BadFormat, "")
	variant("normal: ratchet key 31 bytes", 1, cat([]byte{3}, enc(field{tag: 0x0a, bytes: fs[0].bytes[:31]}), enc(fs[1]), enc(fs[2]), mac), tv.BadFormat, "")
	variant("normal: length past the end", 1, cat([]byte{3}, enc(fs[0]), enc(fs[1]), []byte{0x22, 0x7f}, fs[2].bytes, mac), tv.BadFormat, "ciphertext length 127 exceeds the message", tv.BadMAC)
	variant("normal: version 2", 1, cat([]byte{2}, payload, mac), tv.BadVersion, "")
	variant("normal: empty", 1, nil, tv.BadFormat, "", tv.BadBase64)
	variant("normal: truncated varint", 1, cat([]byte{3}, enc(fs[0]), []byte{0x10, 0x80}), tv.BadFormat, "", tv.BadMAC)
	pfs := fields(praw[1:])
	variant("pre-key: fields reordered", 0, cat([]byte{3}, enc(pfs[3]), enc(pfs[2]), enc(pfs[1]), enc(pfs[0])), tv.OK, "")
	variant("pre-key: unknown field", 0, cat(praw, []byte{0x28, 0x01}), tv.OK, "")
	variant("pre-key: no one-time key", 0, cat([]byte{3}, enc(pfs[1]), enc(pfs[2]), enc(pfs[3])), tv.BadFormat, "")
	variant("pre-key: no base key", 0, cat([]byte{3}, enc(pfs[0]), enc(pfs[2]), enc(pfs[3])), tv.BadFormat, "")
	variant("pre-key: no inner message", 0, cat([]byte{3}, enc(pfs[0]), enc(pfs[1]), enc(pfs[2])), tv.BadFormat, "")
	variant("pre-key: version 4", 0, cat([]byte{4}, praw[1:]), tv.BadVersion, "")
	variant("pre-key: one-time key 33 bytes", 0, cat([]byte{3}, enc(field{tag: 0x0a, bytes: append(clone(pfs[0].bytes), 0)}), enc(pfs[1]), enc(pfs[2]), enc(pfs[3])), tv.BadFormat, "")
	variant("pre-key: version only", 0, []byte{3}, tv.BadFormat, "")
	variant("pre-key: inner truncated", 0, cat([]byte{3}, enc(pfs[0]), enc(pfs[1]), enc(pfs[2]), enc(field{tag: 0x22, bytes: pfs[3].bytes[:10]})), tv.BadFormat, "", tv.BadMAC)
	emit("olm/messages.json", "olm/message",
		"Olm message wire format (normal type 1 and pre-key type 0): fields of libolm's own messages, upstream V15, and structural variants judged by libolm's parser (reordered and unknown fields accepted; missing fields, wrong key lengths, bad versions rejected).", vs)
}

// libolmLax names the variants libolm accepts and a strict parser rejects.
var libolmLax = map[string]bool{"pre-key: version 4": true}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// describeLoose fills fields for a variant that may carry unknown fields.
func describeLoose(v tv.OlmMessage, raw []byte) tv.OlmMessage {
	d := describe(v.Name, v.Source, v.Type, v.Body)
	d.Meta = v.Meta
	_ = raw
	return d
}

func genOlmDecryptFixed() {
	const src = "libolm tests/test_olm_decrypt.cpp (V13), checked against libolm 3.2.13"
	session := "E0p44KO2y2pzp9FIjv0rud2wIvWDi2dx367kP4Fz/9JCMrH+aG369HGymkFtk0+PINTLB9lQRt" +
		"ohea5d7G/UXQx3r5y4IWuyh1xaRnojEZQ9a5HRZSNtvmZ9NY1f1gutYa4UtcZcbvczN8b/5Bqg" +
		"e16cPUH1v62JKLlhoAJwRkH1wU6fbyOudERg5gdXA971btR+Q2V8GKbVbO5fGKL5phmEPVXyMs" +
		"rfjLdzQrgjOTxN8Pf6iuP+WFPvfnR9lDmNCFxJUVAdLIMnLuAdxf1TGcS+zzCzEE8btIZ99mHF" +
		"dGvPXeH8qLeNZA"
	var vs []tv.OlmDecrypt
	for i, h := range []string{"41776f", "7fff6f0101346d671201", "ee776f41496f674177804177778041776f6716670a677d6f670a67c2677d", "e9e9c9c1e9e9c9e9c9c1e9e9c9c1"} {
		raw := must(hex.DecodeString(h))
		s := must(libolm.UnpickleSession(nil, session))
		_, err := s.Decrypt(0, string(raw))
		vs = append(vs, tv.OlmDecrypt{Meta: tv.Meta{Name: "V13 malformed pre-key message " + itoa(i), Source: src, Expect: tv.BadFormat,
			Accept: []string{tv.BadBase64}, LibolmError: failure("V13", err, tv.BadFormat),
			Comment: "the bytes are given to olm_decrypt as they are; libolm's base64 decoder does not validate characters"},
			Pickle: session, Type: 0, BodyRaw: raw})
	}
	emit("olm/decrypt.json", "olm/decrypt",
		"Decryption with a session restored from a libolm pickle: upstream V13 (malformed pre-key messages).", vs)
}
