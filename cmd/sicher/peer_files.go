package main

// Peer commands for documents and secrets: encrypted attachments, key
// export files and secret storage (issue 10).

import (
	"bytes"
	"encoding/json"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/secretstorage"
)

func init() {
	register("attachment_encrypt", func(_ *peer, r *request) (result, error) {
		pt, err := r.data("plaintext")
		if err != nil {
			return nil, err
		}
		ct, f, err := attachment.Encrypt(pt)
		if err != nil {
			return nil, err
		}
		info, err := jsonValue(f)
		if err != nil {
			return nil, err
		}
		return result{"ciphertext_b64": b64Out(ct), "info": info}, nil
	})
	register("attachment_decrypt", func(_ *peer, r *request) (result, error) {
		ct, err := r.bytesB64("ciphertext_b64")
		if err != nil {
			return nil, err
		}
		raw, ok := r.raw("info")
		if !ok {
			return nil, errPeer("missing argument %q", "info")
		}
		legacy, err := r.optBool("allow_legacy", false)
		if err != nil {
			return nil, err
		}
		f, err := attachment.ParseEncryptedFile(raw)
		if err != nil {
			return nil, err
		}
		pt, err := attachment.Decrypt(ct, f, &attachment.Options{AllowLegacy: legacy})
		if err != nil {
			return nil, err
		}
		res := result{}
		addPlaintext(res, "plaintext", pt)
		return res, nil
	})
	register("key_export_encrypt", func(_ *peer, r *request) (result, error) {
		pass, err := r.string("passphrase")
		if err != nil {
			return nil, err
		}
		rounds, err := r.optInt("rounds", 100_000)
		if err != nil {
			return nil, err
		}
		wrap, err := r.optInt("wrap", keyexport.DefaultLineWidth)
		if err != nil {
			return nil, err
		}
		if rounds < 1 || rounds > 1<<32-1 {
			return nil, errPeer("argument %q must be in 1..2^32-1", "rounds")
		}
		if wrap < 0 {
			return nil, errPeer("argument %q must not be negative", "wrap")
		}
		var pt []byte
		if raw, ok := r.raw("sessions"); ok {
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil || raw[0] != '[' {
				return nil, errPeer("argument %q must be a JSON array", "sessions")
			}
			pt = buf.Bytes()
		} else if pt, err = r.data("plaintext"); err != nil {
			return nil, errPeer("missing argument %q, %q or %q", "sessions", "plaintext", "plaintext_b64")
		}
		width := int(wrap)
		if width == 0 {
			width = -1 // one line
		}
		file, err := keyexport.Encrypt(pt, pass, &keyexport.Options{Rounds: int(rounds), LineWidth: width, InsecureAllowLowRounds: true})
		if err != nil {
			return nil, err
		}
		return result{"file": string(file)}, nil
	})
	register("key_export_decrypt", func(_ *peer, r *request) (result, error) {
		file, err := r.string("file")
		if err != nil {
			return nil, err
		}
		pass, err := r.string("passphrase")
		if err != nil {
			return nil, err
		}
		pt, err := keyexport.Decrypt([]byte(file), pass, nil)
		if err != nil {
			return nil, err
		}
		res := result{"sessions": nil}
		addPlaintext(res, "plaintext", pt)
		var sessions json.RawMessage
		if json.Valid(pt) && json.Unmarshal(pt, &sessions) == nil && bytes.HasPrefix(bytes.TrimSpace(pt), []byte("[")) {
			res["sessions"] = sessions
		}
		return res, nil
	})
	register("secret_encrypt", func(_ *peer, r *request) (result, error) {
		k, name, err := secretArgs(r)
		if err != nil {
			return nil, err
		}
		secret, err := r.data("secret")
		if err != nil {
			return nil, err
		}
		enc, err := k.Encrypt(name, secret)
		if err != nil {
			return nil, err
		}
		return result{"encrypted": enc}, nil
	})
	register("secret_decrypt", func(_ *peer, r *request) (result, error) {
		k, name, err := secretArgs(r)
		if err != nil {
			return nil, err
		}
		raw, ok := r.raw("encrypted")
		if !ok {
			return nil, errPeer("missing argument %q", "encrypted")
		}
		var enc secretstorage.EncryptedData
		if err := json.Unmarshal(raw, &enc); err != nil {
			return nil, errPeer("argument %q must be an object {iv, ciphertext, mac}", "encrypted")
		}
		secret, err := k.Decrypt(name, &enc)
		if err != nil {
			return nil, err
		}
		res := result{}
		addPlaintext(res, "secret", secret)
		return res, nil
	})

	registerErrorClass(attachment.ErrAuthentication, "HashMismatch")
	registerErrorClass(attachment.ErrUnsupportedVersion, "UnsupportedVersion")
	registerErrorClass(attachment.ErrMalformed, "BadEncryptedFile")
	registerErrorClass(keyexport.ErrAuthentication, "BadMessageMAC")
	registerErrorClass(keyexport.ErrMalformed, "BadExportFile")
	registerErrorClass(keyexport.ErrUnsupportedVersion, "UnsupportedVersion")
	registerErrorClass(keyexport.ErrBadRounds, "BadExportFile")
	registerErrorClass(secretstorage.ErrAuthentication, "BadMessageMAC")
	registerErrorClass(secretstorage.ErrMalformed, "BadMessageFormat")
}

// secretArgs reads key_b64 (32 bytes) and name.
func secretArgs(r *request) (*secretstorage.Key, string, error) {
	kb, err := r.bytesB64("key_b64")
	if err != nil {
		return nil, "", err
	}
	defer clear(kb)
	k, err := secretstorage.NewKeyFromBytes(kb)
	if err != nil {
		return nil, "", errPeer("argument %q must be 32 bytes", "key_b64")
	}
	name, err := r.string("name")
	if err != nil {
		return nil, "", err
	}
	return k, name, nil
}

// jsonValue turns v into a generic JSON value for a result field.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
