package machine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// SAS verification, m.sas.v1 (spec "Short Authentication String (SAS) verification",
// https://spec.matrix.org/v1.19/client-server-api/#short-authentication-string-sas-verification):
// the starter sends start, the other side accept with a commitment to its ephemeral key, both
// exchange keys, the users compare the emoji or decimals, and each side MACs its device key and
// master key with the shared secret. Every method package sas negotiates is offered: key
// agreement curve25519-hkdf-sha256 and the old curve25519, MAC hkdf-hmac-sha256.v2 (also under
// its unstable name org.matrix.msc3783.hkdf-hmac-sha256), hkdf-hmac-sha256 and hmac-sha256.

// sasOffer is what we offer in a start and accept from the other side: everything package sas
// implements (a variable so that tests can narrow it and run each method).
var sasOffer = sas.Supported

// SASCode is what the two users compare: seven emoji and three numbers from the same bytes.
type SASCode struct {
	Emoji    [7]sas.Emoji
	Decimals [3]int
	// Methods are the short authentication string methods both sides accept ("emoji",
	// "decimal"): show the emoji when both accept them, the decimals otherwise.
	Methods []string
}

// StartSAS starts SAS verification on a ready flow (m.key.verification.start with method
// m.sas.v1). Errors: ErrVerificationState (the flow is not ready), ErrVerificationMethod (the
// other side did not offer m.sas.v1).
func (v *Verification) StartSAS(ctx context.Context) error {
	return v.step(ctx, func(tx store.Tx, f *flow) error {
		if f.State != VerificationReady {
			return fmt.Errorf("%w: StartSAS needs a ready flow, it is %s", ErrVerificationState, f.State)
		}
		if !f.has(MethodSAS) {
			return ErrVerificationMethod
		}
		return v.m.startSAS(ctx, tx, f)
	})
}

func (m *Machine) startSAS(ctx context.Context, tx store.Tx, f *flow) error {
	sup := sasOffer()
	canon, err := m.sendFlowContent(ctx, tx, f, typeVerificationStart, map[string]any{
		"from_device": m.owner.DeviceID, "method": MethodSAS,
		"key_agreement_protocols":      sup.KeyAgreementProtocols,
		"hashes":                       sup.Hashes,
		"message_authentication_codes": sup.MessageAuthenticationCodes,
		"short_authentication_string":  sup.ShortAuthenticationString,
	})
	if err != nil {
		return err
	}
	if _, err := m.newSASKey(ctx, tx, f); err != nil {
		return err
	}
	f.Method, f.WeStarted, f.Start, f.State = MethodSAS, true, canon, VerificationStarted
	return nil
}

// newSASKey creates the flow's ephemeral X25519 key, kept as a store secret until the flow ends.
func (m *Machine) newSASKey(ctx context.Context, tx store.Tx, f *flow) (*sas.SAS, error) {
	seed := make(store.Secret, 32)
	if _, err := io.ReadFull(m.randReader(), seed); err != nil {
		return nil, fmt.Errorf("machine: reading randomness: %w", err)
	}
	if err := tx.PutSecret(ctx, secretSASKey+f.ID, seed); err != nil {
		return nil, err
	}
	return sas.NewFrom(bytes.NewReader(seed))
}

func (m *Machine) sasKey(ctx context.Context, tx store.Tx, f *flow) (*sas.SAS, error) {
	seed, err := tx.Secret(ctx, secretSASKey+f.ID)
	if err != nil {
		return nil, fmt.Errorf("machine: SAS key of flow %s: %w", f.ID, err)
	}
	if len(seed) != 32 {
		return nil, fmt.Errorf("machine: SAS key of flow %s: %w", f.ID, store.ErrCorrupt)
	}
	return sas.NewFrom(bytes.NewReader(seed))
}

// onStart handles m.key.verification.start: SAS (answered with accept) or m.reciprocate.v1 (the
// other device scanned our QR code). When both sides sent a start, the one from the
// lexicographically smaller user id, then device id, wins (spec "Key verification framework").
func (m *Machine) onStart(ctx context.Context, tx store.Tx, f *flow, in *incoming) error {
	c := &in.C
	switch {
	case f.State == VerificationStarted && f.WeStarted && f.Agreement == nil:
		if c.Method != f.Method {
			return cancelf(CancelUnexpectedMessage, "both sides started, with different methods")
		}
		if m.owner.UserID < f.OtherUser || m.owner.UserID == f.OtherUser && m.owner.DeviceID < f.OtherDevice {
			return ignore(fmt.Errorf("%w: our start wins over theirs", ErrVerificationState))
		}
		f.WeStarted, f.Start = false, nil // theirs wins: we accept it
	case f.State != VerificationReady:
		return cancelf(CancelUnexpectedMessage, "start in state %s", f.State)
	}
	if f.OtherDevice == "" {
		f.OtherDevice = c.FromDevice
	}
	switch c.Method {
	case MethodSAS:
		if !slices.Contains(f.OurMethods, MethodSAS) {
			return cancelf(CancelUnknownMethod, "m.sas.v1 was not offered")
		}
		return m.acceptSAS(ctx, tx, f, in)
	case MethodReciprocate:
		return m.onReciprocate(ctx, tx, f, c)
	}
	return cancelf(CancelUnknownMethod, "unknown method %q", c.Method)
}

// acceptSAS answers an SAS start with accept: the negotiated methods and the commitment to our
// key and the start content.
func (m *Machine) acceptSAS(ctx context.Context, tx store.Tx, f *flow, in *incoming) error {
	c := &in.C
	theirs := sas.Methods{KeyAgreementProtocols: c.KeyAgreementProtocols, Hashes: c.Hashes,
		MessageAuthenticationCodes: c.MessageAuthenticationCodes, ShortAuthenticationString: c.ShortAuthenticationString}
	agr, err := sas.Negotiate(sasOffer(), theirs)
	if err != nil {
		return cancelf(CancelUnknownMethod, "%v", err)
	}
	start, err := signing.Canonical(in.Raw)
	if err != nil {
		return cancelf(CancelInvalidMessage, "start content is not canonical JSON: %v", err)
	}
	s, err := m.newSASKey(ctx, tx, f)
	if err != nil {
		return err
	}
	f.Method, f.Start, f.Agreement, f.State = MethodSAS, start, &agr, VerificationStarted
	f.Commitment = sas.Commitment(s.PublicKey(), start)
	return m.sendFlow(ctx, tx, f, typeVerificationAccept, map[string]any{
		"method": MethodSAS, "key_agreement_protocol": agr.KeyAgreementProtocol, "hash": agr.Hash,
		"message_authentication_code": agr.MessageAuthenticationCode,
		"short_authentication_string": agr.ShortAuthenticationString, "commitment": f.Commitment})
}

// onAccept handles the accept of our start: the choices must be among what we offered.
func (m *Machine) onAccept(ctx context.Context, tx store.Tx, f *flow, c *vContent) error {
	if f.State != VerificationStarted || !f.WeStarted || f.Agreement != nil || f.Method != MethodSAS {
		return cancelf(CancelUnexpectedMessage, "accept in state %s", f.State)
	}
	if c.Commitment == "" || c.KeyAgreementProtocol == "" || c.Hash == "" || c.MessageAuthenticationCode == "" || len(c.ShortAuthenticationString) == 0 {
		return cancelf(CancelInvalidMessage, "accept without a commitment or a method")
	}
	sup := sasOffer()
	agr := sas.Agreement{KeyAgreementProtocol: c.KeyAgreementProtocol, Hash: c.Hash,
		MessageAuthenticationCode: c.MessageAuthenticationCode, ShortAuthenticationString: c.ShortAuthenticationString}
	_, macErr := sas.ParseMACMethod(agr.MessageAuthenticationCode)
	ok := slices.Contains(sup.KeyAgreementProtocols, agr.KeyAgreementProtocol) && slices.Contains(sup.Hashes, agr.Hash) &&
		slices.Contains(sup.MessageAuthenticationCodes, agr.MessageAuthenticationCode) && macErr == nil
	for _, s := range agr.ShortAuthenticationString {
		ok = ok && slices.Contains(sup.ShortAuthenticationString, s)
	}
	if !ok {
		return cancelf(CancelUnknownMethod, "accept chose a method we did not offer")
	}
	s, err := m.sasKey(ctx, tx, f)
	if err != nil {
		return err
	}
	f.Agreement, f.Commitment = &agr, c.Commitment
	return m.sendFlow(ctx, tx, f, typeVerificationKey, map[string]any{"key": s.PublicKey().String()})
}

// onKey handles the other side's ephemeral key. The starter checks it against the accept's
// commitment; the accepter answers with its own key.
func (m *Machine) onKey(ctx context.Context, tx store.Tx, f *flow, c *vContent) error {
	if f.State != VerificationStarted || f.Agreement == nil || f.TheirKey != "" {
		return cancelf(CancelUnexpectedMessage, "key in state %s", f.State)
	}
	their, err := key.ParseCurve25519(c.Key)
	if err != nil {
		return cancelf(CancelInvalidMessage, "key: %v", err)
	}
	s, err := m.sasKey(ctx, tx, f)
	if err != nil {
		return err
	}
	if f.WeStarted {
		if err := sas.VerifyCommitment(f.Commitment, their, f.Start); err != nil {
			return cancelf(CancelMismatchedCommitment, "the key does not match the commitment")
		}
	}
	if _, err := s.SetTheirKey(their); err != nil {
		return cancelf(CancelInvalidMessage, "key: %v", err)
	}
	f.TheirKey, f.State = their.String(), VerificationKeysExchanged
	if !f.WeStarted {
		return m.sendFlow(ctx, tx, f, typeVerificationKey, map[string]any{"key": s.PublicKey().String()})
	}
	return nil
}

// established rebuilds the SAS after the key exchange.
func (m *Machine) established(ctx context.Context, tx store.Tx, f *flow) (*sas.Established, error) {
	s, err := m.sasKey(ctx, tx, f)
	if err != nil {
		return nil, err
	}
	their, err := key.ParseCurve25519(f.TheirKey)
	if err != nil {
		return nil, fmt.Errorf("machine: flow %s: %w", f.ID, store.ErrCorrupt)
	}
	return s.SetTheirKey(their)
}

// sasInfo is the HKDF info of the short authentication string.
func (m *Machine) sasInfo(ctx context.Context, tx store.Tx, f *flow) (string, error) {
	s, err := m.sasKey(ctx, tx, f)
	if err != nil {
		return "", err
	}
	their, _ := key.ParseCurve25519(f.TheirKey)
	us, them := sas.Device{UserID: m.owner.UserID, DeviceID: m.owner.DeviceID}, sas.Device{UserID: f.OtherUser, DeviceID: f.OtherDevice}
	starter, starterKey, accepter, accepterKey := them, their, us, s.PublicKey()
	if f.WeStarted {
		starter, starterKey, accepter, accepterKey = us, s.PublicKey(), them, their
	}
	if f.Agreement.KeyAgreementProtocol == sas.KeyAgreementCurve25519 {
		return sas.LegacySASInfo(starter, accepter, f.ID), nil
	}
	return sas.SASInfo(starter, starterKey, accepter, accepterKey, f.ID), nil
}

// SAS returns the emoji and decimals to compare, once the keys are exchanged. Errors:
// ErrVerificationState (not an SAS flow past the key exchange).
func (v *Verification) SAS(ctx context.Context) (*SASCode, error) {
	m := v.m
	var code *SASCode
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		f, err := loadFlow(ctx, tx, v.ID)
		if err != nil {
			return err
		}
		if f.TheirKey == "" || f.State.terminal() {
			return fmt.Errorf("%w: no SAS in state %s", ErrVerificationState, f.State)
		}
		e, err := m.established(ctx, tx, f)
		if err != nil {
			return err
		}
		info, err := m.sasInfo(ctx, tx, f)
		if err != nil {
			return err
		}
		code = &SASCode{Emoji: e.Emoji(info), Decimals: e.Decimals(info), Methods: slices.Clone(f.Agreement.ShortAuthenticationString)}
		return nil
	})
	return code, err
}

// ConfirmSAS says the user saw the same SAS on both devices: our MAC goes out, and once the
// other side's MAC verifies, the flow succeeds (trust recorded, signatures queued, done sent).
// A MAC that does not verify cancels with m.key_mismatch. Errors: ErrVerificationState, or a
// *CancelError when the other side's MAC failed.
func (v *Verification) ConfirmSAS(ctx context.Context) error {
	return v.step(ctx, func(tx store.Tx, f *flow) error {
		if f.State != VerificationKeysExchanged || f.Confirmed {
			return fmt.Errorf("%w: ConfirmSAS in state %s", ErrVerificationState, f.State)
		}
		m := v.m
		e, err := m.established(ctx, tx, f)
		if err != nil {
			return err
		}
		method, err := sas.ParseMACMethod(f.Agreement.MessageAuthenticationCode)
		if err != nil {
			return err
		}
		ours := map[string]string{"ed25519:" + m.owner.DeviceID: m.ed.String()}
		if mk, ok, err := m.masterKey(ctx, tx, m.owner.UserID); err != nil {
			return err
		} else if ok {
			ours["ed25519:"+mk] = mk
		}
		us, them := sas.Device{UserID: m.owner.UserID, DeviceID: m.owner.DeviceID}, sas.Device{UserID: f.OtherUser, DeviceID: f.OtherDevice}
		mc, err := e.MACKeys(method, us, them, f.ID, ours)
		if err != nil {
			return err
		}
		if err := m.sendFlow(ctx, tx, f, typeVerificationMAC, map[string]any{"mac": mc.MAC, "keys": mc.Keys}); err != nil {
			return err
		}
		f.Confirmed, f.State = true, VerificationConfirmed
		if f.TheirMAC != nil {
			return m.checkMAC(ctx, tx, f, e, method)
		}
		return nil
	})
}

// MismatchSAS says the user saw different codes: the flow is cancelled with m.mismatched_sas.
func (v *Verification) MismatchSAS(ctx context.Context) error {
	err := v.step(ctx, func(tx store.Tx, f *flow) error {
		if f.TheirKey == "" {
			return fmt.Errorf("%w: MismatchSAS in state %s", ErrVerificationState, f.State)
		}
		return cancelf(CancelMismatchedSAS, "the short authentication strings differ")
	})
	return cancelled(err, CancelMismatchedSAS)
}

// onMAC handles the other side's MAC: kept until the user confirmed, checked then.
func (m *Machine) onMAC(ctx context.Context, tx store.Tx, f *flow, c *vContent) error {
	if (f.State != VerificationKeysExchanged && f.State != VerificationConfirmed) || f.TheirMAC != nil {
		return cancelf(CancelUnexpectedMessage, "mac in state %s", f.State)
	}
	if len(c.MAC) == 0 || c.Keys == "" {
		return cancelf(CancelInvalidMessage, "mac without mac or keys")
	}
	f.TheirMAC = &sas.MACContent{MAC: c.MAC, Keys: c.Keys}
	if !f.Confirmed {
		return nil
	}
	e, err := m.established(ctx, tx, f)
	if err != nil {
		return err
	}
	method, err := sas.ParseMACMethod(f.Agreement.MessageAuthenticationCode)
	if err != nil {
		return err
	}
	return m.checkMAC(ctx, tx, f, e, method)
}

// checkMAC verifies the other side's MAC against the keys this flow is about, exactly: their
// device's Ed25519 key as we track it and, if they have one, their master key. A MAC naming any
// other key id cancels with m.key_mismatch, and so does one that leaves out the device key.
func (m *Machine) checkMAC(ctx context.Context, tx store.Tx, f *flow, e *sas.Established, method sas.MACMethod) error {
	dev, err := m.device(ctx, tx, f.OtherUser, f.OtherDevice)
	if err != nil {
		return err
	}
	if dev == nil {
		return cancelf(CancelKeyMismatch, "the device %s of %s is not known", f.OtherDevice, f.OtherUser)
	}
	devID := "ed25519:" + f.OtherDevice
	known := map[string]string{devID: dev.Keys.Ed25519.String()}
	mk, hasMaster, err := m.masterKey(ctx, tx, f.OtherUser)
	if err != nil {
		return err
	}
	if hasMaster {
		known["ed25519:"+mk] = mk
	}
	for id := range f.TheirMAC.MAC {
		if _, ok := known[id]; !ok {
			return cancelf(CancelKeyMismatch, "the MAC covers key %s, which this flow is not about", id)
		}
	}
	if _, ok := f.TheirMAC.MAC[devID]; !ok {
		return cancelf(CancelKeyMismatch, "the MAC does not cover the device key")
	}
	them, us := sas.Device{UserID: f.OtherUser, DeviceID: f.OtherDevice}, sas.Device{UserID: m.owner.UserID, DeviceID: m.owner.DeviceID}
	ids, err := e.VerifyKeys(method, them, us, f.ID, *f.TheirMAC, known)
	if err != nil {
		if errors.Is(err, sas.ErrAuthentication) || errors.Is(err, sas.ErrNoKnownKeys) {
			return cancelf(CancelKeyMismatch, "the MAC does not verify")
		}
		return err
	}
	res := &VerificationResult{}
	for _, id := range ids {
		if id == devID {
			res.UserID, res.DeviceID = f.OtherUser, f.OtherDevice
		} else {
			res.MasterKey = mk
		}
	}
	return m.succeed(ctx, tx, f, res)
}

// device returns one tracked device, nil if unknown.
func (m *Machine) device(ctx context.Context, tx store.Tx, user, deviceID string) (*Device, error) {
	devs, err := m.devices(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	for i := range devs {
		if devs[i].Keys.DeviceID == deviceID {
			return &devs[i], nil
		}
	}
	return nil, nil
}

// masterKey returns the tracked master key of a user (unpadded base64).
func (m *Machine) masterKey(ctx context.Context, tx store.Tx, user string) (string, bool, error) {
	id, _, err := m.loadIdentity(ctx, tx, user)
	if err != nil || id.Master == nil {
		return "", false, err
	}
	msk, err := signing.ParseCrossSigningKey(id.Master)
	if err != nil {
		return "", false, nil
	}
	return msk.Key.String(), true, nil
}
