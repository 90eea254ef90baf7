package peer

// SAS verification (package sas) and recovery keys. The commands mirror
// libolm's OlmSAS (python-olm's Sas), so a harness drives sicher and
// libolm alike.

import (
	"bytes"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/sas"
)

// sasState is a SAS as libolm models it: one object whose other key may be
// set later.
type sasState struct {
	s *sas.SAS
	e *sas.Established
}

func (ps *sasState) established() (*sas.Established, error) {
	if ps.e == nil {
		return nil, errPeer("the other side's public key is not set (sas_set_their_pubkey)")
	}
	return ps.e, nil
}

func (ps *sasState) setTheirKey(s string) error {
	k, err := key.ParseCurve25519(s)
	if err != nil {
		return err
	}
	e, err := ps.s.SetTheirKey(k)
	if err != nil {
		return err
	}
	ps.e = e
	return nil
}

// sasCreate takes an optional "private_key_b64" (alias "random_b64"): the
// 32 random bytes libolm's olm_create_sas would read, to replay
// transcripts.
func sasCreate(p *peer, r *request) (result, error) {
	var a struct {
		PrivateKey  rawB64 `arg:"private_key_b64,optional"`
		Random      rawB64 `arg:"random_b64,optional"`
		TheirPubkey string `arg:"their_pubkey,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	arg, seed := "private_key_b64", a.PrivateKey
	if seed == nil && a.Random != nil {
		arg, seed = "random_b64", a.Random
	}
	var s *sas.SAS
	var err error
	if seed != nil {
		if len(seed) != 32 {
			return nil, errPeer("argument %q must hold 32 bytes, not %d", arg, len(seed))
		}
		s, err = sas.NewFrom(bytes.NewReader(seed))
	} else {
		s, err = sas.New()
	}
	if err != nil {
		return nil, err
	}
	ps := &sasState{s: s}
	if r.has("their_pubkey") {
		if err := ps.setTheirKey(a.TheirPubkey); err != nil {
			return nil, err
		}
	}
	return p.stored(r, "sas", ps, result{"pubkey": s.PublicKey().String(), "other_key_set": ps.e != nil})
}

func sasSetTheirPubkey(p *peer, r *request) (result, error) {
	var a struct {
		SAS         ref[*sasState] `arg:"sas"`
		TheirPubkey string         `arg:"their_pubkey"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if err := a.SAS.v.setTheirKey(a.TheirPubkey); err != nil {
		return nil, err
	}
	return result{"other_key_set": true}, nil
}

func sasGenerateBytes(p *peer, r *request) (result, error) {
	var a struct {
		SAS    ref[*sasState] `arg:"sas"`
		Info   string         `arg:"info"`
		Length int64          `arg:"length"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if a.Length < 1 || a.Length > sas.MaxBytes {
		return nil, errPeer("argument \"length\" must be 1..%d", sas.MaxBytes)
	}
	e, err := a.SAS.v.established()
	if err != nil {
		return nil, err
	}
	b, err := e.Bytes(a.Info, int(a.Length))
	if err != nil {
		return nil, err
	}
	ints := make([]int, len(b))
	for i, v := range b {
		ints[i] = int(v)
	}
	return result{"bytes_b64": b64Out(b), "bytes": ints}, nil
}

func sasShortAuthString(p *peer, r *request) (result, error) {
	var a struct {
		SAS  ref[*sasState] `arg:"sas"`
		Info string         `arg:"info"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	e, err := a.SAS.v.established()
	if err != nil {
		return nil, err
	}
	b, err := e.Bytes(a.Info, 6)
	if err != nil {
		return nil, err
	}
	var idx []int
	var names, german, emoji []string
	for _, em := range e.Emoji(a.Info) {
		idx = append(idx, em.Number)
		names = append(names, em.Description)
		german = append(german, em.German)
		emoji = append(emoji, em.Emoji)
	}
	return result{
		"bytes_b64":      b64Out(b[:]),
		"decimals":       e.Decimals(a.Info),
		"emoji_indices":  idx,
		"emoji":          emoji,
		"emoji_names":    names,
		"emoji_names_de": german,
	}, nil
}

func sasCalculateMAC(p *peer, r *request) (result, error) {
	return sasMAC(p, r, sas.LegacyHKDFHMACSHA256)
}

func sasCalculateMACFixedBase64(p *peer, r *request) (result, error) {
	return sasMAC(p, r, sas.HKDFHMACSHA256V2)
}

func sasCalculateMACLongKDF(p *peer, r *request) (result, error) {
	return sasMAC(p, r, sas.LegacyHMACSHA256)
}

// sasMAC computes a MAC with method m.
func sasMAC(p *peer, r *request, m sas.MACMethod) (result, error) {
	var a struct {
		SAS   ref[*sasState] `arg:"sas"`
		Input data           `arg:"input"`
		Info  string         `arg:"info"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	e, err := a.SAS.v.established()
	if err != nil {
		return nil, err
	}
	mac, err := e.MAC(m, a.Input, a.Info)
	if err != nil {
		return nil, err
	}
	return result{"mac": mac, "method": m.String()}, nil
}

func recoveryKeyEncode(p *peer, r *request) (result, error) {
	var a struct {
		PrivateKey rawB64 `arg:"private_key_b64"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	k, err := keybackup.NewDecryptionKey(a.PrivateKey)
	if err != nil {
		return nil, err
	}
	return result{"recovery_key": k.RecoveryKey().Encode(), "public_key": k.PublicKey().String()}, nil
}

func recoveryKeyDecode(p *peer, r *request) (result, error) {
	var a struct {
		RecoveryKey string `arg:"recovery_key"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	rk, err := keybackup.ParseRecoveryKey(a.RecoveryKey)
	if err != nil {
		return nil, err
	}
	k := rk.DecryptionKey()
	b := k.Bytes()
	return result{"private_key_b64": b64Out(b[:]), "public_key": k.PublicKey().String()}, nil
}
