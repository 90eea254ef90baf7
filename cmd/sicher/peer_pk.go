package main

// Peer commands for libolm's PkDecryption, PkEncryption and PkSigning
// (package keybackup). Names, arguments and results follow issue 5's
// table. pk_pickle writes libolm's PkDecryption pickle (version 1) with
// the passphrase as libolm's pickle key.

import (
	"crypto/rand"
	"fmt"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/recoverykey"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
)

func pkInfo(h string, k *keybackup.DecryptionKey) result {
	b := k.Bytes()
	return result{"handle": h, "public_key": k.PublicKey().String(), "private_key_b64": b64Out(b[:])}
}

func init() {
	register("pk_decryption_create", func(p *peer, r *request) (result, error) {
		var k *keybackup.DecryptionKey
		var err error
		if r.has("private_key_b64") {
			b, err := r.bytesB64("private_key_b64")
			if err != nil {
				return nil, err
			}
			if k, err = keybackup.NewDecryptionKey(b); err != nil {
				return nil, err
			}
		} else if k, err = keybackup.GenerateDecryptionKey(); err != nil {
			return nil, err
		}
		h, err := p.put(r, "pk_decryption", k)
		if err != nil {
			return nil, err
		}
		return pkInfo(h, k), nil
	})

	register("pk_decryption_private_key", func(p *peer, r *request) (result, error) {
		k, err := object[*keybackup.DecryptionKey](p, r, "pk")
		if err != nil {
			return nil, err
		}
		b := k.Bytes()
		return result{"private_key_b64": b64Out(b[:]), "private_key_unpadded": b64.EncodeSecret(b[:]), "public_key": k.PublicKey().String()}, nil
	})

	register("pk_encrypt", func(_ *peer, r *request) (result, error) {
		s, err := r.string("public_key")
		if err != nil {
			return nil, err
		}
		pub, err := key.ParseCurve25519(s)
		if err != nil {
			return nil, err
		}
		pt, err := r.data("plaintext")
		if err != nil {
			return nil, err
		}
		d, err := keybackup.Encrypt(pub, pt)
		if err != nil {
			return nil, err
		}
		return result{"ciphertext": b64.Encode(d.Ciphertext), "mac": b64.Encode(d.MAC[:]), "ephemeral": d.Ephemeral.String()}, nil
	})

	register("pk_decrypt", func(p *peer, r *request) (result, error) {
		k, err := object[*keybackup.DecryptionKey](p, r, "pk")
		if err != nil {
			return nil, err
		}
		var f [3]string
		for i, name := range []string{"ephemeral", "ciphertext", "mac"} {
			if f[i], err = r.string(name); err != nil {
				return nil, err
			}
		}
		d, err := keybackup.ParseEncryptedSessionData(f[0], f[1], f[2])
		if err != nil {
			return nil, err
		}
		pt, err := k.Decrypt(d)
		if err != nil {
			return nil, err
		}
		res := result{}
		addPlaintext(res, "plaintext", pt)
		return res, nil
	})

	register("pk_pickle", func(p *peer, r *request) (result, error) {
		k, err := object[*keybackup.DecryptionKey](p, r, "pk")
		if err != nil {
			return nil, err
		}
		pass, err := r.optString("passphrase", "")
		if err != nil {
			return nil, err
		}
		pk, err := k.PickleLibolm([]byte(pass))
		return result{"pickle": pk}, err
	})

	register("pk_unpickle", func(p *peer, r *request) (result, error) {
		k, h, err := unpickle(p, r, "pk_decryption", keybackup.UnpickleLibolm)
		if err != nil {
			return nil, err
		}
		return result{"handle": h, "public_key": k.PublicKey().String()}, nil
	})

	register("pk_signing_create", func(p *peer, r *request) (result, error) {
		// libolm's PkSigning is key.SigningKey: an Ed25519 key from a seed.
		var s *key.SigningKey
		var err error
		if r.has("seed_b64") {
			b, err := r.bytesB64("seed_b64")
			if err != nil {
				return nil, err
			}
			if s, err = key.NewSigningKey(b); err != nil {
				return nil, fmt.Errorf("%w: seed: %w", keybackup.ErrMalformed, err)
			}
		} else if s, err = key.GenerateSigningKey(rand.Reader); err != nil {
			return nil, err
		}
		h, err := p.put(r, "pk_signing", s)
		if err != nil {
			return nil, err
		}
		seed, _ := s.Seed()
		defer clear(seed)
		return result{"handle": h, "public_key": s.Public().String(), "seed_b64": b64Out(seed)}, nil
	})

	register("pk_sign", func(p *peer, r *request) (result, error) {
		s, err := object[*key.SigningKey](p, r, "signer")
		if err != nil {
			return nil, err
		}
		msg, err := r.data("message")
		if err != nil {
			return nil, err
		}
		return result{"signature": s.Sign(msg).String(), "public_key": s.Public().String()}, nil
	})

	// keybackup reports a bad recovery key as ErrMalformed; the codec's
	// error inside it names the check, so these come first.
	registerErrorClass(recoverykey.ErrBadCharacter, "BadRecoveryKeyCharacter")
	registerErrorClass(recoverykey.ErrBadLength, "BadRecoveryKeyLength")
	registerErrorClass(recoverykey.ErrBadPrefix, "BadRecoveryKeyPrefix")
	registerErrorClass(recoverykey.ErrBadParity, "BadRecoveryKeyParity")
	registerErrorClass(keybackup.ErrAuthentication, "BadMessageMAC")
	registerErrorClass(keybackup.ErrDecrypt, "BadMessageDecryption")
	registerErrorClass(keybackup.ErrBadPickle, "BadPickle")
	registerErrorClass(keybackup.ErrMalformed, "BadMessageFormat")
}
