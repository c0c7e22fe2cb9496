package cache

import "sync"

// Store is a concurrency-safe map.
type Store struct {
	mu    sync.Mutex
	items map[string]string
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{items: map[string]string{}}
}

// Get returns the value for key.
func (s *Store) Get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.items[key]
	return v, ok
}
