// Package matrixrtc keeps the media keys of a MatrixRTC call (MSC4143 "MatrixRTC", section
// "End-to-end encryption"; MSC4195 "MatrixRTC using LiveKit backend"), on a machine.Machine.
//
// Each member of a call makes a 32-byte key and sends it to the devices of the other joined
// members, Olm-encrypted, as an m.rtc.encryption_key to-device event; media is encrypted per
// sender with a key derived from it. A Manager does this for our membership of one call: it
// makes our keys, sends them (machine.Machine.SendEncryptedToDevice), rotates them when
// members leave or join and on a schedule, waits UseDelay before using a new one, and accepts
// the members' keys only when they arrived over Olm from the device that sent the member's
// m.rtc.member event, and (unless configured otherwise) when that device is cross-signed by its
// owner (MSC4153). It reads Element Call's io.element.call.encryption_keys format too, and can
// send it.
//
// The caller owns the clock and the network, as with the machine: SetMembers when the joined
// members change, Receive for every to-device event ReceiveSync returns, Tick every second or
// so, and the machine's OutgoingRequests sent in between. Nothing starts a goroutine.
//
// FrameKey and Ratchet are LiveKit's derivations (livekit-client src/e2ee/utils.ts): the
// AES-128-GCM frame key of a participant from its key material, and the next material of the
// ratchet; PasswordFrameKey and PasswordRatchet are the shared-password mode's. docs/matrixrtc.md
// shows how an SFU-side bot or a recorder uses them.
//
// Keys live in memory only, for the length of a call. Key material is secret: it leaves a
// MediaKey only through Bytes and FrameKey, and MediaKey redacts itself in fmt, log/slog and
// encoding/json. Randomness comes from the io.Reader given to NewFrom (crypto/rand for New).
package matrixrtc
