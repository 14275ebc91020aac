package wizard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// AuditEntry is one line of the audit trail.
type AuditEntry struct {
	Time      time.Time `json:"time"`
	User      string    `json:"user"`
	Project   string    `json:"project"`
	Action    string    `json:"action"`
	Service   string    `json:"service,omitempty"`
	Container string    `json:"container,omitempty"`
	ExitCode  *int      `json:"exit_code,omitempty"`
	Health    string    `json:"health,omitempty"`
	Message   string    `json:"message,omitempty"`
}

// Audit appends JSON lines to a file and rotates it by size: when a write
// would take the file past MaxBytes, it becomes .1 (the older ones shift to
// .2 … .Keep, the oldest is dropped).
type Audit struct {
	Path     string
	MaxBytes int64 // 0: DefaultAuditMaxBytes
	Keep     int   // rotated files kept; 0: DefaultAuditKeep
	User     string
	Now      func() time.Time

	mu sync.Mutex
}

// Audit defaults.
const (
	DefaultAuditMaxBytes = 10 << 20
	DefaultAuditKeep     = 5
)

// AuditPath is the trail's place under a uDOS root.
func AuditPath(root string) string { return filepath.Join(root, "logs", "wizard-audit.jsonl") }

// Record appends e, filling in time and user.
func (a *Audit) Record(e AuditEntry) error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.Time.IsZero() {
		now := time.Now
		if a.Now != nil {
			now = a.Now
		}
		e.Time = now().UTC()
	}
	if e.User == "" {
		e.User = a.User
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit entry: %w", err)
	}
	line = append(line, '\n')
	if err := os.MkdirAll(filepath.Dir(a.Path), 0o755); err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	if err := a.rotate(int64(len(line))); err != nil {
		return err
	}
	f, err := os.OpenFile(a.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("writing the audit trail %s: %w", a.Path, err)
	}
	return f.Close()
}

func (a *Audit) rotate(adding int64) error {
	max, keep := a.MaxBytes, a.Keep
	if max <= 0 {
		max = DefaultAuditMaxBytes
	}
	if keep <= 0 {
		keep = DefaultAuditKeep
	}
	fi, err := os.Stat(a.Path)
	if err != nil || fi.Size() == 0 || fi.Size()+adding <= max {
		return nil
	}
	os.Remove(fmt.Sprintf("%s.%d", a.Path, keep))
	for i := keep - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", a.Path, i)
		if _, err := os.Stat(from); err == nil {
			if err := os.Rename(from, fmt.Sprintf("%s.%d", a.Path, i+1)); err != nil {
				return fmt.Errorf("rotating the audit trail: %w", err)
			}
		}
	}
	if err := os.Rename(a.Path, a.Path+".1"); err != nil {
		return fmt.Errorf("rotating the audit trail: %w", err)
	}
	return nil
}

// ReadAudit returns the entries of the trail at path, oldest first,
// including the rotated files still kept.
func ReadAudit(path string) ([]AuditEntry, error) {
	var files []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		files = append([]string{p}, files...)
	}
	files = append(files, path)
	var out []AuditEntry
	for _, p := range files {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the audit trail: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		for dec.More() {
			var e AuditEntry
			if err := dec.Decode(&e); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			out = append(out, e)
		}
	}
	return out, nil
}
