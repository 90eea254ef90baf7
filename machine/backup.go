package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// The backup lifecycle (spec "Server-side key backups",
// https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups): while backup is
// enabled, OutgoingRequests uploads the inbound sessions not yet in the backup, backupBatch at a
// time, and MarkRequestSent marks them backed up. Each entry also carries an MSC4048 MAC
// (keybackup.MACKey), so a device holding the backup key can tell the entries we wrote from
// entries anyone with the public key could have written.

// backupBatch is the number of sessions per upload request (matrix-sdk-crypto uploads 100 too).
const backupBatch = 100

// Values the backup keeps in the store.
const (
	valueAccountData = "sicher.machine.account_data:"         // + event type: the content
	valueBackupSeen  = "sicher.machine.backup_seen"           // the last trusted version and its public key
	valueBackupAuth  = "sicher.machine.backup_authenticated:" // + room|session: "1" for an MSC4048-authenticated restore
)

// Errors of the backup lifecycle.
var (
	// ErrBackupDisabled reports a backup operation while no trusted backup version with a key
	// we hold is enabled.
	ErrBackupDisabled = errors.New("machine: key backup is not enabled")
	// ErrUntrustedBackup reports a backup version whose auth_data is not signed by our master
	// key or one of our verified devices, or whose algorithm is not
	// m.megolm_backup.v1.curve25519-aes-sha2: backup is disabled and nothing is uploaded to it
	// or restored from it.
	ErrUntrustedBackup = errors.New("machine: backup version not signed by a key we trust")
	// ErrBackupKeyMissing reports a trusted backup version whose public key is not the one of
	// the backup key we hold (another device replaced the backup): backup stays disabled until
	// the new key arrives (Recover, or RequestSecret(SecretBackup)).
	ErrBackupKeyMissing = errors.New("machine: we do not hold the key of the current backup version")
)

type backupSeen struct {
	Version   string `json:"version"`
	PublicKey string `json:"public_key"`
}

// backupKey returns the backup decryption key kept as a store secret.
func (m *Machine) backupKey(ctx context.Context, tx store.Tx) (*keybackup.DecryptionKey, error) {
	v, err := tx.Secret(ctx, SecretBackup)
	if err != nil {
		return nil, err
	}
	b, err := decodeKey32(string(v))
	if err != nil {
		return nil, fmt.Errorf("machine: secret %s: %w", SecretBackup, store.ErrCorrupt)
	}
	defer clear(b)
	return keybackup.NewDecryptionKey(b)
}

// activeBackup returns the enabled backup version and its key, or ErrBackupDisabled.
func (m *Machine) activeBackup(ctx context.Context, tx store.Tx) (string, *keybackup.DecryptionKey, error) {
	version, err := tx.BackupVersion(ctx)
	if errors.Is(err, store.ErrNotFound) || (err == nil && version == "") {
		return "", nil, ErrBackupDisabled
	}
	if err != nil {
		return "", nil, err
	}
	bk, err := m.backupKey(ctx, tx)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrBackupDisabled
	}
	if err != nil {
		return "", nil, err
	}
	var seen backupSeen
	if b, err := tx.Value(ctx, valueBackupSeen); err != nil || json.Unmarshal(b, &seen) != nil ||
		seen.Version != version || seen.PublicKey != bk.PublicKey().String() {
		return "", nil, ErrBackupDisabled
	}
	return version, bk, nil
}

// enableBackup makes version, with the public key of our backup key, the backup sessions go to.
func (m *Machine) enableBackup(ctx context.Context, tx store.Tx, version string, _ json.RawMessage) error {
	bk, err := m.backupKey(ctx, tx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(backupSeen{Version: version, PublicKey: bk.PublicKey().String()})
	if err := tx.PutValue(ctx, valueBackupSeen, b); err != nil {
		return err
	}
	return tx.SetBackupVersion(ctx, version)
}

// disableBackup stops uploads (a version we do not trust or hold the key of).
func (m *Machine) disableBackup(ctx context.Context, tx store.Tx) error {
	if v, err := tx.BackupVersion(ctx); errors.Is(err, store.ErrNotFound) || (err == nil && v == "") {
		return nil
	}
	return tx.SetBackupVersion(ctx, "")
}

// maybeBackUp queues the upload of the next batch of sessions not yet backed up.
func (m *Machine) maybeBackUp(ctx context.Context, tx store.Tx) error {
	version, bk, err := m.activeBackup(ctx, tx)
	if errors.Is(err, ErrBackupDisabled) {
		return nil
	}
	if err != nil {
		return err
	}
	recs, err := tx.SessionsToBackUp(ctx, backupBatch)
	if err != nil || len(recs) == 0 {
		return err
	}
	mac := bk.MACKey()
	rooms := map[string]map[string]json.RawMessage{}
	for _, rec := range recs {
		entry, err := m.backupEntry(rec, bk.PublicKey(), mac)
		if err != nil {
			return err
		}
		if rooms[rec.RoomID] == nil {
			rooms[rec.RoomID] = map[string]json.RawMessage{}
		}
		rooms[rec.RoomID][rec.SessionID] = entry
	}
	body := map[string]map[string]any{"rooms": {}}
	for room, ss := range rooms {
		body["rooms"][room] = map[string]any{"sessions": ss}
	}
	return m.queueWith(ctx, tx, KindBackupUpload, requestParams{Version: version}, body)
}

// backupEntry encrypts a stored inbound session as a KeyBackupData entry with an MSC4048 MAC.
func (m *Machine) backupEntry(rec *store.InboundGroupSession, pub key.Curve25519, mac *keybackup.MACKey) (json.RawMessage, error) {
	info, err := sessionInfo(rec)
	if err != nil {
		return nil, err
	}
	sess, err := megolm.UnpickleInboundSession(&m.pickleKey, string(rec.State))
	if err != nil {
		return nil, err
	}
	e := megolm.NewExportedSession(sess.ExportAtFirstKnownIndex(), rec.RoomID, info.SenderKey, info.ClaimedEd25519)
	e.ForwardingCurve25519KeyChain = append([]string{}, rec.ForwardingChain...)
	e.SharedHistory = rec.SharedHistory
	enc, err := keybackup.EncryptSessionFrom(m.randReader(), pub, e)
	if err != nil {
		return nil, err
	}
	sd, err := mac.SignSessionData(enc, m.owner.UserID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"first_message_index": sess.FirstKnownIndex(),
		"forwarded_count":     len(rec.ForwardingChain),
		"is_verified":         rec.Provenance == store.FromOlm,
		"session_data":        sd,
	})
}

// receiveBackupUpload marks the sessions of a confirmed upload backed up, if the version is
// still the current one.
func (m *Machine) receiveBackupUpload(ctx context.Context, tx store.Tx, r Request) error {
	version, err := tx.BackupVersion(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if version != r.Version {
		return nil
	}
	var body struct {
		Rooms map[string]struct {
			Sessions map[string]json.RawMessage `json:"sessions"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return fmt.Errorf("machine: stored backup upload: %w", store.ErrCorrupt)
	}
	for room, rs := range body.Rooms {
		for sid := range rs.Sessions {
			if err := tx.MarkBackedUp(ctx, room, sid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// CheckBackupVersion queues a GET /room_keys/version. Its confirmation checks the version's
// auth_data (signed by our master key or one of our verified devices) and, when it names a new
// version with the key we hold, switches to it: every session is uploaded again. Call it after
// Recover (it does), periodically, and when an upload failed with M_WRONG_ROOM_KEYS_VERSION
// (see HandleWrongBackupVersion). A version the machine does not trust disables backup, and
// MarkRequestSent returns ErrUntrustedBackup or ErrBackupKeyMissing.
func (m *Machine) CheckBackupVersion(ctx context.Context) error {
	return m.update(ctx, func(tx store.Tx) error { return m.queueVersionGet(ctx, tx) })
}

func (m *Machine) queueVersionGet(ctx context.Context, tx store.Tx) error {
	reqs, err := tx.OutgoingRequests(ctx)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if strings.HasPrefix(r.Type, string(KindBackupVersionGet)) {
			return nil
		}
	}
	return m.queueWith(ctx, tx, KindBackupVersionGet, requestParams{}, nil)
}

// HandleWrongBackupVersion is for a backup request (KindBackupUpload, KindBackupDownload,
// KindBackupDownloadKeys) the server refused with 403 M_WRONG_ROOM_KEYS_VERSION, or 404 for a
// deleted backup: another device replaced the backup. It drops the request and queues a
// CheckBackupVersion; a new trusted version with our key gets every session uploaded again.
// For a KindBackupVersionGet answered 404 M_NOT_FOUND (the user has no backup any more) it
// drops the request and disables backup. An id the machine does not have gives
// ErrUnknownRequest.
func (m *Machine) HandleWrongBackupVersion(ctx context.Context, id string) error {
	return m.update(ctx, func(tx store.Tx) error {
		reqs, err := tx.OutgoingRequests(ctx)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if r.ID != id {
				continue
			}
			kind := m.fromStored(r).Kind
			switch kind {
			case KindBackupUpload, KindBackupDownload, KindBackupDownloadKeys, KindBackupVersionGet:
			default:
				return fmt.Errorf("machine: request %q is not a backup request", id)
			}
			if err := tx.DeleteOutgoingRequest(ctx, id); err != nil {
				return err
			}
			if kind == KindBackupVersionGet {
				return m.disableBackup(ctx, tx) // 404: the server has no backup
			}
			return m.queueVersionGet(ctx, tx)
		}
		return fmt.Errorf("%w: %q", ErrUnknownRequest, id)
	})
}

// receiveBackupVersion checks the answer to GET /room_keys/version.
func (m *Machine) receiveBackupVersion(ctx context.Context, tx store.Tx, response []byte) (refused, err error) {
	var resp struct {
		Algorithm string          `json:"algorithm"`
		AuthData  json.RawMessage `json:"auth_data"`
		Version   string          `json:"version"`
	}
	if err := decodeStrict(response, &resp); err != nil {
		return nil, err
	}
	var ad keybackup.AuthData
	if resp.Version == "" || json.Unmarshal(resp.AuthData, &ad) != nil {
		return nil, fmt.Errorf("%w: backup version", ErrMalformedResponse)
	}
	if resp.Algorithm != keybackup.Algorithm {
		return fmt.Errorf("%w: algorithm %q", ErrUntrustedBackup, resp.Algorithm), m.disableBackup(ctx, tx)
	}
	if err := m.checkAuthData(ctx, tx, resp.AuthData); err != nil {
		if errors.Is(err, ErrUntrustedBackup) {
			return err, m.disableBackup(ctx, tx)
		}
		return nil, err
	}
	b, _ := json.Marshal(backupSeen{Version: resp.Version, PublicKey: ad.PublicKey.String()})
	if err := tx.PutValue(ctx, valueBackupSeen, b); err != nil {
		return nil, err
	}
	bk, err := m.backupKey(ctx, tx)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !bk.Matches(ad)) {
		return fmt.Errorf("%w: version %s", ErrBackupKeyMissing, resp.Version), m.disableBackup(ctx, tx)
	}
	if err != nil {
		return nil, err
	}
	return nil, tx.SetBackupVersion(ctx, resp.Version)
}

// checkAuthData verifies that a backup's auth_data carries a valid signature by our master key
// (one we hold the private key of) or by one of our own devices that we verified or that is
// cross-signed under a master key we trust (ownDeviceTrusted).
func (m *Machine) checkAuthData(ctx context.Context, tx store.Tx, authData json.RawMessage) error {
	var ad struct {
		Signatures map[string]map[string]json.RawMessage `json:"signatures"`
	}
	if err := jsonstrict.Unmarshal(authData, &ad); err != nil {
		return fmt.Errorf("%w: auth_data: %v", ErrMalformedResponse, err)
	}
	u := m.owner.UserID
	var master *key.Ed25519
	if cs, err := m.loadCrossSigning(ctx, tx); err == nil {
		pub := cs.masterKey.Public()
		master = &pub
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	devs, err := m.devices(ctx, tx, u)
	if err != nil {
		return err
	}
	for keyID := range ad.Signatures[u] {
		name, ok := strings.CutPrefix(keyID, "ed25519:")
		if !ok {
			continue
		}
		switch {
		case master != nil && name == master.String():
			if signing.Verify(authData, u, name, *master) == nil {
				return nil
			}
		case name == m.owner.DeviceID:
			if signing.Verify(authData, u, name, m.ed) == nil {
				return nil
			}
		default:
			for _, d := range devs {
				if d.Keys.DeviceID != name || signing.Verify(authData, u, name, d.Keys.Ed25519) != nil {
					continue
				}
				if ok, err := m.ownDeviceTrusted(ctx, tx, &d); err != nil || ok {
					return err
				}
			}
		}
	}
	return ErrUntrustedBackup
}
