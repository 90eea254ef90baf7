package machine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// Cross-signing bootstrap (spec "Cross-signing",
// https://spec.matrix.org/v1.19/client-server-api/#cross-signing), secret storage (spec
// "Storage", https://spec.matrix.org/v1.19/client-server-api/#storage) and a first key backup
// version (spec "Server-side key backups",
// https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups), in one call.

// The store secrets holding our private keys: named as in secret storage, each the unpadded
// base64 of a 32-byte key (an Ed25519 seed for the cross-signing keys).
const (
	SecretMaster      = secretstorage.SecretCrossSigningMaster
	SecretSelfSigning = secretstorage.SecretCrossSigningSelfSigning
	SecretUserSigning = secretstorage.SecretCrossSigningUserSigning
	SecretBackup      = secretstorage.SecretMegolmBackup
)

// secretNames are the secrets Bootstrap creates, Recover reads and secret sharing exchanges.
var secretNames = []string{SecretMaster, SecretSelfSigning, SecretUserSigning, SecretBackup}

// Errors of Bootstrap and Recover.
var (
	// ErrIdentityExists reports a Bootstrap for a user whose master key the server already
	// publishes: another device set cross-signing up; use Recover.
	ErrIdentityExists = errors.New("machine: the user already has a cross-signing identity, use Recover")
	// ErrIdentityUnknown reports a Recover before our own keys query was answered: sync and
	// send the keys query first.
	ErrIdentityUnknown = errors.New("machine: our own cross-signing keys are not known yet")
	// ErrNoSecretStorage reports a Recover without the secret storage account data (a default
	// key, its description and the secrets): pass the account data from /sync first.
	ErrNoSecretStorage = errors.New("machine: no secret storage in the account data")
	// ErrSecretMismatch reports a private key (from secret storage or a secret sent by another
	// device) whose public key is not the published one: it is not stored.
	ErrSecretMismatch = errors.New("machine: secret does not match the published public key")
)

// BootstrapOptions configures Bootstrap.
type BootstrapOptions struct {
	// Passphrase, if not empty, derives the secret storage key from it with m.pbkdf2 (spec
	// "Deriving keys from passphrases"); the returned recovery key opens it as well. It is
	// secret.
	Passphrase string
	// Iterations is the m.pbkdf2 iteration count; 0 means secretstorage.DefaultIterations.
	Iterations int
}

// Format prints the options without the passphrase.
func (o BootstrapOptions) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "machine.BootstrapOptions{Passphrase:%t Iterations:%d}", o.Passphrase != "", o.Iterations)
}

// BootstrapResult is what Bootstrap made.
type BootstrapResult struct {
	// RecoveryKey opens secret storage (and through it the cross-signing keys and the
	// backup). It is secret: show it to the user once. Empty when AlreadyDone.
	RecoveryKey string
	// KeyID is the id of the new default secret storage key.
	KeyID string
	// AlreadyDone says that an earlier Bootstrap made the keys and nothing changed.
	AlreadyDone bool
}

// Format prints the result without the recovery key.
func (r BootstrapResult) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "machine.BootstrapResult{KeyID:%s AlreadyDone:%t}", r.KeyID, r.AlreadyDone)
}

// Bootstrap sets up cross-signing, secret storage and key backup for our user in one store
// transaction: it creates the master, self-signing and user-signing keys, a secret storage key
// (random, or from opts.Passphrase) made the default, and a backup decryption key; keeps the
// four private keys as store secrets (SecretMaster, ... SecretBackup); and queues
//
//   - KindSigningKeysUpload with the three public keys. Real servers answer it with 401 and a
//     user-interactive authentication session: complete the flow (for example m.login.password)
//     and send the body again with AddAuth; confirm only the final 200 with MarkRequestSent.
//     Its confirmation queues the KindSignatureUpload that signs our device with the
//     self-signing key and the master key with our device;
//   - KindAccountData: the key description (m.secret_storage.key.<id>), the default key
//     (m.secret_storage.default_key) and the four encrypted secrets;
//   - KindBackupVersion (m.megolm_backup.v1.curve25519-aes-sha2) whose auth_data is signed by
//     our device and the master key; its confirmation enables backup.
//
// Requests not confirmed stay queued across restarts, so a bootstrap interrupted by a failed
// request resumes by sending them again. Once done, Bootstrap changes nothing and returns
// AlreadyDone. It returns ErrIdentityExists when the server already publishes a master key for
// our user (call Recover instead), ErrDevicesOutdated while our own keys query is not answered
// (send it first: only then can the machine tell that no identity exists), and the store's
// errors.
func (m *Machine) Bootstrap(ctx context.Context, opts BootstrapOptions) (*BootstrapResult, error) {
	var ssKey *secretstorage.Key
	var pass *secretstorage.PassphraseInfo
	var err error
	// m.pbkdf2 is slow: derive before the transaction.
	if opts.Passphrase != "" {
		ssKey, pass, err = secretstorage.NewPassphraseKey(opts.Passphrase, opts.Iterations)
	} else {
		ssKey, err = secretstorage.NewKey()
	}
	if err != nil {
		return nil, fmt.Errorf("machine: secret storage key: %w", err)
	}
	res := &BootstrapResult{}
	err = m.update(ctx, func(tx store.Tx) error {
		if _, err := tx.Secret(ctx, SecretMaster); err == nil {
			res.AlreadyDone = true
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// Only a current view of our own identity can tell that none exists.
		if tu, err := tx.TrackedUser(ctx, m.owner.UserID); err != nil {
			return err
		} else if tu.Outdated {
			return ErrDevicesOutdated
		}
		if id, _, err := m.loadIdentity(ctx, tx, m.owner.UserID); err != nil {
			return err
		} else if id.Master != nil {
			return ErrIdentityExists
		}
		keys := map[string][]byte{}
		for _, name := range secretNames[:3] {
			sk, err := key.GenerateSigningKey(m.randReader())
			if err != nil {
				return fmt.Errorf("machine: reading randomness: %w", err)
			}
			seed, _ := sk.Seed()
			keys[name] = seed
		}
		keys[SecretBackup] = make([]byte, keybackup.KeySize)
		if _, err := io.ReadFull(m.randReader(), keys[SecretBackup]); err != nil {
			return fmt.Errorf("machine: reading randomness: %w", err)
		}
		bk, err := keybackup.NewDecryptionKey(keys[SecretBackup])
		if err != nil {
			return err
		}
		for _, name := range secretNames {
			if err := tx.PutSecret(ctx, name, store.Secret(base64.RawStdEncoding.EncodeToString(keys[name]))); err != nil {
				return err
			}
		}
		cs, err := m.loadCrossSigning(ctx, tx)
		if err != nil {
			return err
		}
		if err := m.queue(ctx, tx, KindSigningKeysUpload, "", map[string]any{
			"master_key": cs.master, "self_signing_key": cs.selfSigning, "user_signing_key": cs.userSigning}); err != nil {
			return err
		}
		res.KeyID, err = m.queueSecretStorage(ctx, tx, ssKey, pass, keys)
		if err != nil {
			return err
		}
		for _, k := range keys {
			clear(k)
		}
		authData, err := m.signedAuthData(ctx, tx, bk.PublicKey(), cs)
		if err != nil {
			return err
		}
		return m.queue(ctx, tx, KindBackupVersion, "", map[string]any{"algorithm": keybackup.Algorithm, "auth_data": authData})
	})
	if err != nil {
		return nil, err
	}
	if !res.AlreadyDone {
		res.RecoveryKey = ssKey.RecoveryKey()
	}
	return res, nil
}

// queueSecretStorage queues the account data of a new default secret storage key holding the
// secrets, and returns the key's id.
func (m *Machine) queueSecretStorage(ctx context.Context, tx store.Tx, k *secretstorage.Key, pass *secretstorage.PassphraseInfo, secrets map[string][]byte) (string, error) {
	keyID, err := secretstorage.NewKeyID()
	if err != nil {
		return "", err
	}
	desc, err := k.Description("", pass)
	if err != nil {
		return "", err
	}
	if err := m.queueAccountData(ctx, tx, secretstorage.KeyEventTypePrefix+keyID, desc); err != nil {
		return "", err
	}
	if err := m.queueAccountData(ctx, tx, secretstorage.DefaultKeyEventType, map[string]string{"key": keyID}); err != nil {
		return "", err
	}
	for _, name := range secretNames {
		enc, err := k.Encrypt(name, []byte(base64.RawStdEncoding.EncodeToString(secrets[name])))
		if err != nil {
			return "", err
		}
		if err := m.queueAccountData(ctx, tx, name, secretstorage.SecretContent{Encrypted: map[string]secretstorage.EncryptedData{keyID: *enc}}); err != nil {
			return "", err
		}
	}
	return keyID, nil
}

// queueAccountData queues an account data event and records it as what the server has, so that
// Recover on this device and the secret checks see it before the next sync.
func (m *Machine) queueAccountData(ctx context.Context, tx store.Tx, evType string, content any) error {
	b, err := json.Marshal(content)
	if err != nil {
		return err
	}
	if err := tx.PutValue(ctx, valueAccountData+evType, b); err != nil {
		return err
	}
	return m.queue(ctx, tx, KindAccountData, evType, json.RawMessage(b))
}

// crossSigning holds our cross-signing private keys and the public key objects made from them.
type crossSigning struct {
	masterKey, selfSigningKey, userSigningKey *key.SigningKey
	master, selfSigning, userSigning          *signing.CrossSigningKey
}

// loadCrossSigning reads our cross-signing private keys from the store and builds the key
// objects the server publishes (the subkeys signed by the master key). It returns ErrNotFound
// when we have none.
func (m *Machine) loadCrossSigning(ctx context.Context, tx store.Tx) (*crossSigning, error) {
	cs := &crossSigning{}
	var err error
	if cs.masterKey, err = m.signingSecret(ctx, tx, SecretMaster); err != nil {
		return nil, err
	}
	if cs.selfSigningKey, err = m.signingSecret(ctx, tx, SecretSelfSigning); err != nil {
		return nil, err
	}
	if cs.userSigningKey, err = m.signingSecret(ctx, tx, SecretUserSigning); err != nil {
		return nil, err
	}
	u := m.owner.UserID
	cs.master = signing.NewCrossSigningKey(u, signing.UsageMaster, cs.masterKey.Public())
	cs.selfSigning = signing.NewCrossSigningKey(u, signing.UsageSelfSigning, cs.selfSigningKey.Public())
	cs.selfSigning.AddSignature(u, cs.master.KeyName(), cs.masterKey)
	cs.userSigning = signing.NewCrossSigningKey(u, signing.UsageUserSigning, cs.userSigningKey.Public())
	cs.userSigning.AddSignature(u, cs.master.KeyName(), cs.masterKey)
	return cs, nil
}

// signingSecret reads a cross-signing private key kept as a store secret.
func (m *Machine) signingSecret(ctx context.Context, tx store.Tx, name string) (*key.SigningKey, error) {
	v, err := tx.Secret(ctx, name)
	if err != nil {
		return nil, err
	}
	seed, err := decodeKey32(string(v))
	if err != nil {
		return nil, fmt.Errorf("machine: secret %s: %w", name, store.ErrCorrupt)
	}
	defer clear(seed)
	return key.NewSigningKey(seed)
}

// decodeKey32 decodes the unpadded (or padded) base64 of a 32-byte key.
func decodeKey32(s string) ([]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(trimPadding(s))
	if err != nil || len(b) != 32 {
		clear(b)
		return nil, errors.New("not 32 bytes of base64")
	}
	return b, nil
}

func trimPadding(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

// signedAuthData returns the auth_data of a backup version with public key pub, signed by our
// device and our master key.
func (m *Machine) signedAuthData(ctx context.Context, tx store.Tx, pub key.Curve25519, cs *crossSigning) (json.RawMessage, error) {
	acct, err := m.loadAccount(ctx, tx)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(keybackup.AuthData{PublicKey: pub})
	if err != nil {
		return nil, err
	}
	if b, err = signing.Sign(b, m.owner.UserID, m.owner.DeviceID, acct); err != nil {
		return nil, err
	}
	return signing.Sign(b, m.owner.UserID, cs.master.KeyName(), cs.masterKey)
}

// queueOwnSignatures queues the signature upload that signs our device with our self-signing
// key and our master key with our device.
func (m *Machine) queueOwnSignatures(ctx context.Context, tx store.Tx) error {
	cs, err := m.loadCrossSigning(ctx, tx)
	if err != nil {
		return err
	}
	acct, err := m.loadAccount(ctx, tx)
	if err != nil {
		return err
	}
	dev, err := m.ownDeviceKeys(acct)
	if err != nil {
		return err
	}
	dev.AddSignature(m.owner.UserID, cs.selfSigning.KeyName(), cs.selfSigningKey)
	cs.master.AddSignature(m.owner.UserID, m.owner.DeviceID, acct)
	return m.queue(ctx, tx, KindSignatureUpload, "", map[string]map[string]any{
		m.owner.UserID: {m.owner.DeviceID: dev, cs.master.KeyName(): cs.master}})
}

// AddAuth returns a request body with the "auth" member of user-interactive authentication
// (spec "User-interactive authentication API",
// https://spec.matrix.org/v1.19/client-server-api/#user-interactive-authentication-api) set to
// auth, for sending a KindSigningKeysUpload again after the server's 401. The auth object may
// hold a password: the result is secret then.
func AddAuth(body json.RawMessage, auth any) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("machine: request body: %w", err)
	}
	a, err := json.Marshal(auth)
	if err != nil {
		return nil, fmt.Errorf("machine: auth: %w", err)
	}
	obj["auth"] = a
	return json.Marshal(obj)
}

// receiveKeysAndBackup handles the responses of the cross-signing and backup requests. refused
// is a well-formed response the machine does not trust (the request is done, the error is for
// the caller).
func (m *Machine) receiveKeysAndBackup(ctx context.Context, tx store.Tx, r Request, response []byte) (refused, err error) {
	switch r.Kind {
	case KindSigningKeysUpload:
		if err := decodeStrict(response, &struct{}{}); err != nil {
			return nil, err
		}
		if err := markOutdated(ctx, tx, []string{m.owner.UserID}); err != nil {
			return nil, err
		}
		return nil, m.queueOwnSignatures(ctx, tx)
	case KindSignatureUpload:
		var resp struct {
			Failures map[string]map[string]json.RawMessage `json:"failures"`
		}
		if err := decodeStrict(response, &resp); err != nil {
			return nil, err
		}
		for user, f := range resp.Failures {
			for id := range f {
				m.log.Warn("machine: signature upload refused", "user", user, "key", id)
			}
		}
		return nil, markOutdated(ctx, tx, []string{m.owner.UserID})
	case KindBackupVersion:
		var resp struct {
			Version string `json:"version"`
		}
		if err := decodeStrict(response, &resp); err != nil || resp.Version == "" {
			return nil, fmt.Errorf("%w: backup version", ErrMalformedResponse)
		}
		return nil, m.enableBackup(ctx, tx, resp.Version, r.Body)
	case KindBackupVersionGet:
		return m.receiveBackupVersion(ctx, tx, response)
	case KindBackupUpload:
		return nil, m.receiveBackupUpload(ctx, tx, r)
	case KindBackupDownload:
		return m.receiveBackupSession(ctx, tx, r, response)
	}
	return nil, nil
}
