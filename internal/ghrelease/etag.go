package ghrelease

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// CachedResponse is what an ETagStore keeps of a GET answer: enough to
// replay it (including the Link header, so pagination survives a 304).
type CachedResponse struct {
	ETag        string `json:"etag"`
	ContentType string `json:"content_type,omitempty"`
	Link        string `json:"link,omitempty"`
	Body        []byte `json:"body"`
}

// ETagStore keeps answers to GET requests by key (URL, Accept and whether a
// token was sent — never the token itself). The registry generator persists
// one across runs so an unchanged listing costs a 304 and no rate limit.
type ETagStore interface {
	Get(key string) (CachedResponse, bool)
	Put(key string, r CachedResponse) error
}

// MemoryETagStore is an in-process ETagStore.
type MemoryETagStore struct {
	mu sync.Mutex
	m  map[string]CachedResponse
}

// NewMemoryETagStore returns an empty in-memory store.
func NewMemoryETagStore() *MemoryETagStore {
	return &MemoryETagStore{m: map[string]CachedResponse{}}
}

func (s *MemoryETagStore) Get(key string) (CachedResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	return r, ok
}

func (s *MemoryETagStore) Put(key string, r CachedResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = r
	return nil
}

// Len reports how many answers are cached.
func (s *MemoryETagStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// DirETagStore keeps one JSON file per key in a directory (for example one
// restored by actions/cache), so ETags survive between runs.
type DirETagStore struct {
	Dir string
}

type dirEntry struct {
	Key string `json:"key"`
	CachedResponse
}

func (s DirETagStore) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.Dir, hex.EncodeToString(sum[:])+".json")
}

// Get returns the cached answer; a missing or unreadable file is a miss.
func (s DirETagStore) Get(key string) (CachedResponse, bool) {
	b, err := os.ReadFile(s.path(key))
	if err != nil {
		return CachedResponse{}, false
	}
	var e dirEntry
	if json.Unmarshal(b, &e) != nil || e.Key != key {
		return CachedResponse{}, false
	}
	return e.CachedResponse, true
}

// Put writes the answer atomically (temporary file, then rename).
func (s DirETagStore) Put(key string, r CachedResponse) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("creating ETag cache %q: %w", s.Dir, err)
	}
	b, err := json.Marshal(dirEntry{Key: key, CachedResponse: r})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, ".etag-*")
	if err != nil {
		return fmt.Errorf("writing ETag cache: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing ETag cache %q: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), s.path(key)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing ETag cache: %w", err)
	}
	return nil
}
