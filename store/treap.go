package store

import (
	"hash/fnv"
	"strings"
)

// node is a node of a persistent treap: an immutable sorted map from string to any. Insert and
// remove copy the path they change (O(log n) nodes) and share the rest, so a snapshot of the
// in-memory store is one root pointer per table, and a transaction's writes never touch what
// readers see. The heap priority is a hash of the key, so the shape depends only on the keys.
type node struct {
	key         string
	val         any
	prio        uint64
	left, right *node
}

func priority(k string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k))
	return h.Sum64()
}

func (n *node) get(k string) (any, bool) {
	for n != nil {
		switch {
		case k < n.key:
			n = n.left
		case k > n.key:
			n = n.right
		default:
			return n.val, true
		}
	}
	return nil, false
}

// insert returns a tree with k set to v. The nodes it returns on the changed path are new,
// so it may rotate them in place.
func (n *node) insert(k string, v any, p uint64) *node {
	if n == nil {
		return &node{key: k, val: v, prio: p}
	}
	c := *n
	switch {
	case k < n.key:
		c.left = n.left.insert(k, v, p)
		if c.left.prio > c.prio {
			l := c.left
			c.left, l.right = l.right, &c
			return l
		}
	case k > n.key:
		c.right = n.right.insert(k, v, p)
		if c.right.prio > c.prio {
			r := c.right
			c.right, r.left = r.left, &c
			return r
		}
	default:
		c.val = v
	}
	return &c
}

// remove returns a tree without k.
func (n *node) remove(k string) *node {
	if n == nil {
		return nil
	}
	c := *n
	switch {
	case k < n.key:
		if c.left = n.left.remove(k); c.left == n.left {
			return n
		}
	case k > n.key:
		if c.right = n.right.remove(k); c.right == n.right {
			return n
		}
	default:
		return join(n.left, n.right)
	}
	return &c
}

// join joins two trees whose keys are all smaller in a than in b.
func join(a, b *node) *node {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if a.prio > b.prio {
		c := *a
		c.right = join(a.right, b)
		return &c
	}
	c := *b
	c.left = join(a, b.left)
	return &c
}

// each calls fn on the entries whose key starts with prefix, in key order.
func (n *node) each(prefix string, fn func(v any)) {
	if n == nil {
		return
	}
	in := strings.HasPrefix(n.key, prefix)
	if n.key > prefix {
		n.left.each(prefix, fn)
	}
	if in {
		fn(n.val)
	}
	if in || n.key < prefix {
		n.right.each(prefix, fn)
	}
}
