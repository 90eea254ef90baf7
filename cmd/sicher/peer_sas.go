package main

// Peer commands for SAS verification (package sas) and recovery keys.
// Names, arguments and results follow issue 5's table: they mirror
// libolm's OlmSAS (python-olm's Sas), so a harness can drive sicher and
// libolm alike.

import (
	"bytes"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/sas"
)

// peerSAS is a SAS as libolm models it: one object whose other key may be
// set later.
type peerSAS struct {
	s *sas.SAS
	e *sas.Established
}

func (ps *peerSAS) established() (*sas.Established, error) {
	if ps.e == nil {
		return nil, errPeer("the other side's public key is not set (sas_set_their_pubkey)")
	}
	return ps.e, nil
}

func (ps *peerSAS) setTheirKey(s string) error {
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

// sasMAC registers a MAC command computing method m.
func sasMAC(m sas.MACMethod) handler {
	return func(p *peer, r *request) (result, error) {
		ps, err := object[*peerSAS](p, r, "sas")
		if err != nil {
			return nil, err
		}
		in, err := r.data("input")
		if err != nil {
			return nil, err
		}
		info, err := r.string("info")
		if err != nil {
			return nil, err
		}
		e, err := ps.established()
		if err != nil {
			return nil, err
		}
		mac, err := e.MAC(m, in, info)
		if err != nil {
			return nil, err
		}
		return result{"mac": mac, "method": m.String()}, nil
	}
}

func init() {
	register("sas_create", func(p *peer, r *request) (result, error) {
		// Optional "private_key_b64" (alias "random_b64"): the 32 random
		// bytes libolm's olm_create_sas would read, to replay transcripts.
		var s *sas.SAS
		var err error
		arg := "private_key_b64"
		if !r.has(arg) && r.has("random_b64") {
			arg = "random_b64"
		}
		if r.has(arg) {
			b, err := r.bytesB64(arg)
			if err != nil {
				return nil, err
			}
			if len(b) != 32 {
				return nil, errPeer("argument %q must hold 32 bytes, not %d", arg, len(b))
			}
			s, err = sas.NewFrom(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
		} else if s, err = sas.New(); err != nil {
			return nil, err
		}
		ps := &peerSAS{s: s}
		if r.has("their_pubkey") {
			their, err := r.string("their_pubkey")
			if err != nil {
				return nil, err
			}
			if err := ps.setTheirKey(their); err != nil {
				return nil, err
			}
		}
		h, err := p.put(r, "sas", ps)
		if err != nil {
			return nil, err
		}
		return result{"handle": h, "pubkey": s.PublicKey().String(), "other_key_set": ps.e != nil}, nil
	})

	register("sas_set_their_pubkey", func(p *peer, r *request) (result, error) {
		ps, err := object[*peerSAS](p, r, "sas")
		if err != nil {
			return nil, err
		}
		their, err := r.string("their_pubkey")
		if err != nil {
			return nil, err
		}
		if err := ps.setTheirKey(their); err != nil {
			return nil, err
		}
		return result{"other_key_set": true}, nil
	})

	register("sas_generate_bytes", func(p *peer, r *request) (result, error) {
		ps, err := object[*peerSAS](p, r, "sas")
		if err != nil {
			return nil, err
		}
		info, err := r.string("info")
		if err != nil {
			return nil, err
		}
		n, err := r.int("length")
		if err != nil {
			return nil, err
		}
		if n < 1 || n > sas.MaxBytes {
			return nil, errPeer("argument \"length\" must be 1..%d", sas.MaxBytes)
		}
		e, err := ps.established()
		if err != nil {
			return nil, err
		}
		b, err := e.Bytes(info, int(n))
		if err != nil {
			return nil, err
		}
		ints := make([]int, len(b))
		for i, v := range b {
			ints[i] = int(v)
		}
		return result{"bytes_b64": b64Out(b), "bytes": ints}, nil
	})

	register("sas_short_auth_string", func(p *peer, r *request) (result, error) {
		ps, err := object[*peerSAS](p, r, "sas")
		if err != nil {
			return nil, err
		}
		info, err := r.string("info")
		if err != nil {
			return nil, err
		}
		e, err := ps.established()
		if err != nil {
			return nil, err
		}
		b, err := e.Bytes(info, 6)
		if err != nil {
			return nil, err
		}
		var idx []int
		var names, german, emoji []string
		for _, em := range e.Emoji(info) {
			idx = append(idx, em.Number)
			names = append(names, em.Description)
			german = append(german, em.German)
			emoji = append(emoji, em.Emoji)
		}
		return result{
			"bytes_b64":      b64Out(b[:]),
			"decimals":       e.Decimals(info),
			"emoji_indices":  idx,
			"emoji":          emoji,
			"emoji_names":    names,
			"emoji_names_de": german,
		}, nil
	})

	register("sas_calculate_mac", sasMAC(sas.LegacyHKDFHMACSHA256))
	register("sas_calculate_mac_fixed_base64", sasMAC(sas.HKDFHMACSHA256V2))
	register("sas_calculate_mac_long_kdf", sasMAC(sas.LegacyHMACSHA256))

	register("recovery_key_encode", func(_ *peer, r *request) (result, error) {
		b, err := r.bytesB64("private_key_b64")
		if err != nil {
			return nil, err
		}
		k, err := keybackup.NewDecryptionKey(b)
		if err != nil {
			return nil, err
		}
		return result{"recovery_key": k.RecoveryKey().Encode(), "public_key": k.PublicKey().String()}, nil
	})

	register("recovery_key_decode", func(_ *peer, r *request) (result, error) {
		s, err := r.string("recovery_key")
		if err != nil {
			return nil, err
		}
		rk, err := keybackup.ParseRecoveryKey(s)
		if err != nil {
			return nil, err
		}
		k := rk.DecryptionKey()
		b := k.Bytes()
		return result{"private_key_b64": b64Out(b[:]), "public_key": k.PublicKey().String()}, nil
	})

	registerErrorClass(sas.ErrUnknownMethod, "UnknownMethod")
	registerErrorClass(sas.ErrAuthentication, "BadMessageMAC")
}
