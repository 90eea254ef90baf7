package rustpeer

import "encoding/json"

// Cross-signing and server-side key backup commands (interop/node/backup.mjs).

// CrossSigningBootstrap is what OlmMachine.bootstrapCrossSigning returns: the requests to send
// in order. UploadKeys is nil when the device keys are uploaded already; SigningKeys is the
// body of POST /keys/device_signing/upload and Signatures of POST /keys/signatures/upload.
type CrossSigningBootstrap struct {
	UploadKeys  *Request        `json:"upload_keys"`
	SigningKeys json.RawMessage `json:"signing_keys"`
	Signatures  json.RawMessage `json:"signatures"`
}

// BootstrapCrossSigning creates new cross-signing keys (bootstrapCrossSigning(reset=true)).
func (p *Peer) BootstrapCrossSigning() (*CrossSigningBootstrap, error) {
	var out CrossSigningBootstrap
	return &out, p.call("bootstrap_cross_signing", map[string]any{"reset": true}, &out)
}

// CrossSigningStatus says which cross-signing private keys the machine holds.
type CrossSigningStatus struct {
	HasMaster      bool `json:"has_master"`
	HasSelfSigning bool `json:"has_self_signing"`
	HasUserSigning bool `json:"has_user_signing"`
}

// CrossSigningStatus returns which private cross-signing keys the machine holds.
func (p *Peer) CrossSigningStatus() (CrossSigningStatus, error) {
	var out CrossSigningStatus
	return out, p.call("cross_signing_status", nil, &out)
}

// CrossSigningKeys are the private cross-signing keys as unpadded base64 seeds (secret).
type CrossSigningKeys struct {
	Master      string `json:"master,omitempty"`
	SelfSigning string `json:"self_signing,omitempty"`
	UserSigning string `json:"user_signing,omitempty"`
}

// ExportCrossSigningKeys returns the machine's private cross-signing keys, or nil.
func (p *Peer) ExportCrossSigningKeys() (*CrossSigningKeys, error) {
	var out *CrossSigningKeys
	return out, p.call("export_cross_signing_keys", nil, &out)
}

// ImportCrossSigningKeys gives the machine private cross-signing keys (importCrossSigningKeys,
// which keeps only keys that match the published identity) and returns the status after.
func (p *Peer) ImportCrossSigningKeys(k CrossSigningKeys) (CrossSigningStatus, error) {
	var out CrossSigningStatus
	return out, p.call("import_cross_signing_keys", k, &out)
}

// Identity is what the machine knows of a user's cross-signing identity.
type Identity struct {
	// Own says it is our own identity (OwnUserIdentity).
	Own bool `json:"own"`
	// MasterKey is the master key object.
	MasterKey  json.RawMessage `json:"master_key"`
	IsVerified bool            `json:"is_verified"`
	// TrustsOurOwnDevice is set for our own identity: our device is signed by its
	// self-signing key.
	TrustsOurOwnDevice *bool `json:"trusts_our_own_device"`
}

// Identity returns the machine's view of a user's identity (getIdentity), or nil.
func (p *Peer) Identity(userID string) (*Identity, error) {
	var out *Identity
	return out, p.call("identity", map[string]any{"user_id": userID}, &out)
}

// NewBackupKey returns a new random backup decryption key (unpadded base64, secret) and its
// public key.
func (p *Peer) NewBackupKey() (privateKey, publicKey string, err error) {
	var out struct {
		Key       string `json:"key"`
		PublicKey string `json:"public_key"`
	}
	err = p.call("new_backup_key", nil, &out)
	return out.Key, out.PublicKey, err
}

// EnableBackupV1 makes the machine back up room keys to version with the public key.
func (p *Peer) EnableBackupV1(publicKey, version string) error {
	return p.call("enable_backup_v1", map[string]any{"public_key": publicKey, "version": version}, nil)
}

// BackupRoomKeys returns the next KeysBackup request, or nil.
func (p *Peer) BackupRoomKeys() (*Request, error) {
	var out *Request
	return out, p.call("backup_room_keys", nil, &out)
}

// BackupVerification is the machine's verdict on a backup version's signatures: DeviceState
// and UserState are SignatureState names (Missing, Invalid, ValidButNotTrusted,
// ValidAndTrusted).
type BackupVerification struct {
	Trusted     bool   `json:"trusted"`
	DeviceState string `json:"device_state"`
	UserState   string `json:"user_state"`
}

// VerifyBackup checks a backup version (the body of GET /room_keys/version).
func (p *Peer) VerifyBackup(info json.RawMessage) (*BackupVerification, error) {
	var out BackupVerification
	return &out, p.call("verify_backup", map[string]any{"backup_info": info}, &out)
}

// RestoreCounts says what RestoreBackup imported.
type RestoreCounts struct {
	Imported int `json:"imported"`
	Total    int `json:"total"`
	Failed   int `json:"failed"`
}

// RestoreBackup decrypts a /room_keys/keys body with the backup key (unpadded base64, as
// NewBackupKey and the m.megolm_backup.v1 secret hold it; decryptV1) and imports the sessions
// (importBackedUpRoomKeys) as from backup version.
func (p *Peer) RestoreBackup(key string, keys json.RawMessage, version string) (*RestoreCounts, error) {
	var out RestoreCounts
	return &out, p.call("restore_backup", map[string]any{"key": key, "keys": keys, "version": version}, &out)
}

// RequestMissingSecrets queues m.secret.request events for the cross-signing and backup keys
// the machine lacks (requestMissingSecretsIfNeeded); they come out of OutgoingRequests. It
// reports whether it queued any.
func (p *Peer) RequestMissingSecrets() (bool, error) {
	var out bool
	return out, p.call("request_missing_secrets", nil, &out)
}
