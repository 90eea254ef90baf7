package rustpeer

import (
	"encoding/base64"
	"encoding/json"
)

// Interactive verification (spec "Device verification",
// https://spec.matrix.org/v1.19/client-server-api/#device-verification) on the rust machine:
// its VerificationRequest, Sas and Qr objects, through the commands of node/verification.mjs.
// A *Request a call returns must be sent and marked sent like the machine's other requests.

// VerificationRequest is the state of one of the rust machine's verification requests.
type VerificationRequest struct {
	FlowID       string   `json:"flow_id"`
	Phase        string   `json:"phase"` // a VerificationRequestPhase name: Created, Requested, Ready, Transitioned, Done, Cancelled
	WeStarted    bool     `json:"we_started"`
	OtherDevice  string   `json:"other_device"`
	TheirMethods []string `json:"their_methods"`
	Cancel       *Cancel  `json:"cancel"`
	Done         bool     `json:"done"`
}

// Cancel is how a flow was cancelled.
type Cancel struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
	ByUs   bool   `json:"by_us"`
}

// SASState is the state of the rust machine's SAS flow.
type SASState struct {
	Accepted       bool    `json:"accepted"`
	CanBePresented bool    `json:"can_be_presented"`
	EmojiIndex     []int   `json:"emoji_index"`
	Decimals       []int   `json:"decimals"`
	WeConfirmed    bool    `json:"we_confirmed"`
	Done           bool    `json:"done"`
	Cancel         *Cancel `json:"cancel"`
}

// QRState is the state of the rust machine's QR flow.
type QRState struct {
	Scanned      bool    `json:"scanned"`
	Confirmed    bool    `json:"confirmed"`
	Reciprocated bool    `json:"reciprocated"`
	Done         bool    `json:"done"`
	Cancel       *Cancel `json:"cancel"`
}

func flow(userID, flowID string) map[string]any {
	return map[string]any{"user_id": userID, "flow_id": flowID}
}

// RequestVerification asks a device to verify (Device.requestVerification with every method);
// it returns the flow id and the to-device request to send.
func (p *Peer) RequestVerification(userID, deviceID string) (string, *Request, error) {
	var out struct {
		FlowID  string   `json:"flow_id"`
		Request *Request `json:"request"`
	}
	err := p.call("request_verification", map[string]any{"user_id": userID, "device_id": deviceID}, &out)
	return out.FlowID, out.Request, err
}

// VerificationRequests lists the machine's verification requests with a user.
func (p *Peer) VerificationRequests(userID string) ([]VerificationRequest, error) {
	var out []VerificationRequest
	return out, p.call("verification_requests", map[string]any{"user_id": userID}, &out)
}

// AcceptVerification accepts a request with every method (m.key.verification.ready).
func (p *Peer) AcceptVerification(userID, flowID string) (*Request, error) {
	var out *Request
	return out, p.call("accept_verification", flow(userID, flowID), &out)
}

// StartSAS starts SAS on a ready request.
func (p *Peer) StartSAS(userID, flowID string) (*Request, error) {
	var out *Request
	return out, p.call("start_sas", flow(userID, flowID), &out)
}

// SAS returns the SAS flow's state.
func (p *Peer) SAS(userID, flowID string) (*SASState, error) {
	var out SASState
	return &out, p.call("sas", flow(userID, flowID), &out)
}

// AcceptSAS accepts the other side's SAS start (nil when already accepted).
func (p *Peer) AcceptSAS(userID, flowID string) (*Request, error) {
	var out *Request
	return out, p.call("accept_sas", flow(userID, flowID), &out)
}

// ConfirmSAS confirms that the codes match.
func (p *Peer) ConfirmSAS(userID, flowID string) ([]Request, error) {
	var out []Request
	return out, p.call("confirm_sas", flow(userID, flowID), &out)
}

// GenerateQR returns the payload of the QR code the machine shows, nil if it cannot show one.
func (p *Peer) GenerateQR(userID, flowID string) ([]byte, error) {
	var out *struct {
		Bytes string `json:"bytes"`
	}
	if err := p.call("generate_qr", flow(userID, flowID), &out); err != nil || out == nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(out.Bytes)
}

// ScanQR scans the other side's QR code and returns the reciprocation to send.
func (p *Peer) ScanQR(userID, flowID string, payload []byte) (*Request, error) {
	args := flow(userID, flowID)
	args["bytes"] = base64.StdEncoding.EncodeToString(payload)
	var out *Request
	return out, p.call("scan_qr", args, &out)
}

// QR returns the QR flow's state.
func (p *Peer) QR(userID, flowID string) (*QRState, error) {
	var out QRState
	return &out, p.call("qr", flow(userID, flowID), &out)
}

// ConfirmQR confirms that the other side scanned our code.
func (p *Peer) ConfirmQR(userID, flowID string) (*Request, error) {
	var out *Request
	return out, p.call("confirm_qr", flow(userID, flowID), &out)
}

// UserVerified reports whether the machine verified a user's identity.
func (p *Peer) UserVerified(userID string) (bool, error) {
	var out bool
	return out, p.call("user_verified", map[string]any{"user_id": userID}, &out)
}

// ReceiveVerificationEvent hands the machine an in-room verification event (decrypted).
func (p *Peer) ReceiveVerificationEvent(roomID string, event json.RawMessage) error {
	return p.call("receive_verification_event", map[string]any{"room_id": roomID, "event": event}, nil)
}

// RoomRequestContent returns the content of an in-room verification request to userID (an
// m.room.message); after sending it, RequestVerificationInRoom starts the flow.
func (p *Peer) RoomRequestContent(userID string) (json.RawMessage, error) {
	var out json.RawMessage
	return out, p.call("room_request_content", map[string]any{"user_id": userID}, &out)
}

// RequestVerificationInRoom starts the flow of a sent in-room request; the flow id is its
// event id.
func (p *Peer) RequestVerificationInRoom(userID, roomID, eventID string) (string, error) {
	var out string
	return out, p.call("request_verification_in_room", map[string]any{"user_id": userID, "room_id": roomID, "event_id": eventID}, &out)
}
