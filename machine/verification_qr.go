package machine

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/store"
)

// QR code verification (spec "QR codes", https://spec.matrix.org/v1.19/client-server-api/#qr-codes):
// one device shows a QR code holding two public keys and a shared secret, the other scans it,
// checks the keys against the ones it tracks and proves the scan with m.key.verification.start
// (method m.reciprocate.v1) carrying the secret. The user of the showing device confirms that
// the other device scanned it.
//
// The binary payload: the ASCII bytes "MATRIX", the version 0x02, the mode, the flow id's length
// (two bytes, big-endian) and its UTF-8 bytes, the first and the second key (32 bytes each), and
// the shared secret (the rest, at least 8 bytes). The modes and their keys:
//
//	0x00  verifying another user:        our master key, their master key as we know it
//	0x01  self-verifying, we trust the master key:     our master key, the other device's key
//	0x02  self-verifying, we do not trust it yet:      our device key, the master key
const (
	qrPrefix       = "MATRIX"
	qrVersion      = 0x02
	qrModeUser     = 0x00
	qrModeSelf     = 0x01
	qrModeSelfNew  = 0x02
	qrMinSecret    = 8
	qrSecretLength = 16
)

// ErrMalformedQRCode reports a QR code payload that does not parse; the error is a
// *QRCodeError naming the part.
var ErrMalformedQRCode = errors.New("machine: malformed verification QR code")

// QRCodeError says which part of a QR code payload is malformed. It matches ErrMalformedQRCode.
type QRCodeError struct {
	// Part is "prefix", "version", "mode", "flow id", "keys" or "secret".
	Part   string
	Reason string
}

// Error names the malformed part.
func (e *QRCodeError) Error() string {
	return fmt.Sprintf("machine: malformed verification QR code: %s: %s", e.Part, e.Reason)
}

// Unwrap returns ErrMalformedQRCode.
func (e *QRCodeError) Unwrap() error { return ErrMalformedQRCode }

// qrCode is a parsed payload. Its secret is secret.
type qrCode struct {
	mode       byte
	flowID     string
	key1, key2 key.Ed25519
	secret     []byte
}

func (q *qrCode) marshal() []byte {
	b := wire.NewBuilder(make([]byte, 0, len(qrPrefix)+4+len(q.flowID)+64+len(q.secret)))
	b.AddBytes([]byte(qrPrefix))
	b.AddUint8(qrVersion)
	b.AddUint8(q.mode)
	b.AddUint8(byte(len(q.flowID) >> 8))
	b.AddUint8(byte(len(q.flowID)))
	b.AddBytes([]byte(q.flowID))
	b.AddBytes(q.key1[:])
	b.AddBytes(q.key2[:])
	b.AddBytes(q.secret)
	return b.Bytes()
}

// parseQRCode parses a payload strictly; it copies what it keeps.
func parseQRCode(p []byte) (*qrCode, error) {
	r := wire.Reader(p)
	var prefix []byte
	if !r.ReadBytes(&prefix, len(qrPrefix)) || string(prefix) != qrPrefix {
		return nil, &QRCodeError{"prefix", `does not start with "MATRIX"`}
	}
	var version, mode, hi, lo uint8
	if !r.ReadUint8(&version) || version != qrVersion {
		return nil, &QRCodeError{"version", "not version 2"}
	}
	if !r.ReadUint8(&mode) || mode > qrModeSelfNew {
		return nil, &QRCodeError{"mode", "not 0, 1 or 2"}
	}
	var id []byte
	if !r.ReadUint8(&hi) || !r.ReadUint8(&lo) || !r.ReadBytes(&id, int(hi)<<8|int(lo)) {
		return nil, &QRCodeError{"flow id", "truncated"}
	}
	if len(id) == 0 || !utf8.Valid(id) {
		return nil, &QRCodeError{"flow id", "empty or not UTF-8"}
	}
	q := &qrCode{mode: mode, flowID: string(id)}
	if !r.CopyBytes(q.key1[:]) || !r.CopyBytes(q.key2[:]) {
		return nil, &QRCodeError{"keys", "truncated"}
	}
	if r.Len() < qrMinSecret {
		return nil, &QRCodeError{"secret", fmt.Sprintf("%d bytes, at least %d needed", r.Len(), qrMinSecret)}
	}
	q.secret = append([]byte(nil), r...)
	return q, nil
}

// qrPlan is the mode and keys of a QR code we showed or scanned, kept with the flow.
type qrPlan struct {
	Mode byte   `json:"mode"`
	Key1 string `json:"key1"`
	Key2 string `json:"key2"`
}

// QRCode returns the payload of the QR code this device shows for a ready flow (render it as a
// QR code, byte mode). It is the same on every call. Errors: ErrVerificationState (the flow is
// not ready), ErrVerificationMethod (the other device cannot scan), ErrNoCrossSigning (a master
// key the code must hold is unknown).
func (v *Verification) QRCode(ctx context.Context) ([]byte, error) {
	var payload []byte
	err := v.step(ctx, func(tx store.Tx, f *flow) error {
		if f.State != VerificationReady {
			return fmt.Errorf("%w: QRCode needs a ready flow, it is %s", ErrVerificationState, f.State)
		}
		if !f.has(MethodReciprocate) || !containsStr(f.OurMethods, MethodQRShow) || !containsStr(f.TheirMethods, MethodQRScan) {
			return ErrVerificationMethod
		}
		m := v.m
		secret, err := tx.Secret(ctx, secretQR+f.ID)
		if errors.Is(err, store.ErrNotFound) {
			plan, err := m.qrPlan(ctx, tx, f)
			if err != nil {
				return err
			}
			secret = make(store.Secret, qrSecretLength)
			if _, err := io.ReadFull(m.randReader(), secret); err != nil {
				return fmt.Errorf("machine: reading randomness: %w", err)
			}
			if err := tx.PutSecret(ctx, secretQR+f.ID, secret); err != nil {
				return err
			}
			f.QR = plan
		} else if err != nil {
			return err
		}
		if f.QR == nil {
			return fmt.Errorf("machine: flow %s: %w", f.ID, store.ErrCorrupt)
		}
		k1, err1 := key.ParseEd25519(f.QR.Key1)
		k2, err2 := key.ParseEd25519(f.QR.Key2)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("machine: flow %s: %w", f.ID, store.ErrCorrupt)
		}
		payload = (&qrCode{mode: f.QR.Mode, flowID: f.ID, key1: k1, key2: k2, secret: secret}).marshal()
		return nil
	})
	return payload, err
}

// qrPlan chooses the mode and keys of the QR code we show.
func (m *Machine) qrPlan(ctx context.Context, tx store.Tx, f *flow) (*qrPlan, error) {
	ourMaster, ok, err := m.masterKey(ctx, tx, m.owner.UserID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: our master key is not known", ErrNoCrossSigning)
	}
	trusted, err := m.ownMasterTrusted(ctx, tx)
	if err != nil {
		return nil, err
	}
	if f.OtherUser != m.owner.UserID {
		theirMaster, ok, err := m.masterKey(ctx, tx, f.OtherUser)
		if err != nil {
			return nil, err
		}
		if !ok || !trusted {
			return nil, fmt.Errorf("%w: their master key is unknown or ours not trusted", ErrNoCrossSigning)
		}
		return &qrPlan{Mode: qrModeUser, Key1: ourMaster, Key2: theirMaster}, nil
	}
	if trusted {
		dev, err := m.device(ctx, tx, f.OtherUser, f.OtherDevice)
		if err != nil {
			return nil, err
		}
		if dev == nil {
			return nil, fmt.Errorf("%w: device %s is not known", ErrVerificationState, f.OtherDevice)
		}
		return &qrPlan{Mode: qrModeSelf, Key1: ourMaster, Key2: dev.Keys.Ed25519.String()}, nil
	}
	return &qrPlan{Mode: qrModeSelfNew, Key1: m.ed.String(), Key2: ourMaster}, nil
}

// ScanQR takes the payload of the other device's QR code. If its keys are the ones this device
// tracks, it sends m.key.verification.start with method m.reciprocate.v1 and the shared secret;
// the other side's m.key.verification.done then completes the flow. A payload that does not
// parse gives a *QRCodeError and changes nothing; one for another flow or with other keys
// cancels the flow with m.key_mismatch (a *CancelError). Errors: ErrVerificationState,
// ErrVerificationMethod.
func (v *Verification) ScanQR(ctx context.Context, payload []byte) error {
	q, err := parseQRCode(payload)
	if err != nil {
		return err
	}
	return v.step(ctx, func(tx store.Tx, f *flow) error {
		if f.State != VerificationReady {
			return fmt.Errorf("%w: ScanQR needs a ready flow, it is %s", ErrVerificationState, f.State)
		}
		if !f.has(MethodReciprocate) || !containsStr(f.OurMethods, MethodQRScan) || !containsStr(f.TheirMethods, MethodQRShow) {
			return ErrVerificationMethod
		}
		m := v.m
		if q.flowID != f.ID {
			return cancelf(CancelKeyMismatch, "the QR code is for another flow")
		}
		if err := m.checkScanned(ctx, tx, f, q); err != nil {
			return err
		}
		f.Scanned = &qrPlan{Mode: q.mode, Key1: q.key1.String(), Key2: q.key2.String()}
		f.Method, f.WeStarted, f.State = MethodReciprocate, true, VerificationQRReciprocated
		return m.sendFlow(ctx, tx, f, typeVerificationStart, map[string]any{
			"from_device": m.owner.DeviceID, "method": MethodReciprocate, "secret": b64.Encode(q.secret)})
	})
}

// checkScanned compares the keys of a scanned code with the ones we track.
func (m *Machine) checkScanned(ctx context.Context, tx store.Tx, f *flow, q *qrCode) error {
	mismatch := cancelf(CancelKeyMismatch, "the QR code's keys are not the ones we know")
	self := f.OtherUser == m.owner.UserID
	ourMaster, hasOurs, err := m.masterKey(ctx, tx, m.owner.UserID)
	if err != nil {
		return err
	}
	switch q.mode {
	case qrModeUser:
		theirMaster, ok, err := m.masterKey(ctx, tx, f.OtherUser)
		if err != nil {
			return err
		}
		if self || !ok || !hasOurs || q.key1.String() != theirMaster || q.key2.String() != ourMaster {
			return mismatch
		}
	case qrModeSelf:
		if !self || !hasOurs || q.key1.String() != ourMaster || q.key2 != m.ed {
			return mismatch
		}
	case qrModeSelfNew:
		trusted, err := m.ownMasterTrusted(ctx, tx)
		if err != nil {
			return err
		}
		dev, err := m.device(ctx, tx, f.OtherUser, f.OtherDevice)
		if err != nil {
			return err
		}
		if !self || !hasOurs || !trusted || dev == nil || q.key1 != dev.Keys.Ed25519 || q.key2.String() != ourMaster {
			return mismatch
		}
	}
	return nil
}

// onReciprocate handles the start by which the other device says it scanned our QR code: its
// secret must be ours, or the flow is cancelled with m.key_mismatch.
func (m *Machine) onReciprocate(ctx context.Context, tx store.Tx, f *flow, c *vContent) error {
	if f.QR == nil || !f.has(MethodReciprocate) {
		return cancelf(CancelUnexpectedMessage, "m.reciprocate.v1 but we showed no QR code")
	}
	secret, err := tx.Secret(ctx, secretQR+f.ID)
	if err != nil {
		return err
	}
	got := make([]byte, len(secret))
	if c.Secret == "" || len(c.Secret) > 4*len(secret) || b64.DecodeInto(got, c.Secret) != nil ||
		subtle.ConstantTimeCompare(got, secret) != 1 {
		return cancelf(CancelKeyMismatch, "the QR code's shared secret does not match")
	}
	f.Method, f.State = MethodReciprocate, VerificationQRScanned
	return nil
}

// ConfirmQRScanned says the user saw the other device scan our QR code: the flow succeeds
// (trust recorded, signatures queued, done sent). Errors: ErrVerificationState (the other
// device has not proved a scan).
func (v *Verification) ConfirmQRScanned(ctx context.Context) error {
	return v.step(ctx, func(tx store.Tx, f *flow) error {
		if f.State != VerificationQRScanned || f.QR == nil {
			return fmt.Errorf("%w: ConfirmQRScanned in state %s", ErrVerificationState, f.State)
		}
		m := v.m
		res := &VerificationResult{}
		switch f.QR.Mode {
		case qrModeUser, qrModeSelfNew:
			// The other side checked the master key we showed as theirs (mode 0) or ours (2).
			mk, ok, err := m.masterKey(ctx, tx, f.OtherUser)
			if err != nil {
				return err
			}
			if !ok || mk != f.QR.Key2 {
				return cancelf(CancelKeyMismatch, "the master key changed during the verification")
			}
			res.MasterKey = mk
		case qrModeSelf:
			dev, err := m.device(ctx, tx, f.OtherUser, f.OtherDevice)
			if err != nil {
				return err
			}
			if dev == nil || dev.Keys.Ed25519.String() != f.QR.Key2 {
				return cancelf(CancelKeyMismatch, "the device key changed during the verification")
			}
			res.UserID, res.DeviceID = f.OtherUser, f.OtherDevice
		}
		if err := tx.DeleteSecret(ctx, secretQR+f.ID); err != nil {
			return err
		}
		return m.succeed(ctx, tx, f, res)
	})
}

// succeedQRScanner completes a flow in which we scanned the other device's code, on its done.
func (m *Machine) succeedQRScanner(ctx context.Context, tx store.Tx, f *flow) error {
	if f.Scanned == nil {
		return cancelf(CancelUnexpectedMessage, "done without a scanned QR code")
	}
	// What succeed records and signs is what we track now: it must still be the key we
	// scanned, or the server swapped it between the scan and the done.
	res := &VerificationResult{}
	switch f.Scanned.Mode {
	case qrModeUser, qrModeSelf:
		mk, ok, err := m.masterKey(ctx, tx, f.OtherUser)
		if err != nil {
			return err
		}
		if !ok || mk != f.Scanned.Key1 {
			return cancelf(CancelKeyMismatch, "the master key changed during the verification")
		}
		res.MasterKey = f.Scanned.Key1 // their master key (0), or ours (1)
	case qrModeSelfNew:
		dev, err := m.device(ctx, tx, f.OtherUser, f.OtherDevice)
		if err != nil {
			return err
		}
		if dev == nil || dev.Keys.Ed25519.String() != f.Scanned.Key1 {
			return cancelf(CancelKeyMismatch, "the device key changed during the verification")
		}
		res.UserID, res.DeviceID = f.OtherUser, f.OtherDevice
	}
	return m.succeed(ctx, tx, f, res)
}
