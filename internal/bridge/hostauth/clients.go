package hostauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/fredbook/udos-dist/internal/atomicfile"
)

// Seen is what the host remembers of one client key.
type Seen struct {
	Fingerprint string    `json:"fingerprint"`
	Comment     string    `json:"comment,omitempty"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	LastAddr    string    `json:"last_addr,omitempty"`
}

// ClientLog is the host's record of when each client last connected
// (clients.json), written atomically.
type ClientLog struct {
	File string
	mu   sync.Mutex
}

// Load reads the record; a missing file is empty.
func (c *ClientLog) Load() (map[string]Seen, error) {
	b, err := os.ReadFile(c.File)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Seen{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.File, err)
	}
	var m map[string]Seen
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", c.File, err)
	}
	if m == nil {
		m = map[string]Seen{}
	}
	return m, nil
}

// Touch records a connection of the client with fingerprint fp.
func (c *ClientLog) Touch(fp, comment, addr string, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.Load()
	if err != nil {
		return err
	}
	s := m[fp]
	if s.FirstSeen.IsZero() {
		s.FirstSeen = now.UTC()
	}
	s.Fingerprint, s.Comment, s.LastSeen, s.LastAddr = fp, comment, now.UTC(), addr
	m[fp] = s
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(c.File, append(b, '\n'), 0o600)
}

// Sorted returns the entries ordered by fingerprint.
func Sorted(m map[string]Seen) []Seen {
	out := make([]Seen, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	return out
}
