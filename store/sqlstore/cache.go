package sqlstore

import (
	"bytes"
	"container/list"
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// DefaultCacheSize is the number of unsealed inbound Megolm session states a Store keeps when
// Options.CacheSize is 0.
const DefaultCacheSize = 1024

// Options tunes a Store. The zero value is the default.
type Options struct {
	// CacheSize is the number of inbound Megolm session states (the hot read of room-event
	// decryption) kept unsealed in memory, least recently used evicted first. 0 means
	// DefaultCacheSize; a negative value turns the cache off. The store's memory is bounded
	// by this number, not by the number of sessions stored.
	//
	// The cache holds only the sealed state and its opened plaintext: every read still reads
	// the row, so the clear columns (first known index, backed-up flag) and replay records are
	// always the database's, and the cached plaintext is used only when the row's sealed bytes
	// are exactly the ones it was opened from. A row another process (or a rolled-back
	// transaction) wrote therefore never shows a stale state.
	CacheSize int
}

// openCache remembers the plaintext of sealed values it opened or sealed, by row. An entry is
// used only when the row's sealed bytes equal the entry's, so it can never be stale: a sealed
// value names one plaintext under one key (the AEAD binds them), and the row identity in the
// entry's key is the one in the seal's associated data. Rekey clears it.
type openCache struct {
	max int

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     list.List // front: most recently used; values *cacheEntry

	hits, misses atomic.Int64 // for tests and benchmarks
}

type cacheEntry struct {
	row    string
	sealed []byte
	plain  []byte
}

// newOpenCache returns a cache of n entries, or nil (no cache) for n < 0.
func newOpenCache(n int) *openCache {
	if n == 0 {
		n = DefaultCacheSize
	}
	if n < 0 {
		return nil
	}
	return &openCache{max: n, entries: make(map[string]*list.Element, min(n, 4096))}
}

// rowKey names a row of a table: the length-prefixed row identity of the seal's associated
// data, which no two rows share.
func rowKey(table, column string, pk []string) string {
	return string(rowAD(table, column, pk))
}

// get returns a copy of the plaintext of sealed if it is cached for row.
func (c *openCache) get(row string, sealed []byte) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[row]
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !bytes.Equal(e.sealed, sealed) {
		c.misses.Add(1)
		return nil, false
	}
	c.lru.MoveToFront(el)
	c.hits.Add(1)
	return bytes.Clone(e.plain), true
}

// put records that sealed opens to plain for row; both are copied.
func (c *openCache) put(row string, sealed, plain []byte) {
	if c == nil {
		return
	}
	e := &cacheEntry{row: row, sealed: bytes.Clone(sealed), plain: bytes.Clone(plain)}
	if e.plain == nil {
		e.plain = []byte{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[row]; ok {
		old := el.Value.(*cacheEntry)
		clear(old.plain)
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[row] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		el := c.lru.Back()
		old := c.lru.Remove(el).(*cacheEntry)
		clear(old.plain)
		delete(c.entries, old.row)
	}
}

// replace records the new sealed value of a row that is in the cache (a session written back
// after a decryption); a row that is not is left out.
func (c *openCache) replace(row string, sealed, plain []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	_, ok := c.entries[row]
	c.mu.Unlock()
	if ok {
		c.put(row, sealed, plain)
	}
}

// reset empties the cache, wiping the plaintexts.
func (c *openCache) reset() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.lru.Front(); el != nil; el = el.Next() {
		clear(el.Value.(*cacheEntry).plain)
	}
	c.lru.Init()
	clear(c.entries)
}

// len returns the number of entries.
func (c *openCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// stmtCache holds the statements prepared on one *sql.DB of a SQLite store, so that a
// transaction binds them (Tx.StmtContext, which reuses a statement already prepared on the
// transaction's connection) instead of preparing every statement again. A statement missing
// from it is prepared on the transaction and noted; flush prepares the noted ones on the
// database once the transaction has given its connection back (the writer has only one, so
// preparing on the database inside a transaction would wait for ever). It holds one entry per
// query text of this package, a few dozen.
type stmtCache struct {
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]bool
}

// get returns the statement of q prepared on the database, or nil after noting q for flush.
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	if c.pending == nil {
		c.pending = map[string]bool{}
	}
	c.pending[q] = true
	return nil
}

// flush prepares the statements get noted, outside any transaction.
func (c *stmtCache) flush(ctx context.Context, db *sql.DB) {
	c.mu.Lock()
	var qs []string
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range qs {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			continue // the transaction that used q prepared it itself; so will the next
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		if _, dup := c.m[q]; dup {
			st.Close()
		} else {
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}
