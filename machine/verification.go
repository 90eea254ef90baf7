package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// Device and user verification over events (spec "Device verification",
// https://spec.matrix.org/v1.19/client-server-api/#device-verification): the request, ready,
// start, accept, key, mac, done and cancel events of the m.key.verification.* protocol, to-device
// (keyed by transaction_id) and in rooms (keyed by the event id of the request, which the other
// events reference with m.relates_to rel_type m.reference). Each flow is a state machine kept in
// the store under names starting with "sicher.machine.verification:", so a restart loses none;
// its secrets (the ephemeral SAS key, the QR code's shared secret) are store secrets. The machine
// starts no timer: Verifications and every event of a flow cancel it with m.timeout once it is
// older than ten minutes. docs/verification.md walks through a bot's setup.

// VerificationState is where a verification flow stands.
type VerificationState string

// The states of a verification flow (docs/verification.md draws the diagram).
const (
	// VerificationRequested: a request was sent or received, the other side has not accepted
	// it (an incoming one waits for Verification.Accept).
	VerificationRequested VerificationState = "requested"
	// VerificationReady: both sides accepted; either may StartSAS, show or scan a QR code.
	VerificationReady VerificationState = "ready"
	// VerificationStarted: an SAS start was sent or accepted, the keys are being exchanged.
	VerificationStarted VerificationState = "started"
	// VerificationKeysExchanged: the SAS is available (Verification.SAS); the user compares
	// it and calls ConfirmSAS or MismatchSAS.
	VerificationKeysExchanged VerificationState = "keys_exchanged"
	// VerificationConfirmed: we confirmed the SAS and sent our MAC; the other side's is due.
	VerificationConfirmed VerificationState = "confirmed"
	// VerificationQRScanned: the other device scanned our QR code and proved it (the shared
	// secret matched); the user confirms that with ConfirmQRScanned.
	VerificationQRScanned VerificationState = "qr_scanned"
	// VerificationQRReciprocated: we scanned the other device's QR code and said so; its
	// m.key.verification.done completes the flow.
	VerificationQRReciprocated VerificationState = "qr_reciprocated"
	// VerificationWaitingDone: our side succeeded (trust recorded, signatures queued); the
	// other side's m.key.verification.done is due.
	VerificationWaitingDone VerificationState = "waiting_done"
	// VerificationDone: both sides sent m.key.verification.done.
	VerificationDone VerificationState = "done"
	// VerificationCancelled: one side cancelled; Verification.CancelCode says why.
	VerificationCancelled VerificationState = "cancelled"
)

// terminal reports whether a flow in state s takes no more events.
func (s VerificationState) terminal() bool {
	return s == VerificationDone || s == VerificationCancelled
}

// CancelCode is the code of an m.key.verification.cancel event (spec
// "m.key.verification.cancel", https://spec.matrix.org/v1.19/client-server-api/#mkeyverificationcancel).
type CancelCode string

// The cancel codes of the spec, and when the machine sends each.
const (
	CancelUser                 CancelCode = "m.user"                  // Verification.Cancel
	CancelTimeout              CancelCode = "m.timeout"               // the flow is older than ten minutes
	CancelUnknownTransaction   CancelCode = "m.unknown_transaction"   // an event for a flow we do not know
	CancelUnknownMethod        CancelCode = "m.unknown_method"        // no common method, or one we did not offer
	CancelUnexpectedMessage    CancelCode = "m.unexpected_message"    // an event out of order; a second flow with one device
	CancelKeyMismatch          CancelCode = "m.key_mismatch"          // a MAC over another key, a QR code with other keys
	CancelUserMismatch         CancelCode = "m.user_mismatch"         // an event on the flow from another user
	CancelInvalidMessage       CancelCode = "m.invalid_message"       // an event missing a member or with a malformed one
	CancelAccepted             CancelCode = "m.accepted"              // another device of the user accepted the request
	CancelMismatchedCommitment CancelCode = "m.mismatched_commitment" // the SAS key does not match the accept's commitment
	CancelMismatchedSAS        CancelCode = "m.mismatched_sas"        // Verification.MismatchSAS, or a MAC that fails
)

// The method names of the verification framework (spec "Key verification framework",
// https://spec.matrix.org/v1.19/client-server-api/#key-verification-framework, and "QR codes",
// https://spec.matrix.org/v1.19/client-server-api/#qr-codes).
const (
	MethodSAS         = sas.MethodSAS
	MethodQRShow      = "m.qr_code.show.v1"
	MethodQRScan      = "m.qr_code.scan.v1"
	MethodReciprocate = "m.reciprocate.v1"
)

// The timing rules of the spec: a request whose timestamp (to-device) or origin_server_ts (in
// a room) is more than ten minutes in the past or five minutes in the future is ignored, and a
// flow that has not finished ten minutes after it began is cancelled with m.timeout.
const (
	verificationTimeout = 10 * time.Minute
	requestMaxAge       = 10 * time.Minute
	requestMaxFuture    = 5 * time.Minute
	// flowKeep is how long a finished flow stays listed by Verifications.
	flowKeep = time.Hour
	// maxFlows and maxFlowsPerUser bound the flows listed (in progress or finished within
	// flowKeep) when an incoming request would add one.
	maxFlows        = 256
	maxFlowsPerUser = 16
)

// Errors of the verification API.
var (
	// ErrUnknownVerification reports a flow id the machine does not know (or no longer lists).
	ErrUnknownVerification = errors.New("machine: unknown verification flow")
	// ErrVerificationState reports a call that the flow's state does not allow (StartSAS
	// before the request is ready, ConfirmSAS before the keys were exchanged, any step of a
	// finished flow).
	ErrVerificationState = errors.New("machine: verification flow is not in a state for this call")
	// ErrVerificationMethod reports a method the other side does not support (StartSAS when it
	// did not offer m.sas.v1, QRCode when it cannot scan).
	ErrVerificationMethod = errors.New("machine: verification method not supported by both sides")
	// ErrNoDevices reports a RequestVerification for a user with no known device to ask.
	ErrNoDevices = errors.New("machine: no device to verify")
	// ErrNoCrossSigning reports a QR code that cannot be built because a needed cross-signing
	// key is unknown (ours or the other user's master key), and, in VerificationResult.NotSigned,
	// a verification that succeeded without the private key to sign with.
	ErrNoCrossSigning = errors.New("machine: cross-signing keys missing")
	// ErrRequestExpired reports (as a ToDeviceEvent's Err) a request older than ten minutes or
	// more than five minutes in the future: it is ignored.
	ErrRequestExpired = errors.New("machine: verification request outside the allowed time window")
	// ErrVerificationCancelled reports (as a ToDeviceEvent's Err, or from ScanQR) an event that
	// made the machine cancel its flow; CancelError says with which code.
	ErrVerificationCancelled = errors.New("machine: verification cancelled")
	// ErrTooManyVerifications reports (as a ToDeviceEvent's Err, or from ReceiveRoomEvent) a
	// request ignored because the machine already lists maxFlowsPerUser flows with its sender,
	// or maxFlows in all (finished ones count for an hour): anyone can send requests, and each
	// one is a stored flow that every later event's checks go through.
	ErrTooManyVerifications = errors.New("machine: too many verification flows")
)

// CancelError is the error a step returns when the machine cancelled the flow; it matches
// ErrVerificationCancelled.
type CancelError struct {
	Code   CancelCode
	Reason string
}

// Error returns the code and the reason.
func (e *CancelError) Error() string {
	return fmt.Sprintf("machine: verification cancelled with %s: %s", e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrVerificationCancelled) and errors.Is(err, &CancelError{Code: c})
// hold.
func (e *CancelError) Is(target error) bool {
	if target == ErrVerificationCancelled {
		return true
	}
	t, ok := target.(*CancelError)
	return ok && t.Code == e.Code
}

func cancelf(code CancelCode, format string, args ...any) error {
	return &CancelError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// VerificationResult says what a successful flow verified and signed. Nothing in it is secret.
type VerificationResult struct {
	// UserID and DeviceID name the device whose Ed25519 key was verified ("" when the flow
	// verified a master key only, as a QR code does).
	UserID, DeviceID string
	// MasterKey is the master key verified (unpadded base64), "" if none.
	MasterKey string
	// Signed says a KindSignatureUpload request was queued: our self-signing key signed our
	// own device, our user-signing key signed the other user's master key, or our device key
	// signed our own master key.
	Signed bool
	// NotSigned says why a signature could not be made (the private cross-signing key is not
	// in the store); the verification holds locally all the same.
	NotSigned string
}

// flow is a verification flow as the store keeps it (JSON). Its secrets are store secrets.
type flow struct {
	ID            string              `json:"id"`
	RoomID        string              `json:"room,omitempty"`
	OtherUser     string              `json:"user"`
	OtherDevice   string              `json:"device,omitempty"`
	Targets       []string            `json:"targets,omitempty"`
	WeRequested   bool                `json:"we_requested,omitempty"`
	State         VerificationState   `json:"state"`
	Created       time.Time           `json:"created"`
	Updated       time.Time           `json:"updated"`
	OurMethods    []string            `json:"our_methods"`
	TheirMethods  []string            `json:"their_methods,omitempty"`
	Method        string              `json:"method,omitempty"`
	WeStarted     bool                `json:"we_started,omitempty"`
	Start         json.RawMessage     `json:"start,omitempty"` // canonical content of the start event
	Agreement     *sas.Agreement      `json:"agreement,omitempty"`
	Commitment    string              `json:"commitment,omitempty"`
	TheirKey      string              `json:"their_key,omitempty"`
	TheirMAC      *sas.MACContent     `json:"their_mac,omitempty"`
	Confirmed     bool                `json:"confirmed,omitempty"`
	QR            *qrPlan             `json:"qr,omitempty"`
	Scanned       *qrPlan             `json:"scanned,omitempty"`
	DoneReceived  bool                `json:"done_received,omitempty"`
	CancelCode    CancelCode          `json:"cancel_code,omitempty"`
	CancelReason  string              `json:"cancel_reason,omitempty"`
	CancelledByUs bool                `json:"cancelled_by_us,omitempty"`
	Result        *VerificationResult `json:"result,omitempty"`
	PendingReq    string              `json:"pending_request,omitempty"`
}

// Names of the verification values and secrets.
const (
	valueVerification     = "sicher.machine.verification:"
	valueVerificationList = valueVerification + "index"      // JSON list of flow ids
	valueVerificationFlow = valueVerification + "flow:"      // + flow id: the flow
	valueVerificationReq  = valueVerification + "request:"   // + request id: flow id of an in-room request not yet sent
	valueVerifiedUser     = valueVerification + "user:"      // + user id: the master key we verified
	secretSASKey          = valueVerification + "sas:"       // + flow id: the ephemeral X25519 private key
	secretQR              = valueVerification + "qr_secret:" // + flow id: the shared secret of our QR code
	pendingPrefix         = "pending:"                       // flow id of an in-room request before its event id is known
	crossSigningMaster    = "m.cross_signing.master"         // store secrets: unpadded base64 of the 32-byte seed
	crossSigningSelf      = "m.cross_signing.self_signing"   //
	crossSigningUser      = "m.cross_signing.user_signing"   //
)

// Verification is a snapshot of one verification flow and the handle its steps are called on.
// Its fields are the state when it was read; every method reads the current state from the
// store first. Nothing in it is secret. Safe for concurrent use (the methods are transactions).
type Verification struct {
	m *Machine
	// ID is the flow id: the transaction_id to-device, the request's event id in a room.
	ID string
	// RoomID is the room of an in-room flow, "" for a to-device one.
	RoomID string
	// OtherUser and OtherDevice are the other side ("" device: a to-device request not yet
	// accepted by one of the devices asked, or an in-room request).
	OtherUser, OtherDevice string
	// WeRequested says this device sent the request.
	WeRequested bool
	State       VerificationState
	// Methods are the methods both sides support (once the request is ready).
	Methods []string
	// CancelCode and CancelReason say why a cancelled flow was cancelled, CancelledByUs by whom.
	CancelCode    CancelCode
	CancelReason  string
	CancelledByUs bool
	// Result is what a successful flow verified and signed (from VerificationWaitingDone on).
	Result *VerificationResult
	// Created is when the flow began (by Config.Clock).
	Created time.Time
}

func (m *Machine) snapshot(f *flow) *Verification {
	v := &Verification{m: m, ID: f.ID, RoomID: f.RoomID, OtherUser: f.OtherUser, OtherDevice: f.OtherDevice,
		WeRequested: f.WeRequested, State: f.State, Methods: f.common(), CancelCode: f.CancelCode,
		CancelReason: f.CancelReason, CancelledByUs: f.CancelledByUs, Created: f.Created}
	if f.Result != nil {
		r := *f.Result
		v.Result = &r
	}
	return v
}

// common returns the methods both sides support, in our order.
func (f *flow) common() []string {
	var out []string
	for _, mt := range f.OurMethods {
		if slices.Contains(f.TheirMethods, mt) {
			out = append(out, mt)
		}
	}
	return out
}

// has reports whether both sides support method mt.
func (f *flow) has(mt string) bool {
	return slices.Contains(f.OurMethods, mt) && slices.Contains(f.TheirMethods, mt)
}

// loadFlow reads a flow; a pending in-room request's old id finds its flow too.
func loadFlow(ctx context.Context, tx store.Tx, id string) (*flow, error) {
	f, err := loadFlowOnce(ctx, tx, id)
	if err == nil && f.ID != id { // an in-room request renamed after it was sent
		return loadFlowOnce(ctx, tx, f.ID)
	}
	return f, err
}

func loadFlowOnce(ctx context.Context, tx store.Tx, id string) (*flow, error) {
	b, err := tx.Value(ctx, valueVerificationFlow+id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(b) == 0) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownVerification, id)
	}
	if err != nil {
		return nil, err
	}
	f := new(flow)
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("machine: verification flow %q: %w", id, store.ErrCorrupt)
	}
	return f, nil
}

func (m *Machine) saveFlow(ctx context.Context, tx store.Tx, f *flow) error {
	f.Updated = m.clock()
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("machine: encoding verification flow: %w", err)
	}
	ids, err := flowIDs(ctx, tx)
	if err != nil {
		return err
	}
	if !slices.Contains(ids, f.ID) {
		ids = append(ids, f.ID)
		if err := putFlowIDs(ctx, tx, ids); err != nil {
			return err
		}
	}
	return tx.PutValue(ctx, valueVerificationFlow+f.ID, b)
}

func flowIDs(ctx context.Context, tx store.Tx) ([]string, error) {
	b, err := tx.Value(ctx, valueVerificationList)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(b) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("machine: verification index: %w", store.ErrCorrupt)
	}
	return ids, nil
}

func putFlowIDs(ctx context.Context, tx store.Tx, ids []string) error {
	b, _ := json.Marshal(ids)
	return tx.PutValue(ctx, valueVerificationList, b)
}

// allFlows loads every listed flow, expiring the ones past the timeout and forgetting finished
// ones older than flowKeep.
func (m *Machine) allFlows(ctx context.Context, tx store.Tx) ([]*flow, error) {
	ids, err := flowIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	now := m.clock()
	var out []*flow
	var keep []string
	for _, id := range ids {
		f, err := loadFlow(ctx, tx, id)
		if errors.Is(err, ErrUnknownVerification) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if f.State.terminal() && now.Sub(f.Updated) > flowKeep {
			if err := m.forgetFlow(ctx, tx, f); err != nil {
				return nil, err
			}
			continue
		}
		if err := m.expire(ctx, tx, f); err != nil {
			return nil, err
		}
		keep = append(keep, id)
		out = append(out, f)
	}
	if len(keep) != len(ids) {
		if err := putFlowIDs(ctx, tx, keep); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Machine) forgetFlow(ctx context.Context, tx store.Tx, f *flow) error {
	if err := tx.PutValue(ctx, valueVerificationFlow+f.ID, nil); err != nil {
		return err
	}
	if err := tx.DeleteSecret(ctx, secretSASKey+f.ID); err != nil {
		return err
	}
	return tx.DeleteSecret(ctx, secretQR+f.ID)
}

// expire cancels a flow with m.timeout once it is older than the spec's ten minutes.
func (m *Machine) expire(ctx context.Context, tx store.Tx, f *flow) error {
	if f.State.terminal() || m.clock().Sub(f.Created) < verificationTimeout {
		return nil
	}
	return m.cancelFlow(ctx, tx, f, CancelTimeout, "the verification took longer than ten minutes")
}

// cancelFlow sends m.key.verification.cancel and marks the flow cancelled by us; its secrets
// are deleted.
func (m *Machine) cancelFlow(ctx context.Context, tx store.Tx, f *flow, code CancelCode, reason string) error {
	if f.State.terminal() {
		return nil
	}
	if err := m.sendFlow(ctx, tx, f, typeVerificationCancel, map[string]any{"code": string(code), "reason": reason}); err != nil {
		return err
	}
	f.State, f.CancelCode, f.CancelReason, f.CancelledByUs = VerificationCancelled, code, reason, true
	m.log.Info("machine: verification cancelled", "flow", f.ID, "user", f.OtherUser, "code", string(code))
	if err := tx.DeleteSecret(ctx, secretSASKey+f.ID); err != nil {
		return err
	}
	if err := tx.DeleteSecret(ctx, secretQR+f.ID); err != nil {
		return err
	}
	return m.saveFlow(ctx, tx, f)
}

// ourMethods are the methods we offer: SAS always, scanning and reciprocating QR codes always,
// showing one when our user has a master key (without one there is nothing to show).
func (m *Machine) ourMethods(ctx context.Context, tx store.Tx) ([]string, error) {
	out := []string{MethodSAS, MethodQRScan, MethodReciprocate}
	id, _, err := m.loadIdentity(ctx, tx, m.owner.UserID)
	if err != nil {
		return nil, err
	}
	if id.Master != nil {
		out = append(out, MethodQRShow)
	}
	return out, nil
}

// RequestVerification asks devices of userID to verify with this one, with
// m.key.verification.request to-device messages (spec "Key verification framework"). With no
// deviceIDs it asks every known device of the user (our other devices, for our own user); the
// first to accept wins and the others are told m.accepted. The user's devices must be tracked
// and queried. Errors: ErrNoDevices, and the store's.
func (m *Machine) RequestVerification(ctx context.Context, userID string, deviceIDs ...string) (*Verification, error) {
	var f *flow
	err := m.update(ctx, func(tx store.Tx) error {
		if len(deviceIDs) == 0 {
			devs, err := m.devices(ctx, tx, userID)
			if err != nil {
				return err
			}
			for _, d := range devs {
				if userID != m.owner.UserID || d.Keys.DeviceID != m.owner.DeviceID {
					deviceIDs = append(deviceIDs, d.Keys.DeviceID)
				}
			}
		}
		if len(deviceIDs) == 0 {
			return fmt.Errorf("%w: %s", ErrNoDevices, userID)
		}
		id, err := m.newID()
		if err != nil {
			return err
		}
		methods, err := m.ourMethods(ctx, tx)
		if err != nil {
			return err
		}
		now := m.clock()
		f = &flow{ID: id, OtherUser: userID, Targets: slices.Clone(deviceIDs), WeRequested: true,
			State: VerificationRequested, Created: now, OurMethods: methods}
		if len(deviceIDs) == 1 {
			f.OtherDevice = deviceIDs[0]
		}
		if err := m.sendFlow(ctx, tx, f, typeVerificationRequest, map[string]any{
			"from_device": m.owner.DeviceID, "methods": methods, "timestamp": now.UnixMilli()}); err != nil {
			return err
		}
		return m.saveFlow(ctx, tx, f)
	})
	if err != nil {
		return nil, err
	}
	return m.snapshot(f), nil
}

// RequestVerificationInRoom asks userID to verify in a room (a direct chat with them): it
// queues an m.room.message with msgtype m.key.verification.request as a KindRoomEvent request.
// The flow's id is the event id of that message, known once MarkRequestSent has the server's
// response; until then the returned Verification's ID is provisional (it keeps working).
//
// In-room verification events are queued as plaintext KindRoomEvent requests (Request.EventType
// and Request.Body): in an encrypted room the application encrypts them (EncryptRoomEvent after
// ShareRoomKey, as for its own messages) and sends the m.room.encrypted event with the request's
// transaction id. The MACs authenticate the verification either way.
func (m *Machine) RequestVerificationInRoom(ctx context.Context, roomID, userID string) (*Verification, error) {
	var f *flow
	err := m.update(ctx, func(tx store.Tx) error {
		methods, err := m.ourMethods(ctx, tx)
		if err != nil {
			return err
		}
		reqID, err := m.newID()
		if err != nil {
			return err
		}
		f = &flow{ID: pendingPrefix + reqID, RoomID: roomID, OtherUser: userID, WeRequested: true,
			State: VerificationRequested, Created: m.clock(), OurMethods: methods, PendingReq: reqID}
		body, _ := json.Marshal(map[string]any{
			"msgtype": typeVerificationRequest, "to": userID, "from_device": m.owner.DeviceID, "methods": methods,
			"body": m.owner.UserID + " is requesting to verify your key, but your client does not support in-chat key verification.",
		})
		p := requestParams{EventType: "m.room.message", RoomID: roomID}
		if err := tx.PutOutgoingRequest(ctx, &store.OutgoingRequest{ID: reqID, Type: storedType(KindRoomEvent, p),
			Body: body, Created: m.clock()}); err != nil {
			return err
		}
		if err := tx.PutValue(ctx, valueVerificationReq+reqID, []byte(f.ID)); err != nil {
			return err
		}
		return m.saveFlow(ctx, tx, f)
	})
	if err != nil {
		return nil, err
	}
	return m.snapshot(f), nil
}

// roomEventSent gives an in-room verification request its event id from the server's response
// to the KindRoomEvent request reqID (called by MarkRequestSent inside its transaction).
func (m *Machine) roomEventSent(ctx context.Context, tx store.Tx, reqID string, response []byte) error {
	b, err := tx.Value(ctx, valueVerificationReq+reqID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(b) == 0) {
		return nil // not a verification request
	}
	if err != nil {
		return err
	}
	var resp struct {
		EventID string `json:"event_id"`
	}
	if err := decodeStrict(response, &resp); err != nil {
		return err
	}
	if resp.EventID == "" {
		return fmt.Errorf("%w: no event_id", ErrMalformedResponse)
	}
	f, err := loadFlow(ctx, tx, string(b))
	if err != nil {
		return err
	}
	old := f.ID
	f.ID, f.PendingReq = resp.EventID, ""
	// The old name points to the new one, so a Verification holding the provisional id works.
	alias, _ := json.Marshal(flow{ID: f.ID})
	if err := tx.PutValue(ctx, valueVerificationFlow+old, alias); err != nil {
		return err
	}
	if err := tx.PutValue(ctx, valueVerificationReq+reqID, nil); err != nil {
		return err
	}
	ids, err := flowIDs(ctx, tx)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if id == old {
			ids[i] = f.ID
		}
	}
	if err := putFlowIDs(ctx, tx, ids); err != nil {
		return err
	}
	if f.State == VerificationCancelled && f.CancelledByUs {
		// Cancelled before the request was out: tell the other side now.
		if err := m.sendFlow(ctx, tx, f, typeVerificationCancel, map[string]any{
			"code": string(f.CancelCode), "reason": f.CancelReason}); err != nil {
			return err
		}
	}
	return m.saveFlow(ctx, tx, f)
}

// Verifications returns the verification flows the machine knows, oldest first: the ones in
// progress and the ones that ended within the last hour. It also cancels, with m.timeout, every
// flow older than ten minutes: call it regularly (once per sync loop).
func (m *Machine) Verifications(ctx context.Context) ([]*Verification, error) {
	var out []*Verification
	err := m.update(ctx, func(tx store.Tx) error {
		fs, err := m.allFlows(ctx, tx)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, f := range fs {
			out = append(out, m.snapshot(f))
		}
		return nil
	})
	return out, err
}

// Verification returns the flow with id (ErrUnknownVerification if there is none).
func (m *Machine) Verification(ctx context.Context, id string) (*Verification, error) {
	var v *Verification
	err := m.update(ctx, func(tx store.Tx) error {
		f, err := loadFlow(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := m.expire(ctx, tx, f); err != nil {
			return err
		}
		v = m.snapshot(f)
		return nil
	})
	return v, err
}

// UserVerified reports whether we verified userID's current master key (by SAS or QR code, or,
// for our own user, by trusting it from another of our devices).
func (m *Machine) UserVerified(ctx context.Context, userID string) (bool, error) {
	var ok bool
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		var err error
		ok, err = m.userVerified(ctx, tx, userID)
		return err
	})
	return ok, err
}

func (m *Machine) userVerified(ctx context.Context, tx store.Tx, userID string) (bool, error) {
	b, err := tx.Value(ctx, valueVerifiedUser+userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(b) == 0) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	id, _, err := m.loadIdentity(ctx, tx, userID)
	if err != nil || id.Master == nil {
		return false, err
	}
	msk, err := signing.ParseCrossSigningKey(id.Master)
	if err != nil {
		return false, nil
	}
	return msk.Key.String() == string(b) && !id.Changed, nil
}

// step runs fn on the flow in one transaction, after the timeout check, and refreshes v.
func (v *Verification) step(ctx context.Context, fn func(tx store.Tx, f *flow) error) error {
	m := v.m
	var stepErr error
	err := m.update(ctx, func(tx store.Tx) error {
		f, err := loadFlow(ctx, tx, v.ID)
		if err != nil {
			return err
		}
		if err := m.expire(ctx, tx, f); err != nil {
			return err
		}
		if f.State.terminal() {
			*v = *m.snapshot(f)
			return fmt.Errorf("%w: the flow is %s", ErrVerificationState, f.State)
		}
		stepErr = fn(tx, f)
		var ce *CancelError
		if errors.As(stepErr, &ce) {
			if err := m.cancelFlow(ctx, tx, f, ce.Code, ce.Reason); err != nil {
				return err
			}
		} else if stepErr != nil {
			return stepErr
		} else if err := m.saveFlow(ctx, tx, f); err != nil {
			return err
		}
		*v = *m.snapshot(f)
		return nil
	})
	if err != nil {
		return err
	}
	return stepErr
}

// Refresh reads the flow's current state into v.
func (v *Verification) Refresh(ctx context.Context) error {
	nv, err := v.m.Verification(ctx, v.ID)
	if err != nil {
		return err
	}
	*v = *nv
	return nil
}

// Accept accepts an incoming request: it sends m.key.verification.ready with the methods we
// support. Errors: ErrVerificationState (not an incoming request waiting to be accepted).
func (v *Verification) Accept(ctx context.Context) error {
	return v.step(ctx, func(tx store.Tx, f *flow) error {
		if f.WeRequested || f.State != VerificationRequested {
			return fmt.Errorf("%w: Accept needs an incoming request, the flow is %s", ErrVerificationState, f.State)
		}
		if len(f.common()) == 0 {
			return cancelf(CancelUnknownMethod, "no verification method in common")
		}
		f.State = VerificationReady
		return v.m.sendFlow(ctx, tx, f, typeVerificationReady, map[string]any{
			"from_device": v.m.owner.DeviceID, "methods": f.OurMethods})
	})
}

// Cancel cancels the flow with code (CancelUser when empty), telling the other side.
func (v *Verification) Cancel(ctx context.Context, code CancelCode) error {
	if code == "" {
		code = CancelUser
	}
	err := v.step(ctx, func(tx store.Tx, f *flow) error {
		return cancelf(code, "cancelled by the user")
	})
	return cancelled(err, code)
}

// cancelled turns the *CancelError of a cancel the caller asked for into success.
func cancelled(err error, code CancelCode) error {
	if errors.Is(err, &CancelError{Code: code}) {
		return nil
	}
	return err
}
