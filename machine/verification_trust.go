package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// What a successful verification records and signs (spec "Cross-signing",
// https://spec.matrix.org/v1.19/client-server-api/#cross-signing):
//
//   - a device of ours: it is marked verified, and our self-signing key signs its device keys;
//   - another user's master key: the user is marked verified, and our user-signing key signs it;
//   - our own master key (verified from another of our devices): it is marked verified, and our
//     device key signs it;
//   - another user's device: it is marked verified (SetDeviceTrust), nothing is signed.
//
// The private cross-signing keys are the store secrets named as in secret storage
// (m.cross_signing.master, m.cross_signing.self_signing, m.cross_signing.user_signing), each
// the unpadded base64 of the 32-byte Ed25519 seed. A missing one leaves the verification
// local, and VerificationResult.NotSigned says so.

// succeed records what the flow verified, queues the signatures and sends done.
func (m *Machine) succeed(ctx context.Context, tx store.Tx, f *flow, res *VerificationResult) error {
	upload := map[string]map[string]json.RawMessage{}
	var notSigned []error
	if res.DeviceID != "" {
		if err := tx.PutValue(ctx, valueTrust+res.UserID+"|"+res.DeviceID, []byte(TrustVerified)); err != nil {
			return err
		}
		if res.UserID == m.owner.UserID {
			obj, err := m.signOwnDevice(ctx, tx, res.DeviceID)
			if err := collect(upload, res.UserID, res.DeviceID, obj, err, &notSigned); err != nil {
				return err
			}
		}
	}
	if res.MasterKey != "" {
		if err := tx.PutValue(ctx, valueVerifiedUser+f.OtherUser, []byte(res.MasterKey)); err != nil {
			return err
		}
		obj, err := m.signMaster(ctx, tx, f.OtherUser)
		if err := collect(upload, f.OtherUser, res.MasterKey, obj, err, &notSigned); err != nil {
			return err
		}
	}
	if len(upload) > 0 {
		if err := m.queue(ctx, tx, KindSignatureUpload, "", upload); err != nil {
			return err
		}
		res.Signed = true
	}
	if len(notSigned) > 0 {
		res.NotSigned = errors.Join(notSigned...).Error()
	}
	f.Result = res
	f.State = VerificationWaitingDone
	if f.DoneReceived {
		f.State = VerificationDone
	}
	m.log.Info("machine: verification succeeded", "flow", f.ID, "user", f.OtherUser, "device", res.DeviceID,
		"master_key", res.MasterKey, "signed", res.Signed)
	if err := tx.DeleteSecret(ctx, secretSASKey+f.ID); err != nil {
		return err
	}
	return m.sendFlow(ctx, tx, f, typeVerificationDone, map[string]any{})
}

// collect adds a signed object to the upload, or the reason it could not be signed.
func collect(upload map[string]map[string]json.RawMessage, user, id string, obj []byte, err error, notSigned *[]error) error {
	switch {
	case errors.Is(err, ErrNoCrossSigning):
		*notSigned = append(*notSigned, err)
		return nil
	case err != nil:
		return err
	}
	if upload[user] == nil {
		upload[user] = map[string]json.RawMessage{}
	}
	upload[user][id] = obj
	return nil
}

// crossSigningKey loads one of our private cross-signing keys and checks it against the public
// key our user publishes; ErrNoCrossSigning when it is missing or does not match.
func (m *Machine) crossSigningKey(ctx context.Context, tx store.Tx, name string, public json.RawMessage) (*key.SigningKey, error) {
	seed, err := tx.Secret(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no %s private key in the store", ErrNoCrossSigning, name)
	}
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if len(seed) > 44 || b64.DecodeInto(raw, string(seed)) != nil {
		return nil, fmt.Errorf("machine: secret %s: %w", name, store.ErrCorrupt)
	}
	sk, err := key.NewSigningKey(raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("machine: secret %s: %w", name, store.ErrCorrupt)
	}
	if public == nil {
		return nil, fmt.Errorf("%w: our %s public key is not known", ErrNoCrossSigning, name)
	}
	pub, err := signing.ParseCrossSigningKey(public)
	if err != nil || pub.Key != sk.Public() {
		return nil, fmt.Errorf("%w: the %s private key does not match the published one", ErrNoCrossSigning, name)
	}
	return sk, nil
}

// signOwnDevice signs one of our devices with our self-signing key.
func (m *Machine) signOwnDevice(ctx context.Context, tx store.Tx, deviceID string) ([]byte, error) {
	id, _, err := m.loadIdentity(ctx, tx, m.owner.UserID)
	if err != nil {
		return nil, err
	}
	ssk, err := m.crossSigningKey(ctx, tx, crossSigningSelf, id.SelfSigning)
	if err != nil {
		return nil, err
	}
	devs, err := tx.Devices(ctx, m.owner.UserID)
	if err != nil {
		return nil, err
	}
	for _, d := range devs {
		if d.DeviceID == deviceID {
			dk, err := signing.ParseDeviceKeys(d.Keys)
			if err != nil {
				return nil, err
			}
			dk.AddSignature(m.owner.UserID, ssk.Public().String(), ssk)
			return dk.MarshalJSON()
		}
	}
	return nil, fmt.Errorf("%w: device %s", ErrUnknownVerification, deviceID)
}

// signMaster signs a master key: another user's with our user-signing key, ours with our
// device key.
func (m *Machine) signMaster(ctx context.Context, tx store.Tx, user string) ([]byte, error) {
	their, _, err := m.loadIdentity(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	msk, err := signing.ParseCrossSigningKey(their.Master)
	if err != nil {
		return nil, fmt.Errorf("%w: master key of %s", ErrNoCrossSigning, user)
	}
	if user == m.owner.UserID {
		acct, err := m.loadAccount(ctx, tx)
		if err != nil {
			return nil, err
		}
		msk.AddSignature(m.owner.UserID, m.owner.DeviceID, acct)
		return msk.MarshalJSON()
	}
	ours, _, err := m.loadIdentity(ctx, tx, m.owner.UserID)
	if err != nil {
		return nil, err
	}
	usk, err := m.crossSigningKey(ctx, tx, crossSigningUser, ours.UserSigning)
	if err != nil {
		return nil, err
	}
	msk.AddSignature(m.owner.UserID, usk.Public().String(), usk)
	return msk.MarshalJSON()
}

// ownMasterTrusted reports whether this device trusts our master key: we verified it, or we
// hold its private key (or that of the self-signing key it signed).
func (m *Machine) ownMasterTrusted(ctx context.Context, tx store.Tx) (bool, error) {
	if ok, err := m.userVerified(ctx, tx, m.owner.UserID); ok || err != nil {
		return ok, err
	}
	id, _, err := m.loadIdentity(ctx, tx, m.owner.UserID)
	if err != nil || id.Master == nil || id.Changed {
		return false, err
	}
	if _, err := m.crossSigningKey(ctx, tx, crossSigningMaster, id.Master); err == nil {
		return true, nil
	} else if !errors.Is(err, ErrNoCrossSigning) {
		return false, err
	}
	if _, err := m.crossSigningKey(ctx, tx, crossSigningSelf, id.SelfSigning); err == nil {
		return true, nil
	} else if !errors.Is(err, ErrNoCrossSigning) {
		return false, err
	}
	return false, nil
}
