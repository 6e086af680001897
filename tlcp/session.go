package tlcp

import (
	"container/list"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// DefaultSessionCacheSize and DefaultSessionLifetime are the bounds of a
// SessionCache with zero values.
const (
	DefaultSessionCacheSize = 4096
	DefaultSessionLifetime  = 2 * time.Hour
)

// session is what a resumption needs (GB/T 38636-2020 6.4.5.2: session
// ID, cipher suite, master secret, peer certificates).
type session struct {
	id          []byte
	suite       uint16
	master      []byte
	peerCerts   []*smx509.Certificate
	created     time.Time
	serverLabel string // client side: the server the session is with
}

// SessionCache holds sessions for resumption, least recently used
// evicted first: a server's keyed by session ID, a client's by server.
// Safe for concurrent use; share one between the connections of a
// listener or of a dialer.
type SessionCache struct {
	size     int
	lifetime time.Duration

	mu    sync.Mutex // guards lru and byKey
	lru   *list.List // of *cacheEntry, most recent first
	byKey map[string]*list.Element
}

// NewSessionCache returns a cache of at most size sessions, each
// usable for lifetime after its full handshake. Zero size means
// DefaultSessionCacheSize; zero lifetime DefaultSessionLifetime.
func NewSessionCache(size int, lifetime time.Duration) *SessionCache {
	if size <= 0 {
		size = DefaultSessionCacheSize
	}
	if lifetime <= 0 {
		lifetime = DefaultSessionLifetime
	}
	return &SessionCache{size: size, lifetime: lifetime, lru: list.New(), byKey: make(map[string]*list.Element)}
}

// cacheEntry is one element of SessionCache.lru.
type cacheEntry struct {
	key string
	s   *session
}

// put stores s under key, evicting the oldest entry beyond the size.
func (sc *SessionCache) put(key string, s *session) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e, ok := sc.byKey[key]; ok {
		e.Value.(*cacheEntry).s = s
		sc.lru.MoveToFront(e)
		return
	}
	sc.byKey[key] = sc.lru.PushFront(&cacheEntry{key: key, s: s})
	for sc.lru.Len() > sc.size {
		last := sc.lru.Back()
		sc.lru.Remove(last)
		delete(sc.byKey, last.Value.(*cacheEntry).key)
	}
}

// get returns the session under key if it has not expired at now.
func (sc *SessionCache) get(key string, now time.Time) *session {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e, ok := sc.byKey[key]
	if !ok {
		return nil
	}
	s := e.Value.(*cacheEntry).s
	if now.Sub(s.created) > sc.lifetime {
		sc.lru.Remove(e)
		delete(sc.byKey, key)
		return nil
	}
	sc.lru.MoveToFront(e)
	return s
}

// remove drops the session under key (a failed resumption).
func (sc *SessionCache) remove(key string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e, ok := sc.byKey[key]; ok {
		sc.lru.Remove(e)
		delete(sc.byKey, key)
	}
}
