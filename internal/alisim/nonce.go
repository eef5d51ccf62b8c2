package alisim

import (
	"sync"
	"time"
)

// nonceWindow is how long a SignatureNonce is remembered, and how far a
// Timestamp may be off the server's wall clock.
const nonceWindow = 15 * time.Minute

// maxNonces bounds the nonce memory; beyond it the oldest nonces are
// forgotten early.
const maxNonces = 100_000

type nonceEntry struct {
	key     string
	expires time.Time
}

// nonceCache remembers recently used (AccessKeyId, SignatureNonce) pairs in
// insertion order, with bounded memory.
type nonceCache struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	queue []nonceEntry // FIFO; queue[head:] is live
	head  int
	max   int
}

func newNonceCache(max int) *nonceCache {
	return &nonceCache{seen: make(map[string]time.Time), max: max}
}

// use records key at time now and reports whether it was fresh (not seen
// within the window).
func (c *nonceCache) use(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.head < len(c.queue) && !c.queue[c.head].expires.After(now) {
		c.pop()
	}
	if exp, ok := c.seen[key]; ok && exp.After(now) {
		return false
	}
	exp := now.Add(nonceWindow)
	c.seen[key] = exp
	c.queue = append(c.queue, nonceEntry{key: key, expires: exp})
	for len(c.queue)-c.head > c.max {
		c.pop()
	}
	if c.head > 1024 && c.head > len(c.queue)/2 {
		c.queue = append([]nonceEntry(nil), c.queue[c.head:]...)
		c.head = 0
	}
	return true
}

func (c *nonceCache) pop() {
	e := c.queue[c.head]
	c.queue[c.head] = nonceEntry{}
	c.head++
	if exp, ok := c.seen[e.key]; ok && exp.Equal(e.expires) {
		delete(c.seen, e.key)
	}
}

// len reports how many nonces are remembered.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
