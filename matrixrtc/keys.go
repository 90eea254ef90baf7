package matrixrtc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/machine"
)

// Member is one member joined to a MatrixRTC slot: the user and device that sent its
// m.rtc.member event (the room event's sender, and the device that encrypted it, from
// machine.EncryptionInfo.SenderDevice) and the event's member.id. Nothing in it is secret.
type Member struct {
	UserID, DeviceID, MemberID string
}

// Defaults of Config.
const (
	// DefaultUseDelay is MSC4143's RECOMMENDED delay between sending a new key and using it.
	DefaultUseDelay = 5 * time.Second
	// DefaultRotationPeriod is how long a key is used before it is replaced even when nobody
	// joins or leaves: sicher's choice, as MSC4143 names no period.
	DefaultRotationPeriod = time.Hour
)

// Config describes our membership of one call.
type Config struct {
	// Machine is our device's machine: it sends and decrypts the to-device events. Required.
	Machine *machine.Machine
	// RoomID is the call's room and MemberID our m.rtc.member event's member.id. Required.
	RoomID, MemberID string
	// UseDelay is the time between sending a new key and encrypting with it; zero means
	// DefaultUseDelay, a negative value none.
	UseDelay time.Duration
	// GracePeriod lets a member who joins get the current key instead of a rotation while
	// that key is younger than this (matrix-js-sdk's keyRotationGracePeriodMs, 10 s): the
	// joiner may then decrypt up to GracePeriod of media from before it joined. Zero means
	// every join rotates.
	GracePeriod time.Duration
	// RotationPeriod is how long a key is used at most; zero means DefaultRotationPeriod.
	RotationPeriod time.Duration
	// InsecureAcceptNotCrossSigned accepts keys from, and sends ours to, devices that their
	// owner did not cross-sign (or whose owner's identity changed without acknowledgement).
	// MSC4143 says to discard them, following MSC4153.
	InsecureAcceptNotCrossSigned bool
	// SendLegacy also sends each key as io.element.call.encryption_keys, the to-device
	// format Element Call read before m.rtc.encryption_key.
	SendLegacy bool
	// Logger receives diagnostics (never keys); nil discards them.
	Logger *slog.Logger
}

// ErrConfig reports a Config without a required field.
var ErrConfig = errors.New("matrixrtc: incomplete config")

// ownKey is one of our keys.
type ownKey struct {
	index    uint8
	material [MaterialSize]byte
	created  time.Time
}

// peerKeys are the keys received from one member, by index.
type peerKeys struct {
	byIndex map[uint8]MediaKey
	latest  uint8
}

// Manager is the media-key manager of our membership of one MatrixRTC call (MSC4143 "MatrixRTC",
// section "End-to-end encryption", per-member keys): it makes our keys, sends them over Olm to
// the joined members, rotates them, and accepts the members' keys after checking who sent
// them. The caller drives it, owning the clock: SetMembers when the joined m.rtc.member events
// change, Receive for each to-device event, and Tick now and then (once a second is plenty).
//
// Keys live in memory only, for the life of the Manager (a call): a restarted client joins
// with a new member id and new keys. A Manager holds secret keys; it is safe for concurrent
// use.
type Manager struct {
	mu   sync.Mutex
	cfg  Config
	own  Member
	rand io.Reader
	log  *slog.Logger

	members map[Member]bool // the joined members, without us
	started bool

	current     *ownKey // the key we encrypt with
	pending     *ownKey // a new key sent and not used yet
	activeAt    time.Time
	rotateAgain bool // a member left while pending was on its way: do not use it
	nextIndex   uint8
	recipients  map[Member]bool // who was sent the newest key
	unsent      map[Member]bool // joined members the newest key could not be sent to yet

	peers map[Member]*peerKeys
}

// New returns the key manager of our membership, reading keys from crypto/rand.
func New(cfg Config) (*Manager, error) { return NewFrom(nil, cfg) }

// NewFrom is New with the keys read from rnd (nil means crypto/rand). A Config without
// Machine, RoomID or MemberID gives ErrConfig. No key exists before the first SetMembers.
func NewFrom(rnd io.Reader, cfg Config) (*Manager, error) {
	if cfg.Machine == nil || cfg.RoomID == "" || cfg.MemberID == "" {
		return nil, ErrConfig
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	switch {
	case cfg.UseDelay == 0:
		cfg.UseDelay = DefaultUseDelay
	case cfg.UseDelay < 0:
		cfg.UseDelay = 0
	}
	if cfg.RotationPeriod <= 0 {
		cfg.RotationPeriod = DefaultRotationPeriod
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		cfg: cfg, rand: rnd, log: log,
		own:     Member{UserID: cfg.Machine.UserID(), DeviceID: cfg.Machine.DeviceID(), MemberID: cfg.MemberID},
		members: map[Member]bool{}, recipients: map[Member]bool{}, unsent: map[Member]bool{},
		peers: map[Member]*peerKeys{},
	}, nil
}

// Own returns our member.
func (k *Manager) Own() Member { return k.own }

// SetMembers hands the manager the members joined to the slot now (MSC4143 "Joining a slot":
// the m.rtc.member events considered joined, with the device that encrypted each); ours may be
// among them. The first call makes our first key, used at once. Later calls rotate when
// someone left (the new key goes to the remaining members only, and is used after UseDelay),
// and when someone joined, unless our newest key is younger than GracePeriod or not in use
// yet: then the joiners get that key. Keys of members who left are forgotten.
//
// The members' users are tracked on the machine (UpdateTrackedUsers). Devices that cannot be
// sent to yet (device list not queried, no Olm session: the machine queues the /keys/query
// and /keys/claim) are tried again by Tick; send the machine's OutgoingRequests in between.
// Errors are the machine's; the membership is recorded even then, and Tick sends again.
func (k *Manager) SetMembers(ctx context.Context, now time.Time, members []Member) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	next := map[Member]bool{}
	users := []string{k.own.UserID}
	for _, mb := range members {
		if mb == k.own || mb.UserID == "" || mb.DeviceID == "" || mb.MemberID == "" {
			continue
		}
		next[mb] = true
		users = append(users, mb.UserID)
	}
	var joined, left []Member
	for mb := range next {
		if !k.members[mb] {
			joined = append(joined, mb)
		}
	}
	for mb := range k.members {
		if !next[mb] {
			left = append(left, mb)
			delete(k.peers, mb)
			delete(k.unsent, mb)
		}
	}
	k.members = next
	if err := k.cfg.Machine.UpdateTrackedUsers(ctx, users); err != nil {
		return err
	}
	switch {
	case !k.started:
		k.started = true
		return k.rotate(ctx, now, true)
	case len(left) > 0 && k.pending != nil:
		// The pending key reached a member who left: replace it when its delay ends
		// (MSC4143 "Rotating keys" coalesces rotations so), and meanwhile give it to the
		// joiners, who will get the replacement too.
		k.rotateAgain = true
		return k.sendNewest(ctx, now, joined)
	case len(left) > 0:
		return k.rotate(ctx, now, false)
	case len(joined) == 0:
		return nil
	case k.pending != nil || now.Sub(k.current.created) < k.cfg.GracePeriod:
		return k.sendNewest(ctx, now, joined)
	default:
		return k.rotate(ctx, now, false)
	}
}

// Tick lets time pass: it starts using a pending key once its delay is over (or replaces it
// if a member left meanwhile), rotates a key older than RotationPeriod, and sends the newest
// key to joined members it could not reach before. It reports whether the key we encrypt
// with changed (SendingKey). Errors are the machine's.
func (k *Manager) Tick(ctx context.Context, now time.Time) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.started {
		return false, nil
	}
	switched := false
	if k.pending != nil && !now.Before(k.activeAt) {
		if k.rotateAgain {
			k.pending, k.rotateAgain = nil, false
			return false, k.rotate(ctx, now, false)
		}
		k.current, k.pending = k.pending, nil
		switched = true
	}
	if k.pending == nil && now.Sub(k.current.created) >= k.cfg.RotationPeriod {
		return switched, k.rotate(ctx, now, false)
	}
	if len(k.unsent) > 0 {
		var again []Member
		for mb := range k.unsent {
			again = append(again, mb)
		}
		return switched, k.sendNewest(ctx, now, again)
	}
	return switched, nil
}

// rotate makes a new key and sends it to every joined member. The first key is used at once,
// later ones after UseDelay.
func (k *Manager) rotate(ctx context.Context, now time.Time, first bool) error {
	nk := &ownKey{index: k.nextIndex, created: now}
	if _, err := io.ReadFull(k.rand, nk.material[:]); err != nil {
		return fmt.Errorf("matrixrtc: reading randomness: %w", err)
	}
	k.nextIndex++ // wraps at 256: MSC4143 indices are 0–255
	if first || k.cfg.UseDelay == 0 {
		k.current, k.pending = nk, nil
	} else {
		k.pending, k.activeAt = nk, now.Add(k.cfg.UseDelay)
	}
	k.recipients, k.unsent = map[Member]bool{}, map[Member]bool{}
	all := make([]Member, 0, len(k.members))
	for mb := range k.members {
		all = append(all, mb)
	}
	return k.sendNewest(ctx, now, all)
}

// newest is the key the members must hold: the pending one, else the current one.
func (k *Manager) newest() *ownKey {
	if k.pending != nil {
		return k.pending
	}
	return k.current
}

// sendNewest sends the newest key to those of to that are joined and have not received it,
// and records who could not be reached.
func (k *Manager) sendNewest(ctx context.Context, now time.Time, to []Member) error {
	nk := k.newest()
	sort.Slice(to, func(i, j int) bool { return memberLess(to[i], to[j]) })
	var targets []machine.DeviceTarget
	byDevice := map[machine.DeviceTarget][]Member{}
	for _, mb := range to {
		if !k.members[mb] || k.recipients[mb] {
			continue
		}
		ok, err := k.admitted(ctx, mb)
		if err != nil {
			return err
		}
		if !ok {
			k.unsent[mb] = true
			continue
		}
		// Unsent until the machine says it queued the key: a failure below is retried by Tick.
		k.unsent[mb] = true
		t := machine.DeviceTarget{UserID: mb.UserID, DeviceID: mb.DeviceID}
		if byDevice[t] == nil {
			targets = append(targets, t)
		}
		byDevice[t] = append(byDevice[t], mb)
	}
	if len(targets) == 0 {
		return nil
	}
	content, err := keyContent(k.cfg.RoomID, k.own, nk, now)
	if err != nil {
		return err
	}
	rep, err := k.cfg.Machine.SendEncryptedToDevice(ctx, EventTypeKey, content, targets)
	if rep != nil {
		for _, t := range rep.Sent {
			for _, mb := range byDevice[t] {
				k.recipients[mb] = true
				delete(k.unsent, mb)
			}
		}
		if k.cfg.SendLegacy && len(rep.Sent) > 0 && err == nil {
			legacy, lerr := legacyContent(k.cfg.RoomID, k.own, nk, now)
			if lerr != nil {
				return lerr
			}
			_, err = k.cfg.Machine.SendEncryptedToDevice(ctx, EventTypeLegacyKeys, legacy, rep.Sent)
		}
	}
	return err
}

// admitted reports whether our key may go to a member's device: it is known, not
// blacklisted, and cross-signed unless the config says otherwise.
func (k *Manager) admitted(ctx context.Context, mb Member) (bool, error) {
	dev, err := k.device(ctx, mb.UserID, mb.DeviceID)
	if err != nil || dev == nil {
		return false, err
	}
	return k.trustError(dev) == nil, nil
}

func (k *Manager) device(ctx context.Context, user, deviceID string) (*machine.Device, error) {
	devs, err := k.cfg.Machine.Devices(ctx, user)
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

// trustError says why a device's keys are refused, or nil.
func (k *Manager) trustError(dev *machine.Device) error {
	switch {
	case dev.Blacklisted:
		return ErrBlacklisted
	case k.cfg.InsecureAcceptNotCrossSigned:
		return nil
	case !dev.CrossSigned || dev.IdentityChanged:
		return ErrNotCrossSigned
	}
	return nil
}

func memberLess(a, b Member) bool {
	if a.UserID != b.UserID {
		return a.UserID < b.UserID
	}
	if a.DeviceID != b.DeviceID {
		return a.DeviceID < b.DeviceID
	}
	return a.MemberID < b.MemberID
}

// SendingKey returns the key we encrypt our media with, if there is one yet.
func (k *Manager) SendingKey() (MediaKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current == nil {
		return MediaKey{}, false
	}
	return MediaKey{Member: k.own, Index: k.current.index, material: k.current.material, size: MaterialSize, Received: k.current.created}, true
}

// PeerKey returns the key a joined member sent with an index.
func (k *Manager) PeerKey(mb Member, index uint8) (MediaKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.peers[mb]
	if p == nil {
		return MediaKey{}, false
	}
	key, ok := p.byIndex[index]
	return key, ok
}

// LatestPeerKey returns the key a joined member sent last.
func (k *Manager) LatestPeerKey(mb Member) (MediaKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.peers[mb]
	if p == nil {
		return MediaKey{}, false
	}
	return p.byIndex[p.latest], true
}

// Members returns the joined members (without us), sorted.
func (k *Manager) Members() []Member {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]Member, 0, len(k.members))
	for mb := range k.members {
		out = append(out, mb)
	}
	sort.Slice(out, func(i, j int) bool { return memberLess(out[i], out[j]) })
	return out
}

// MediaKey is a member's media key with its index: the key material of the member's LiveKit
// participant (FrameKey derives the frame key from it). The material is secret: it leaves
// only through Bytes and FrameKey, and MediaKey redacts itself in fmt and log/slog.
type MediaKey struct {
	Member Member
	Index  uint8
	// Received is when the key arrived (for our own keys: when it was made).
	Received time.Time
	material [MaterialSize]byte
	size     int
}

// Bytes returns a copy of the key material (32 bytes; 16 for keys received from clients that
// make 16-byte keys in the legacy format). It is secret.
func (m MediaKey) Bytes() []byte { return append([]byte(nil), m.material[:m.size]...) }

// FrameKey returns the AES-128-GCM frame key LiveKit derives from the key (FrameKey). It is
// secret.
func (m MediaKey) FrameKey() [FrameKeySize]byte { return FrameKey(m.material[:m.size]) }

// Format prints the member and index, never the material.
func (m MediaKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "matrixrtc.MediaKey{%s/%s %s index %d [redacted]}", m.Member.UserID, m.Member.DeviceID, m.Member.MemberID, m.Index)
}

// LogValue logs the member and index, never the material.
func (m MediaKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", m.Member.UserID), slog.String("device", m.Member.DeviceID),
		slog.String("member", m.Member.MemberID), slog.Int("index", int(m.Index)))
}

// MarshalJSON writes the member and index, never the material.
func (m MediaKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		UserID   string `json:"user_id"`
		DeviceID string `json:"device_id"`
		MemberID string `json:"member_id"`
		Index    uint8  `json:"index"`
	}{m.Member.UserID, m.Member.DeviceID, m.Member.MemberID, m.Index})
}

// encodeKey is the format-0 encoding of a key: unpadded standard base64.
func encodeKey(material []byte) string { return b64.EncodeSecret(material) }
