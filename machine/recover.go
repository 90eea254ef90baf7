package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// Recovery on a new device: secret storage from the account data, the cross-signing keys and
// the backup key out of it, our device signed, and room keys restored from the backup.

// accountDataWanted reports whether the machine keeps an account data event type: the secret
// storage keys and the secrets it reads.
func accountDataWanted(t string) bool {
	return strings.HasPrefix(t, secretstorage.KeyEventTypePrefix) || t == secretstorage.DefaultKeyEventType ||
		strings.HasPrefix(t, "m.cross_signing.") || t == SecretBackup
}

// receiveAccountData keeps the account data events Recover reads (the /sync
// account_data.events, each {type, content}); others are ignored, and so are events that are
// not JSON objects with a type.
func (m *Machine) receiveAccountData(ctx context.Context, tx store.Tx, events []json.RawMessage) error {
	for _, raw := range events {
		var ev struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}
		if jsonstrict.Unmarshal(raw, &ev) != nil || !accountDataWanted(ev.Type) || len(ev.Content) == 0 {
			continue
		}
		if err := tx.PutValue(ctx, valueAccountData+ev.Type, ev.Content); err != nil {
			return err
		}
	}
	return nil
}

func accountData(ctx context.Context, tx store.Tx, evType string) ([]byte, error) {
	b, err := tx.Value(ctx, valueAccountData+evType)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoSecretStorage, evType)
	}
	return b, err
}

// Recover opens secret storage with what the user typed (the recovery key or the passphrase)
// on a device of a user who ran Bootstrap elsewhere. It needs the account data (pass /sync's
// account_data.events in SyncChanges.AccountData) and our own keys query answered. It decrypts
// the three cross-signing private keys and the backup key, checks each cross-signing key
// against the published public key, keeps the four as store secrets, queues the signature
// upload that cross-signs this device, and queues CheckBackupVersion, whose confirmation checks
// the backup's auth_data and enables backup. Restore room keys then with RestoreBackup.
//
// Errors: ErrNoSecretStorage, ErrIdentityUnknown, ErrSecretMismatch, a wrong key or passphrase
// (matching secretstorage.ErrAuthentication), a mistyped recovery key
// (secretstorage.ErrBadRecoveryKey), and the store's. Nothing changes on error.
func (m *Machine) Recover(ctx context.Context, input string) error {
	var desc secretstorage.KeyDescription
	var keyID string
	// m.pbkdf2 is slow: open the key before the transaction.
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		b, err := accountData(ctx, tx, secretstorage.DefaultKeyEventType)
		if err != nil {
			return err
		}
		var def struct {
			Key string `json:"key"`
		}
		if err := jsonstrict.Unmarshal(b, &def); err != nil || def.Key == "" {
			return fmt.Errorf("%w: %s", ErrNoSecretStorage, secretstorage.DefaultKeyEventType)
		}
		keyID = def.Key
		if b, err = accountData(ctx, tx, secretstorage.KeyEventTypePrefix+keyID); err != nil {
			return err
		}
		return json.Unmarshal(b, &desc)
	})
	if err != nil {
		return err
	}
	k, err := secretstorage.KeyFromDescription(input, &desc, nil)
	if err != nil {
		return fmt.Errorf("machine: secret storage key: %w", err)
	}
	return m.update(ctx, func(tx store.Tx) error {
		secrets := map[string]string{}
		for _, name := range secretNames {
			b, err := accountData(ctx, tx, name)
			if err != nil {
				if name == SecretBackup {
					continue // cross-signing without a backup
				}
				return err
			}
			var c secretstorage.SecretContent
			if err := json.Unmarshal(b, &c); err != nil {
				return fmt.Errorf("machine: %s: %w", name, err)
			}
			enc, ok := c.Encrypted[keyID]
			if !ok {
				return fmt.Errorf("%w: %s is not stored under the default key", ErrNoSecretStorage, name)
			}
			plain, err := k.Decrypt(name, &enc)
			if err != nil {
				return fmt.Errorf("machine: secret %s: %w", name, err)
			}
			secrets[name] = string(plain)
			clear(plain)
		}
		for name, v := range secrets {
			if err := m.checkSecret(ctx, tx, name, v); err != nil {
				return err
			}
		}
		for name, v := range secrets {
			if err := tx.PutSecret(ctx, name, store.Secret(v)); err != nil {
				return err
			}
		}
		if err := m.queueOwnSignatures(ctx, tx); err != nil {
			return err
		}
		if err := markOutdated(ctx, tx, []string{m.owner.UserID}); err != nil {
			return err
		}
		if _, ok := secrets[SecretBackup]; ok {
			return m.queueVersionGet(ctx, tx)
		}
		return nil
	})
}

// checkSecret checks a private key against what is published: a cross-signing key against our
// identity from the keys query, the backup key against the last trusted backup version (if one
// was seen). A key that is not 32 bytes of base64 or does not match gives ErrSecretMismatch.
func (m *Machine) checkSecret(ctx context.Context, tx store.Tx, name, value string) error {
	b, err := decodeKey32(value)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSecretMismatch, name, err)
	}
	defer clear(b)
	if name == SecretBackup {
		bk, err := keybackup.NewDecryptionKey(b)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrSecretMismatch, name, err)
		}
		var seen backupSeen
		if v, err := tx.Value(ctx, valueBackupSeen); err == nil && json.Unmarshal(v, &seen) == nil &&
			seen.PublicKey != "" && seen.PublicKey != bk.PublicKey().String() {
			return fmt.Errorf("%w: %s", ErrSecretMismatch, name)
		}
		return nil
	}
	id, _, err := m.loadIdentity(ctx, tx, m.owner.UserID)
	if err != nil {
		return err
	}
	published := map[string]json.RawMessage{SecretMaster: id.Master, SecretSelfSigning: id.SelfSigning, SecretUserSigning: id.UserSigning}[name]
	if published == nil {
		return fmt.Errorf("%w: %s", ErrIdentityUnknown, name)
	}
	pk, err := signing.ParseCrossSigningKey(published)
	if err != nil {
		return fmt.Errorf("machine: identity of %s: %w", m.owner.UserID, store.ErrCorrupt)
	}
	sk, err := key.NewSigningKey(b)
	if err != nil || sk.Public() != pk.Key {
		return fmt.Errorf("%w: %s", ErrSecretMismatch, name)
	}
	return nil
}

// RestoreBackup queues the download of room keys from the enabled backup: all of them (roomID
// and sessionID empty), one room's (sessionID empty) or one session. Hand the response to
// MarkBackupKeysReceived for progress reports, or to MarkRequestSent. Restored sessions have
// the provenance store.FromBackup (grey shield). ErrBackupDisabled when backup is not enabled.
//
// A room key missing at decryption (FailureMissingSession) is not fetched automatically: call
// RestoreBackup(ctx, roomID, sessionID) for it, and decrypt the event again once the request
// is confirmed. The application decides when a download is worth it (a visible event, not
// every event of a scroll-back).
func (m *Machine) RestoreBackup(ctx context.Context, roomID, sessionID string) error {
	return m.update(ctx, func(tx store.Tx) error {
		version, _, err := m.activeBackup(ctx, tx)
		if err != nil {
			return err
		}
		if sessionID != "" {
			return m.queueWith(ctx, tx, KindBackupDownload, requestParams{RoomID: roomID, SessionID: sessionID, Version: version}, nil)
		}
		return m.queueWith(ctx, tx, KindBackupDownloadKeys, requestParams{RoomID: roomID, Version: version}, nil)
	})
}

// RestoreResult counts what a backup download restored.
type RestoreResult struct {
	// Total is the number of entries in the download, Restored the sessions stored, Failed the
	// entries that did not decrypt or contradict a session we hold.
	Total, Restored, Failed int
	// Authenticated counts the restored entries with a valid MSC4048 MAC (see
	// BackupAuthenticated).
	Authenticated int
}

// MarkBackupKeysReceived is MarkRequestSent for a KindBackupDownloadKeys request, with a
// progress report: progress (may be nil) is called with the sessions done and the total after
// each batch of sessions committed. Entries are decrypted and stored in batches, each in its
// own transaction, so a large backup does not hold one long transaction; the request is removed
// after the last batch (an interrupted restore is repeated, harmlessly). Errors:
// ErrUnknownRequest, ErrMalformedResponse, ErrBackupDisabled (backup was disabled since the
// request was made: the request is dropped), and the store's.
func (m *Machine) MarkBackupKeysReceived(ctx context.Context, id string, response []byte, progress func(restored, total int)) (RestoreResult, error) {
	var res RestoreResult
	done, err := m.markRestoreResult(ctx, id, response, progress, &res)
	if !done && err == nil {
		return res, fmt.Errorf("%w: %q is not a backup download", ErrUnknownRequest, id)
	}
	return res, err
}

// markRestore is MarkRequestSent's path for KindBackupDownloadKeys; done says the request was
// one.
func (m *Machine) markRestore(ctx context.Context, id string, response []byte, progress func(int, int)) (bool, error) {
	var res RestoreResult
	return m.markRestoreResult(ctx, id, response, progress, &res)
}

type backupEntryRef struct {
	room, session string
	raw           json.RawMessage
}

func (m *Machine) markRestoreResult(ctx context.Context, id string, response []byte, progress func(int, int), res *RestoreResult) (bool, error) {
	var req *Request
	var bk *keybackup.DecryptionKey
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		reqs, err := tx.OutgoingRequests(ctx)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if r.ID == id {
				if rr := m.fromStored(r); rr.Kind == KindBackupDownloadKeys {
					req = &rr
				}
			}
		}
		if req == nil {
			return nil
		}
		_, bk, err = m.activeBackup(ctx, tx)
		return err
	})
	if errors.Is(err, ErrBackupDisabled) {
		// Backup was disabled since the request was made: it cannot be restored any more.
		if derr := m.update(ctx, func(tx store.Tx) error { return tx.DeleteOutgoingRequest(ctx, id) }); derr != nil {
			return true, derr
		}
		return true, err
	}
	if req == nil || err != nil {
		return req != nil, err
	}
	var entries []backupEntryRef
	type roomSessions struct {
		Sessions map[string]json.RawMessage `json:"sessions"`
	}
	if req.RoomID != "" {
		var rs roomSessions
		if err := decodeStrict(response, &rs); err != nil {
			return true, err
		}
		for _, sid := range sortedKeys(rs.Sessions) {
			entries = append(entries, backupEntryRef{req.RoomID, sid, rs.Sessions[sid]})
		}
	} else {
		var all struct {
			Rooms map[string]roomSessions `json:"rooms"`
		}
		if err := decodeStrict(response, &all); err != nil {
			return true, err
		}
		for _, room := range sortedKeys(all.Rooms) {
			ss := all.Rooms[room].Sessions
			for _, sid := range sortedKeys(ss) {
				entries = append(entries, backupEntryRef{room, sid, ss[sid]})
			}
		}
	}
	res.Total = len(entries)
	mac := bk.MACKey()
	for start := 0; start < len(entries) || start == 0; start += backupBatch {
		batch := entries[start:min(start+backupBatch, len(entries))]
		last := start+backupBatch >= len(entries)
		var r RestoreResult
		err := m.update(ctx, func(tx store.Tx) error {
			r = RestoreResult{}
			for _, e := range batch {
				auth, err := m.restoreEntry(ctx, tx, bk, mac, e.room, e.session, e.raw)
				var d *dropped
				switch {
				case errors.As(err, &d):
					r.Failed++
					m.log.Info("machine: backup entry not restored", "room", e.room, "session", e.session, "err", d.err)
				case err != nil:
					return err
				default:
					r.Restored++
					if auth {
						r.Authenticated++
					}
				}
			}
			if last {
				return tx.DeleteOutgoingRequest(ctx, id)
			}
			return nil
		})
		if err != nil {
			return true, err
		}
		res.Restored += r.Restored
		res.Failed += r.Failed
		res.Authenticated += r.Authenticated
		if progress != nil {
			progress(res.Restored+res.Failed, res.Total)
		}
		if last {
			break
		}
	}
	return true, nil
}

// receiveBackupSession restores the one session of a KindBackupDownload.
func (m *Machine) receiveBackupSession(ctx context.Context, tx store.Tx, r Request, response []byte) (refused, err error) {
	_, bk, err := m.activeBackup(ctx, tx)
	if err != nil {
		return err, nil
	}
	_, err = m.restoreEntry(ctx, tx, bk, bk.MACKey(), r.RoomID, r.SessionID, response)
	var d *dropped
	if errors.As(err, &d) {
		return d.err, nil
	}
	return nil, err
}

// restoreEntry decrypts one KeyBackupData entry filed under room and session and stores the
// session (provenance FromBackup, marked backed up). A per-entry failure is a *dropped error.
// An entry with a valid MSC4048 MAC by our user is recorded as authenticated.
func (m *Machine) restoreEntry(ctx context.Context, tx store.Tx, bk *keybackup.DecryptionKey, mac *keybackup.MACKey, room, session string, raw json.RawMessage) (bool, error) {
	var entry struct {
		SessionData json.RawMessage `json:"session_data"`
	}
	if err := jsonstrict.Unmarshal(raw, &entry); err != nil || len(entry.SessionData) == 0 {
		return false, drop(fmt.Errorf("%w: backup entry", ErrMalformedResponse))
	}
	d, err := mac.VerifySessionData(entry.SessionData, m.owner.UserID)
	authenticated := err == nil
	if err != nil && !errors.Is(err, keybackup.ErrNotAuthenticated) {
		return false, drop(err)
	}
	e, err := bk.DecryptSession(d)
	if err != nil {
		return false, drop(err)
	}
	s, err := e.InboundSession()
	if err != nil {
		return false, drop(err)
	}
	if s.SessionID().String() != session {
		return false, drop(fmt.Errorf("%w: backup entry filed under another session id", keybackup.ErrMalformed))
	}
	info := event.SessionInfo{RoomID: room, SessionID: s.SessionID(), SenderKey: e.SenderKey, Provenance: event.Backup,
		SharedHistory: e.SharedHistory}
	if ed, ok := e.SenderClaimedKeys["ed25519"]; ok {
		if info.ClaimedEd25519, err = key.ParseEd25519(ed); err != nil {
			return false, drop(err)
		}
	}
	for _, c := range e.ForwardingCurve25519KeyChain {
		k, err := key.ParseCurve25519(c)
		if err != nil {
			return false, drop(err)
		}
		info.ForwardingChain = append(info.ForwardingChain, k)
	}
	if err := m.storeInbound(ctx, tx, info, s); err != nil {
		return false, err
	}
	rec, err := tx.InboundGroupSession(ctx, room, session)
	if err != nil {
		return false, err
	}
	// The backup holds this copy: no need to upload it, unless ours reaches further back.
	if rec.FirstKnownIndex >= s.FirstKnownIndex() {
		if err := tx.MarkBackedUp(ctx, room, session); err != nil {
			return false, err
		}
	}
	if authenticated {
		if err := tx.PutValue(ctx, valueBackupAuth+room+"|"+session, []byte("1")); err != nil {
			return false, err
		}
	}
	return authenticated, nil
}

// BackupAuthenticated reports whether a session was restored from a backup entry with a valid
// MSC4048 MAC under our backup key: an entry written by a holder of the backup key, not merely
// of its public key. The session's EncryptionInfo still shows the backup provenance.
func (m *Machine) BackupAuthenticated(ctx context.Context, roomID, sessionID string) (bool, error) {
	var ok bool
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		ok = valueIs(ctx, tx, valueBackupAuth+roomID+"|"+sessionID, "1")
		return nil
	})
	return ok, err
}
