package peer

// libolm's PkDecryption and PkEncryption (package keybackup) and PkSigning
// (an Ed25519 key from a seed: key.SigningKey).
// pk_pickle writes libolm's PkDecryption pickle (version 1) with the
// passphrase as libolm's pickle key.

import (
	"crypto/rand"
	"fmt"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
)

func pkInfo(k *keybackup.DecryptionKey) result {
	b := k.Bytes()
	return result{"public_key": k.PublicKey().String(), "private_key_b64": b64Out(b[:])}
}

// pk is the argument of the commands that take a PkDecryption.
type pk struct {
	PK ref[*keybackup.DecryptionKey] `arg:"pk"`
}

func pkDecryptionCreate(p *peer, r *request) (result, error) {
	var a struct {
		PrivateKey rawB64 `arg:"private_key_b64,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	var k *keybackup.DecryptionKey
	var err error
	if a.PrivateKey != nil {
		k, err = keybackup.NewDecryptionKey(a.PrivateKey)
	} else {
		k, err = keybackup.GenerateDecryptionKey()
	}
	if err != nil {
		return nil, err
	}
	return p.stored(r, "pk_decryption", k, pkInfo(k))
}

func pkDecryptionPrivateKey(p *peer, r *request) (result, error) {
	var a pk
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	b := a.PK.v.Bytes()
	res := pkInfo(a.PK.v)
	res["private_key_unpadded"] = b64.EncodeSecret(b[:])
	return res, nil
}

func pkEncrypt(p *peer, r *request) (result, error) {
	var a struct {
		PublicKey key.Curve25519 `arg:"public_key"`
		Plaintext data           `arg:"plaintext"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	d, err := keybackup.Encrypt(a.PublicKey, a.Plaintext)
	if err != nil {
		return nil, err
	}
	return result{"ciphertext": b64.Encode(d.Ciphertext), "mac": b64.Encode(d.MAC[:]), "ephemeral": d.Ephemeral.String()}, nil
}

func pkDecrypt(p *peer, r *request) (result, error) {
	var a struct {
		PK         ref[*keybackup.DecryptionKey] `arg:"pk"`
		Ephemeral  string                        `arg:"ephemeral"`
		Ciphertext string                        `arg:"ciphertext"`
		MAC        string                        `arg:"mac"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	d, err := keybackup.ParseEncryptedSessionData(a.Ephemeral, a.Ciphertext, a.MAC)
	if err != nil {
		return nil, err
	}
	pt, err := a.PK.v.Decrypt(d)
	if err != nil {
		return nil, err
	}
	res := result{}
	addPlaintext(res, "plaintext", pt)
	return res, nil
}

func pkPickle(p *peer, r *request) (result, error) {
	var a struct {
		PK         ref[*keybackup.DecryptionKey] `arg:"pk"`
		Passphrase string                        `arg:"passphrase,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	pk, err := a.PK.v.PickleLibolm([]byte(a.Passphrase))
	return result{"pickle": pk}, err
}

func pkUnpickle(p *peer, r *request) (result, error) {
	var a pickled
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	k, err := keybackup.UnpickleLibolm([]byte(a.Passphrase), a.Pickle)
	if err != nil {
		return nil, err
	}
	return p.stored(r, "pk_decryption", k, result{"public_key": k.PublicKey().String()})
}

func pkSigningCreate(p *peer, r *request) (result, error) {
	var a struct {
		Seed rawB64 `arg:"seed_b64,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	var s *key.SigningKey
	var err error
	if a.Seed != nil {
		if s, err = key.NewSigningKey(a.Seed); err != nil {
			return nil, fmt.Errorf("%w: seed: %w", keybackup.ErrMalformed, err)
		}
	} else if s, err = key.GenerateSigningKey(rand.Reader); err != nil {
		return nil, err
	}
	seed, _ := s.Seed()
	defer clear(seed)
	return p.stored(r, "pk_signing", s, result{"public_key": s.Public().String(), "seed_b64": b64Out(seed)})
}

func pkSign(p *peer, r *request) (result, error) {
	var a struct {
		Signer  ref[*key.SigningKey] `arg:"signer"`
		Message data                 `arg:"message"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s := a.Signer.v
	return result{"signature": s.Sign(a.Message).String(), "public_key": s.Public().String()}, nil
}
