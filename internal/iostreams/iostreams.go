// Package iostreams holds the standard streams of a command and decides
// whether stderr is a terminal, so that progress bars and colours appear for
// people and never in pipes, logs or tests (which can force either way).
package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// IOStreams is what a command reads and writes. Data goes to Out, anything
// meant for a person (progress, warnings, errors) to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stderrTTY bool
}

// System returns the process's streams. forceTTY is "1"/"true" to force a
// terminal, "0"/"false" to force none, anything else to detect it.
func System(forceTTY string) *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	switch strings.ToLower(forceTTY) {
	case "1", "true", "yes":
		s.stderrTTY = true
	case "0", "false", "no":
		s.stderrTTY = false
	default:
		s.stderrTTY = isTerminal(os.Stderr)
	}
	return s
}

// Test returns streams backed by buffers (in, out, errOut), never a terminal.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// SetStderrTTY forces the terminal decision (tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// IsStderrTTY reports whether progress output should be drawn.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	return fi.Mode()&os.ModeCharDevice != 0
}

// Progress draws a one-line progress bar on ErrOut when it is a terminal and
// is silent otherwise. It implements io.Writer so it can count bytes in an
// io.TeeReader or io.MultiWriter.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	enabled bool
	label   string
	total   int64
	done    int64
	last    time.Time
	now     func() time.Time
}

// NewProgress starts a bar labelled label for total bytes (total <= 0: unknown).
func (s *IOStreams) NewProgress(label string, total int64) *Progress {
	return &Progress{w: s.ErrOut, enabled: s.stderrTTY, label: label, total: total, now: time.Now}
}

// Write counts n bytes and redraws at most ten times a second.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(len(b))
	if p.enabled {
		if t := p.now(); t.Sub(p.last) >= 100*time.Millisecond || (p.total > 0 && p.done >= p.total) {
			p.last = t
			p.draw()
		}
	}
	return len(b), nil
}

// Reset restarts the count (a retried download).
func (p *Progress) Reset() {
	p.mu.Lock()
	p.done = 0
	p.mu.Unlock()
}

func (p *Progress) draw() {
	const width = 30
	if p.total > 0 {
		frac := float64(p.done) / float64(p.total)
		if frac > 1 {
			frac = 1
		}
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r%-40.40s [%s%s] %3d%% %s", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), int(frac*100), humanBytes(p.done))
		return
	}
	fmt.Fprintf(p.w, "\r%-40.40s %s", p.label, humanBytes(p.done))
}

// Done finishes the line.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.enabled {
		p.draw()
		fmt.Fprint(p.w, "\n")
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
