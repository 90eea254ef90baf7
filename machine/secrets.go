package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/store"
)

// Secret sharing between our own devices (spec "Sharing",
// https://spec.matrix.org/v1.19/client-server-api/#sharing): m.secret.request asks our other
// devices for a secret; a verified device answers with an Olm-encrypted m.secret.send. Only the
// cross-signing private keys and the backup key are shared.

const (
	typeSecretRequest = "m.secret.request"
	typeSecretSend    = "m.secret.send"

	valueSecretRequest = "sicher.machine.secret_request:" // + request id: the secret's name
)

// Errors of secret sharing.
var (
	// ErrUnknownSecret reports a RequestSecret for a secret the machine does not share.
	ErrUnknownSecret = errors.New("machine: not a secret the machine shares")
	// ErrUntrustedSecretSender reports an m.secret.send not from our own verified device: it
	// is dropped.
	ErrUntrustedSecretSender = errors.New("machine: secret not from our own verified device")
	// ErrUnrequestedSecret reports an m.secret.send for a request we did not make, or made
	// and already answered: it is dropped.
	ErrUnrequestedSecret = errors.New("machine: secret we did not request")
)

type secretRequestContent struct {
	Name               string `json:"name,omitempty"`
	Action             string `json:"action"`
	RequestingDeviceID string `json:"requesting_device_id"`
	RequestID          string `json:"request_id"`
}

type secretSendContent struct {
	RequestID string `json:"request_id"`
	Secret    string `json:"secret"`
}

// RequestSecret asks our other devices for a secret (SecretMaster, SecretSelfSigning,
// SecretUserSigning or SecretBackup; ErrUnknownSecret otherwise) with an m.secret.request to
// all of them, and returns the request id. The answer is accepted only from our own verified
// devices, only for this request, and only if the key matches the published public key (the
// cross-signing keys from our identity, the backup key from the current backup version); a
// received backup key enables backup. An answer refused shows in ReceiveSync's ToDeviceEvent.Err
// as ErrUntrustedSecretSender (not our own verified device), ErrUnrequestedSecret (no such
// request pending) or ErrSecretMismatch; a request we refuse to answer as ErrUntrustedRequester.
func (m *Machine) RequestSecret(ctx context.Context, name string) (string, error) {
	if !slices.Contains(secretNames, name) {
		return "", fmt.Errorf("%w: %q", ErrUnknownSecret, name)
	}
	var id string
	err := m.update(ctx, func(tx store.Tx) error {
		var err error
		if id, err = m.newID(); err != nil {
			return err
		}
		c, err := json.Marshal(secretRequestContent{Name: name, Action: "request", RequestingDeviceID: m.owner.DeviceID, RequestID: id})
		if err != nil {
			return err
		}
		if err := tx.PutValue(ctx, valueSecretRequest+id, []byte(name)); err != nil {
			return err
		}
		return m.queue(ctx, tx, KindToDevice, typeSecretRequest, toDeviceBody{map[string]map[string]json.RawMessage{
			m.owner.UserID: {"*": c}}})
	})
	return id, err
}

// receiveSecretRequest answers an m.secret.request from one of our own verified devices with
// the secret, Olm-encrypted to that device. Requests for other secrets, for secrets we do not
// hold, and cancellations are ignored; a request from another user or an unverified device
// gives ErrUntrustedRequester.
func (m *Machine) receiveSecretRequest(ctx context.Context, sender string, content json.RawMessage) error {
	var req secretRequestContent
	if err := jsonstrict.Unmarshal(content, &req); err != nil || req.RequestID == "" || req.RequestingDeviceID == "" {
		return fmt.Errorf("%w: %s", event.ErrMalformed, typeSecretRequest)
	}
	if req.Action != "request" || req.RequestingDeviceID == m.owner.DeviceID || !slices.Contains(secretNames, req.Name) {
		return nil
	}
	if sender != m.owner.UserID {
		return ErrUntrustedRequester
	}
	return m.update(ctx, func(tx store.Tx) error {
		dev, err := m.trustedRequester(ctx, tx, req.RequestingDeviceID)
		if err != nil {
			return err
		}
		v, err := tx.Secret(ctx, req.Name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		c, err := json.Marshal(secretSendContent{RequestID: req.RequestID, Secret: string(v)})
		if err != nil {
			return err
		}
		defer clear(c)
		acct, err := m.loadAccount(ctx, tx)
		if err != nil {
			return err
		}
		msgs, err := m.encryptForDevices(ctx, tx, acct, []*Device{dev}, typeSecretSend, c)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return fmt.Errorf("machine: no Olm session with %s to send a secret", req.RequestingDeviceID)
		}
		return m.queue(ctx, tx, KindToDevice, typeEncrypted, toDeviceBody{msgs})
	})
}

// receiveSecretSend stores a secret an m.secret.send brought, inside the decrypting
// transaction, if it came from our own verified device, answers a request we made, and matches
// the published public key.
func (m *Machine) receiveSecretSend(ctx context.Context, tx store.Tx, ev *event.OlmEvent, dev *Device) error {
	if ev.Sender != m.owner.UserID {
		return drop(fmt.Errorf("%w: %s", ErrUntrustedSecretSender, ev.Sender))
	}
	if ok, err := m.ownDeviceTrusted(ctx, tx, dev); err != nil {
		return err
	} else if !ok {
		return drop(fmt.Errorf("%w: %s", ErrUntrustedSecretSender, ev.Sender))
	}
	var c secretSendContent
	if err := jsonstrict.Unmarshal(ev.SecretContent(), &c); err != nil || c.RequestID == "" {
		return drop(fmt.Errorf("%w: %s", event.ErrMalformed, typeSecretSend))
	}
	name, err := tx.Value(ctx, valueSecretRequest+c.RequestID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(name) == 0) {
		return drop(ErrUnrequestedSecret)
	}
	if err != nil {
		return err
	}
	if string(name) == SecretBackup {
		// Only a backup key of a version we saw and trusted is checked against something.
		if b, err := tx.Value(ctx, valueBackupSeen); err != nil || len(b) == 0 {
			return drop(fmt.Errorf("%w: no trusted backup version to check the key against", ErrSecretMismatch))
		}
	}
	if err := m.checkSecret(ctx, tx, string(name), c.Secret); err != nil {
		var d *dropped
		if errors.Is(err, ErrSecretMismatch) || errors.Is(err, ErrIdentityUnknown) || errors.As(err, &d) {
			return drop(err)
		}
		return err
	}
	if err := tx.PutSecret(ctx, string(name), store.Secret(c.Secret)); err != nil {
		return err
	}
	if err := tx.PutValue(ctx, valueSecretRequest+c.RequestID, nil); err != nil {
		return err
	}
	if string(name) != SecretBackup {
		return nil
	}
	// The backup key of the version we saw and trusted: enable backup.
	var seen backupSeen
	if b, err := tx.Value(ctx, valueBackupSeen); err == nil && json.Unmarshal(b, &seen) == nil && seen.Version != "" {
		return tx.SetBackupVersion(ctx, seen.Version)
	}
	return m.queueVersionGet(ctx, tx)
}

// trustedRequester returns our own device deviceID if ownDeviceTrusted trusts it, and
// ErrUntrustedRequester otherwise: the rule for answering key and secret requests.
func (m *Machine) trustedRequester(ctx context.Context, tx store.Tx, deviceID string) (*Device, error) {
	devs, err := m.devices(ctx, tx, m.owner.UserID)
	if err != nil {
		return nil, err
	}
	var dev *Device
	for i := range devs {
		if devs[i].Keys.DeviceID == deviceID {
			dev = &devs[i]
		}
	}
	if ok, err := m.ownDeviceTrusted(ctx, tx, dev); err != nil {
		return nil, err
	} else if !ok {
		return nil, ErrUntrustedRequester
	}
	return dev, nil
}

// ownDeviceTrusted reports whether dev, a device of our own user, may hand us a secret or be
// sent one: we verified it ourselves (SetDeviceTrust, a verification flow), or it is
// cross-signed under a master key this device trusts (ownMasterTrusted). Cross-signed alone is
// not enough: on a new device the master key is whatever the server served, and a server that
// forged it could sign a device of its own and hand us cross-signing keys matching its forgery
// (spec "Sharing": secrets go only between devices that verified each other).
func (m *Machine) ownDeviceTrusted(ctx context.Context, tx store.Tx, dev *Device) (bool, error) {
	if dev == nil || !dev.Verified || dev.Blacklisted {
		return false, nil
	}
	if valueIs(ctx, tx, valueTrust+m.owner.UserID+"|"+dev.Keys.DeviceID, string(TrustVerified)) {
		return true, nil
	}
	return m.ownMasterTrusted(ctx, tx)
}
