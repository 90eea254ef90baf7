package peer

// Documents and secrets: encrypted attachments, key export files and
// secret storage.

import (
	"bytes"
	"encoding/json"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/secretstorage"
)

func attachmentEncrypt(p *peer, r *request) (result, error) {
	var a struct {
		Plaintext data `arg:"plaintext"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	ct, f, err := attachment.Encrypt(a.Plaintext)
	if err != nil {
		return nil, err
	}
	info, err := jsonValue(f)
	if err != nil {
		return nil, err
	}
	return result{"ciphertext_b64": b64Out(ct), "info": info}, nil
}

func attachmentDecrypt(p *peer, r *request) (result, error) {
	var a struct {
		Ciphertext  rawB64          `arg:"ciphertext_b64"`
		Info        json.RawMessage `arg:"info"`
		AllowLegacy bool            `arg:"allow_legacy,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	f, err := attachment.ParseEncryptedFile(a.Info)
	if err != nil {
		return nil, err
	}
	pt, err := attachment.Decrypt(a.Ciphertext, f, &attachment.Options{AllowLegacy: a.AllowLegacy})
	if err != nil {
		return nil, err
	}
	res := result{}
	addPlaintext(res, "plaintext", pt)
	return res, nil
}

// keyExportEncrypt encrypts "sessions" (a JSON array) or "plaintext".
func keyExportEncrypt(p *peer, r *request) (result, error) {
	a := struct {
		Passphrase string          `arg:"passphrase"`
		Rounds     int64           `arg:"rounds,optional"`
		Wrap       int64           `arg:"wrap,optional"`
		Sessions   json.RawMessage `arg:"sessions,optional"`
		Plaintext  data            `arg:"plaintext,optional"`
	}{Rounds: 100_000, Wrap: keyexport.DefaultLineWidth}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if a.Rounds < 1 || a.Rounds > 1<<32-1 {
		return nil, errPeer("argument %q must be in 1..2^32-1", "rounds")
	}
	if a.Wrap < 0 {
		return nil, errPeer("argument %q must not be negative", "wrap")
	}
	pt := []byte(a.Plaintext)
	if a.Sessions != nil {
		var buf bytes.Buffer
		if err := json.Compact(&buf, a.Sessions); err != nil || a.Sessions[0] != '[' {
			return nil, errPeer("argument %q must be a JSON array", "sessions")
		}
		pt = buf.Bytes()
	} else if pt == nil {
		return nil, errPeer("missing argument %q, %q or %q", "sessions", "plaintext", "plaintext_b64")
	}
	width := int(a.Wrap)
	if width == 0 {
		width = -1 // one line
	}
	file, err := keyexport.Encrypt(pt, a.Passphrase, &keyexport.Options{Rounds: int(a.Rounds), LineWidth: width, InsecureAllowLowRounds: true})
	if err != nil {
		return nil, err
	}
	return result{"file": string(file)}, nil
}

func keyExportDecrypt(p *peer, r *request) (result, error) {
	var a struct {
		File       string `arg:"file"`
		Passphrase string `arg:"passphrase"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	pt, err := keyexport.Decrypt([]byte(a.File), a.Passphrase, nil)
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
}

// secretKey is a secret storage key: 32 bytes.
func secretKey(b []byte) (*secretstorage.Key, error) {
	defer clear(b)
	k, err := secretstorage.NewKeyFromBytes(b)
	if err != nil {
		return nil, errPeer("argument %q must be 32 bytes", "key_b64")
	}
	return k, nil
}

func secretEncrypt(p *peer, r *request) (result, error) {
	var a struct {
		Key    rawB64 `arg:"key_b64"`
		Name   string `arg:"name"`
		Secret data   `arg:"secret"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	k, err := secretKey(a.Key)
	if err != nil {
		return nil, err
	}
	enc, err := k.Encrypt(a.Name, a.Secret)
	if err != nil {
		return nil, err
	}
	return result{"encrypted": enc}, nil
}

func secretDecrypt(p *peer, r *request) (result, error) {
	var a struct {
		Key       rawB64          `arg:"key_b64"`
		Name      string          `arg:"name"`
		Encrypted json.RawMessage `arg:"encrypted"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	k, err := secretKey(a.Key)
	if err != nil {
		return nil, err
	}
	var enc secretstorage.EncryptedData
	if err := json.Unmarshal(a.Encrypted, &enc); err != nil {
		return nil, errPeer("argument %q must be an object {iv, ciphertext, mac}", "encrypted")
	}
	secret, err := k.Decrypt(a.Name, &enc)
	if err != nil {
		return nil, err
	}
	res := result{}
	addPlaintext(res, "secret", secret)
	return res, nil
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
