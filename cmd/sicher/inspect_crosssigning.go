package main

// sicher inspect, cross-signing: cross-signing key objects, the body of
// POST /keys/device_signing/upload and the response of POST /keys/query
// (spec "Cross-signing",
// https://spec.matrix.org/v1.19/client-server-api/#cross-signing, and
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysquery).
// They hold only public keys and signatures.

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/signing"
)

// signedObject is a parsed device or cross-signing key.
type signedObject interface {
	VerifySignature(userID, keyName string, pub key.Ed25519) error
}

// knownKeys are the Ed25519 keys a document names, by user and key name
// (a device id, or a cross-signing key's public key), to check the
// signatures the document carries.
type knownKeys map[string]map[string]key.Ed25519

func (k knownKeys) add(user, name string, pub key.Ed25519) {
	if k[user] == nil {
		k[user] = map[string]key.Ed25519{}
	}
	k[user][name] = pub
}

// signatureChecks lists the signatures of the signed JSON raw as
// "USER ed25519:NAME: valid", "... INVALID" or "... (key not in this
// document)", and reports whether one is invalid.
func signatureChecks(raw []byte, obj signedObject, known knownKeys) ([]string, bool) {
	var j struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if jsonstrict.Unmarshal(raw, &j) != nil {
		return nil, true
	}
	var out []string
	bad := false
	for _, user := range slices.Sorted(maps.Keys(j.Signatures)) {
		for _, id := range slices.Sorted(maps.Keys(j.Signatures[user])) {
			name, ok := strings.CutPrefix(id, signing.AlgorithmEd25519+":")
			pub, isKnown := known[user][name]
			switch {
			case !ok:
				out = append(out, user+" "+id+": not an Ed25519 signature")
			case !isKnown:
				out = append(out, user+" "+id+": key not in this document")
			case obj.VerifySignature(user, name, pub) != nil:
				out = append(out, user+" "+id+": INVALID")
				bad = true
			default:
				out = append(out, user+" "+id+": valid")
			}
		}
	}
	return out, bad
}

// crossSigningKeyReport parses and describes a cross-signing key: its
// usage (which must include usage, unless that is "") and its signatures
// by the keys in known.
func crossSigningKeyReport(title string, raw []byte, usage string, known knownKeys) (*signing.CrossSigningKey, *report) {
	c, err := signing.ParseCrossSigningKey(raw)
	if err != nil {
		return nil, invalid("cross_signing_key", title, err)
	}
	r := newReport("cross_signing_key", title)
	r.add("user id", c.UserID).add("usage", c.Usage).add("ed25519", c.Key.String())
	if usage != "" && !c.HasUsage(usage) {
		r.add("usage check", fmt.Sprintf("INVALID: usage %v, expected %s", c.Usage, usage))
		r.Invalid = true
	}
	sigs, bad := signatureChecks(raw, c, known)
	r.add("signatures", sigs)
	r.Invalid = r.Invalid || bad
	return c, r
}

// inspectCrossSigningKey describes one cross-signing key object.
func inspectCrossSigningKey(in []byte) *report {
	c, r := crossSigningKeyReport("cross-signing key", in, "", knownKeys{})
	if c != nil {
		r.Title = "cross-signing key (" + strings.Join(c.Usage, ", ") + ")"
		r.note("only keys in the same document can be checked: inspect a /keys/query response to check the chain")
	}
	return r
}

// inspectDeviceSigningUpload describes the body of
// POST /keys/device_signing/upload: the master key and the self-signing
// and user-signing keys it signs.
func inspectDeviceSigningUpload(obj map[string]json.RawMessage) *report {
	r := newReport("keys.device_signing_upload", "cross-signing keys upload (POST /keys/device_signing/upload)")
	known := knownKeys{}
	var msk *signing.CrossSigningKey
	if raw := obj["master_key"]; raw != nil {
		var p *report
		if msk, p = crossSigningKeyReport("master key", raw, signing.UsageMaster, known); msk != nil {
			known.add(msk.UserID, msk.KeyName(), msk.Key)
		}
		r.part(p)
	}
	for _, s := range []struct{ name, usage string }{{"self_signing_key", signing.UsageSelfSigning}, {"user_signing_key", signing.UsageUserSigning}} {
		raw := obj[s.name]
		if raw == nil {
			continue
		}
		sub, p := crossSigningKeyReport(strings.ReplaceAll(s.name, "_", "-"), raw, s.usage, known)
		if sub != nil {
			subkeyCheck(p, sub, msk, s.usage)
		}
		r.part(p)
	}
	for _, p := range r.Parts {
		r.Invalid = r.Invalid || p.Invalid
	}
	return r
}

// subkeyCheck adds whether sub is signed by the master key msk.
func subkeyCheck(r *report, sub, msk *signing.CrossSigningKey, usage string) {
	if msk == nil {
		r.add("signed by master key", "cannot tell: no master key")
		return
	}
	if err := signing.VerifySubkey(sub, msk, usage); err != nil {
		r.add("signed by master key", "INVALID: "+err.Error())
		r.Invalid = true
		return
	}
	r.add("signed by master key", "valid")
}

// keysQuery is the response of POST /keys/query.
type keysQuery struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys"`
	Failures        map[string]json.RawMessage            `json:"failures"`
}

// inspectKeysQuery describes a /keys/query response: per user, the
// cross-signing keys and their chain, and each device with its
// self-signature and cross-signing signature.
func inspectKeysQuery(in []byte) *report {
	const title = "device and cross-signing keys (POST /keys/query response)"
	var q keysQuery
	if err := jsonstrict.Unmarshal(in, &q); err != nil {
		return invalid("keys.query", title, err)
	}
	users := map[string]bool{}
	for _, m := range []map[string]json.RawMessage{q.MasterKeys, q.SelfSigningKeys, q.UserSigningKeys} {
		for u := range m {
			users[u] = true
		}
	}
	devices := 0
	for u, ds := range q.DeviceKeys {
		users[u] = true
		devices += len(ds)
	}
	r := newReport("keys.query", title)
	r.add("users", len(users)).add("devices", devices)
	if len(q.Failures) > 0 {
		r.add("failures", slices.Sorted(maps.Keys(q.Failures)))
	}
	for _, u := range slices.Sorted(maps.Keys(users)) {
		p := queryUser(u, q)
		r.part(p)
		r.Invalid = r.Invalid || p.Invalid
	}
	r.note("a device is trusted through cross-signing only if its owner's master key is verified (out of band or by your user-signing key)")
	return r
}

// queryUser describes one user of a /keys/query response.
func queryUser(user string, q keysQuery) *report {
	r := newReport("keys.query.user", "user "+user)
	known := knownKeys{}
	devs := map[string]*signing.DeviceKeys{}
	var devReports []*report
	for _, id := range slices.Sorted(maps.Keys(q.DeviceKeys[user])) {
		raw := q.DeviceKeys[user][id]
		dk, err := signing.ParseDeviceKeys(raw)
		if err != nil {
			devReports = append(devReports, invalid("device_keys", "device "+id, err))
			continue
		}
		p := newReport("device_keys", "device "+id)
		p.add("curve25519", dk.Curve25519.String()).add("ed25519", dk.Ed25519.String())
		if dk.UserID != user || dk.DeviceID != id {
			p.add("ids", fmt.Sprintf("INVALID: the object is %s %s, listed under %s %s", dk.UserID, dk.DeviceID, user, id))
			p.Invalid = true
		}
		if err := dk.VerifySelfSignature(); err != nil {
			p.add("self-signature", "INVALID: "+err.Error())
			p.Invalid = true
		} else {
			p.add("self-signature", "valid")
			known.add(user, id, dk.Ed25519)
			devs[id] = dk
		}
		devReports = append(devReports, p)
	}
	var msk, ssk *signing.CrossSigningKey
	var keyReports []*report
	if raw := q.MasterKeys[user]; raw != nil {
		var p *report
		if msk, p = crossSigningKeyReport("master key", raw, signing.UsageMaster, known); msk != nil {
			if err := signing.VerifyMaster(msk, user); err != nil {
				p.add("owner", "INVALID: "+err.Error())
				p.Invalid = true
			}
			known.add(user, msk.KeyName(), msk.Key)
		}
		keyReports = append(keyReports, p)
	}
	for _, s := range []struct {
		title, usage string
		m            map[string]json.RawMessage
	}{{"self-signing key", signing.UsageSelfSigning, q.SelfSigningKeys}, {"user-signing key", signing.UsageUserSigning, q.UserSigningKeys}} {
		raw := s.m[user]
		if raw == nil {
			continue
		}
		sub, p := crossSigningKeyReport(s.title, raw, s.usage, known)
		if sub != nil {
			subkeyCheck(p, sub, msk, s.usage)
			if s.usage == signing.UsageSelfSigning && !p.Invalid {
				ssk = sub
				known.add(user, sub.KeyName(), sub.Key)
			}
		}
		keyReports = append(keyReports, p)
	}
	for i, id := range slices.Sorted(maps.Keys(q.DeviceKeys[user])) {
		p, dk := devReports[i], devs[id]
		if dk == nil {
			continue
		}
		sigs, bad := signatureChecks(q.DeviceKeys[user][id], dk, known)
		p.add("signatures", sigs)
		if ssk == nil {
			p.add("cross-signed", "cannot tell: no valid self-signing key")
		} else if err := signing.VerifyDevice(dk, msk, ssk); err != nil {
			p.add("cross-signed", "no: "+err.Error())
		} else {
			p.add("cross-signed", "yes, by the self-signing key")
		}
		p.Invalid = p.Invalid || bad
	}
	for _, p := range append(keyReports, devReports...) {
		r.part(p)
		r.Invalid = r.Invalid || p.Invalid
	}
	return r
}

// isDeviceKeys tells a device keys object (the "device_keys" of a
// /keys/upload body) from the user → device map of a /keys/query response.
func isDeviceKeys(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m["user_id"] != nil && m["keys"] != nil
}
