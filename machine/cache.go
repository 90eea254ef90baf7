package machine

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sync"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// DefaultSessionCacheSize is the number of decoded inbound Megolm sessions a machine keeps
// when Config.SessionCacheSize is zero: enough for the active sessions of a few hundred busy
// rooms, a few hundred kilobytes of memory.
const DefaultSessionCacheSize = 1024

// stamp identifies the exact stored form of a record: a SHA-256 over its fields, each with its
// length. A cached object is used only while the store still holds the record it was decoded
// from, so the store stays the truth: a session improved by an import in another machine on
// the same store has another stamp and is decoded again.
type stamp [sha256.Size]byte

type stamper struct{ h hash.Hash }

func newStamper() stamper { return stamper{sha256.New()} }

func (s stamper) bytes(b []byte) stamper {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	s.h.Write(n[:])
	s.h.Write(b)
	return s
}

func (s stamper) string(v string) stamper { return s.bytes([]byte(v)) }

func (s stamper) uint(v uint64) stamper {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], v)
	return s.bytes(n[:])
}

func (s stamper) sum() (st stamp) {
	s.h.Sum(st[:0])
	return st
}

// inboundStamp is the stamp of a stored inbound group session: its pickle and everything the
// machine reads from it.
func inboundStamp(r *store.InboundGroupSession) stamp {
	s := newStamper().string(r.RoomID).string(r.SessionID).string(r.SenderUser).string(r.SenderKey).
		string(r.SigningKey).uint(uint64(r.Provenance)).uint(uint64(r.FirstKnownIndex)).
		uint(uint64(len(r.ForwardingChain)))
	for _, c := range r.ForwardingChain {
		s = s.string(c)
	}
	if r.SharedHistory {
		s = s.uint(1)
	} else {
		s = s.uint(0)
	}
	return s.bytes(r.State).sum()
}

// sessionCache keeps decoded inbound Megolm sessions, least recently used first out. An
// entry is valid only for the stored record with its stamp. Decrypting moves a session's
// latest ratchet forward (megolm.InboundSession), which is why the cache saves more than the
// decoding: with the cache on, DecryptRoomEvent does not write the session back after each
// message, since only that ratchet, which the initial one can always re-derive, changed.
// It is safe for concurrent use: get hands out a clone, put takes one.
type sessionCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cachedSession, most recently used first
	items map[string]*list.Element
}

type cachedSession struct {
	id    string // room id, NUL, session id
	stamp stamp
	info  event.SessionInfo
	sess  *megolm.InboundSession
}

func newSessionCache(size int) *sessionCache {
	if size <= 0 {
		return nil
	}
	return &sessionCache{max: size, order: list.New(), items: map[string]*list.Element{}}
}

func cacheID(roomID, sessionID string) string { return roomID + "\x00" + sessionID }

// get returns a copy of the cached session of (roomID, sessionID) if it was decoded from the
// record with stamp st.
func (c *sessionCache) get(roomID, sessionID string, st stamp) (*megolm.InboundSession, event.SessionInfo, bool) {
	if c == nil {
		return nil, event.SessionInfo{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[cacheID(roomID, sessionID)]
	if !ok {
		return nil, event.SessionInfo{}, false
	}
	cs := e.Value.(*cachedSession)
	if cs.stamp != st {
		c.order.Remove(e)
		delete(c.items, cs.id)
		return nil, event.SessionInfo{}, false
	}
	c.order.MoveToFront(e)
	return cs.sess.Clone(), cs.info, true
}

// put keeps sess (which the caller no longer uses) as the decoded form of the record with
// stamp st.
func (c *sessionCache) put(roomID, sessionID string, st stamp, info event.SessionInfo, sess *megolm.InboundSession) {
	if c == nil {
		return
	}
	id := cacheID(roomID, sessionID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		cs := e.Value.(*cachedSession)
		cs.stamp, cs.info, cs.sess = st, info, sess
		c.order.MoveToFront(e)
		return
	}
	c.items[id] = c.order.PushFront(&cachedSession{id: id, stamp: st, info: info, sess: sess})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cachedSession).id)
	}
}

// deviceCacheSize bounds the cache of verified device keys; when it is full it starts over.
const deviceCacheSize = 4096

// deviceCache remembers the outcome of the signature checks of stored device keys, keyed by
// the stamp of the exact bytes checked (the device keys and the owner's master and
// self-signing keys), so unchanged keys are not verified again on every decryption. It is
// safe for concurrent use.
type deviceCache struct {
	mu    sync.Mutex
	items map[stamp]checkedDevice
}

type checkedDevice struct {
	keys        *signing.DeviceKeys
	crossSigned bool
}

func (c *deviceCache) get(st stamp) (checkedDevice, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.items[st]
	return d, ok
}

func (c *deviceCache) put(st stamp, d checkedDevice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil || len(c.items) >= deviceCacheSize {
		c.items = map[stamp]checkedDevice{}
	}
	c.items[st] = d
}
