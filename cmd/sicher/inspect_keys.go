package main

// sicher inspect, keys: recovery keys, device keys, cross-signing keys, /keys/query responses, backup versions, secret storage.

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sicher-go/sicher/internal/recoverykey"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/signing"
)

// inspectRecoveryKey recognises a recovery key; nil if text is not one.
func inspectRecoveryKey(text string) *report {
	compact := strings.Join(strings.Fields(text), "")
	looks := len(compact) == 48 && strings.HasPrefix(compact, "Es")
	groups := strings.Fields(text)
	if len(groups) >= 10 && len(groups) <= 14 {
		looks = true
		for _, g := range groups {
			if len(g) > 4 {
				looks = false
			}
		}
	}
	if !looks {
		return nil
	}
	rk, err := keybackup.ParseRecoveryKey(text)
	if err != nil {
		if errors.Is(err, recoverykey.ErrBadPrefix) && !strings.HasPrefix(compact, "Es") {
			return nil // base58 of something else; let base64 have a go
		}
		r := newReport("recovery_key", "recovery key, INVALID")
		r.add("error", explainRecoveryKey(err).Error())
		r.Invalid = true
		return r
	}
	dk := rk.DecryptionKey()
	r := newReport("recovery_key", "recovery key (base58, 0x8B01 prefix, parity byte)")
	r.add("characters", len(compact)).add("prefix", "valid").add("parity", "valid")
	r.add("backup public key", dk.PublicKey().String())
	r.note("compare the backup public key with auth_data.public_key of the backup version; the key itself is not printed")
	return r
}

func inspectDeviceKeys(in []byte) *report {
	dk, err := signing.ParseDeviceKeys(in)
	if err != nil {
		r := newReport("device_keys", "device keys, INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("device_keys", "device keys")
	r.add("user id", dk.UserID).add("device id", dk.DeviceID).add("algorithms", dk.Algorithms)
	r.add("curve25519", dk.Curve25519.String()).add("ed25519", dk.Ed25519.String())
	if n := dk.DisplayName(); n != "" {
		r.add("display name", n)
	}
	if err := dk.VerifySelfSignature(); err != nil {
		r.add("self-signature", "INVALID: "+err.Error())
		r.Invalid = true
	} else {
		r.add("self-signature", "valid")
	}
	return r
}

// signers lists the key ids of a signatures object: "@user: ed25519:KEY".
func signers(sigs map[string]map[string]string) []string {
	var out []string
	for user, keys := range sigs {
		for id := range keys {
			out = append(out, user+" "+id)
		}
	}
	sort.Strings(out)
	return out
}

func inspectBackupVersion(obj map[string]json.RawMessage) *report {
	const title = "key backup version (GET /room_keys/version)"
	var v struct {
		Algorithm string `json:"algorithm"`
		Version   string `json:"version"`
		Count     *int   `json:"count"`
		AuthData  struct {
			PublicKey  string                       `json:"public_key"`
			Signatures map[string]map[string]string `json:"signatures"`
			Salt       string                       `json:"private_key_salt"`
			Iterations int                          `json:"private_key_iterations"`
		} `json:"auth_data"`
	}
	raw, _ := json.Marshal(obj)
	if err := json.Unmarshal(raw, &v); err != nil {
		return invalid("key_backup_version", title, err)
	}
	r := newReport("key_backup_version", title)
	r.add("algorithm", v.Algorithm)
	if v.Version != "" {
		r.add("version", v.Version)
	}
	if v.Count != nil {
		r.add("sessions", *v.Count)
	}
	if _, err := key.ParseCurve25519(v.AuthData.PublicKey); err != nil {
		r.add("public key", "INVALID: "+err.Error())
		r.Invalid = true
	} else {
		r.add("public key", v.AuthData.PublicKey)
	}
	r.add("signatures", signers(v.AuthData.Signatures))
	if v.AuthData.Salt != "" {
		r.add("passphrase", fmt.Sprintf("m.pbkdf2, %d iterations, salt of %d characters", v.AuthData.Iterations, len(v.AuthData.Salt)))
	}
	if v.Algorithm != keybackup.Algorithm {
		r.note("sicher reads only %s backups", keybackup.Algorithm)
		r.Invalid = true
	}
	r.note("check a recovery key against it with: sicher recovery-key check --auth-data FILE")
	return r
}

func inspectKeyDescription(in []byte) *report {
	const title = "secret storage key description (m.secret_storage.key.*)"
	var d secretstorage.KeyDescription
	if err := json.Unmarshal(in, &d); err != nil {
		return invalid("secret_storage_key", title, err)
	}
	r := newReport("secret_storage_key", title)
	if d.Name != "" {
		r.add("name", d.Name)
	}
	r.add("algorithm", d.Algorithm)
	if p := d.Passphrase; p != nil {
		r.add("passphrase", fmt.Sprintf("%s, %d iterations, salt of %d characters", p.Algorithm, p.Iterations, len(p.Salt)))
	} else {
		r.add("passphrase", "none (the key is a random key shown as a recovery key)")
	}
	if d.IV != "" && d.MAC != "" {
		r.add("key check", "iv and mac present")
		r.note("check a recovery key against it with: sicher recovery-key check --key-description FILE")
	} else {
		r.add("key check", "absent: any key is accepted until a secret fails to decrypt")
	}
	return r
}

func inspectSecret(in []byte) *report {
	const title = "secret storage secret (account data \"encrypted\")"
	var enc map[string]secretstorage.EncryptedData
	if err := json.Unmarshal(in, &enc); err != nil {
		return invalid("secret_storage_secret", title, err)
	}
	r := newReport("secret_storage_secret", title)
	ids := make([]string, 0, len(enc))
	for id := range enc {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	r.add("encrypted under", ids)
	for _, id := range ids {
		e := enc[id]
		p := newReport("secret_storage_secret", "under key "+id)
		for _, f := range []struct{ name, v, want string }{{"iv", e.IV, "16 bytes"}, {"ciphertext", e.Ciphertext, ""}, {"mac", e.MAC, "32 bytes"}} {
			b, err := decodeLenient(f.v)
			switch {
			case err != nil || f.v == "":
				p.add(f.name, "INVALID (not base64)")
				p.Invalid = true
			case f.want != "" && fmt.Sprintf("%d bytes", len(b)) != f.want:
				p.add(f.name, fmt.Sprintf("INVALID: %d bytes, want %s", len(b), f.want))
				p.Invalid = true
			default:
				p.add(f.name, fmt.Sprintf("%d bytes", len(b)))
			}
		}
		r.part(p)
	}
	r.note("AES-256-CTR + HMAC-SHA-256 under keys derived from the secret storage key and the secret's name")
	return r
}
