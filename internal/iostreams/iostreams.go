// Package iostreams holds the standard streams of a command and decides
// whether stderr is a terminal, so that progress bars and colours appear for
// people and never in pipes, logs or tests (which can force either way).
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// IOStreams is what a command reads and writes. Data goes to Out, anything
// meant for a person (progress, warnings, errors) to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stderrTTY bool

	mu       sync.Mutex
	progress *mpb.Progress
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

// Progress is one download's bar in the streams' shared mpb container:
// bars of concurrent downloads are drawn together, each fitted to the
// terminal's width, with size, percentage, speed and ETA. When stderr is
// not a terminal it counts and draws nothing. It implements io.Writer so it
// can count bytes in an io.TeeReader or io.MultiWriter.
type Progress struct {
	mu    sync.Mutex
	bar   *mpb.Bar
	total int64
	done  int64
}

// NewProgress starts a bar labelled label for total bytes (total <= 0: unknown).
func (s *IOStreams) NewProgress(label string, total int64) *Progress {
	p := &Progress{total: total}
	if !s.stderrTTY {
		return p
	}
	s.mu.Lock()
	if s.progress == nil {
		opts := []mpb.ContainerOption{mpb.WithOutput(s.ErrOut), mpb.WithRefreshRate(100 * time.Millisecond), mpb.WithAutoRefresh()}
		if _, isFile := s.ErrOut.(*os.File); !isFile {
			// A forced terminal that is not one (tests, UDOS_LIB_FORCE_TTY=1
			// into a pipe) has no width to ask for.
			opts = append(opts, mpb.WithWidth(80))
		}
		s.progress = mpb.New(opts...)
	}
	c := s.progress
	s.mu.Unlock()
	name := decor.Name(label, decor.WC{C: decor.DindentRight | decor.DextraSpace})
	if total > 0 {
		p.bar = c.AddBar(total,
			mpb.PrependDecorators(name, decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Name(" "),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f"), decor.Name(" "),
				decor.OnComplete(decor.AverageETA(decor.ET_STYLE_MMSS), "done")))
	} else {
		p.bar = c.New(0, mpb.SpinnerStyle(),
			mpb.PrependDecorators(name, decor.CurrentKibiByte("% .1f")),
			mpb.AppendDecorators(decor.AverageSpeed(decor.SizeB1024(0), "% .1f")))
	}
	return p
}

// Write counts len(b) bytes.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(len(b))
	if p.bar != nil {
		p.bar.IncrBy(len(b))
	}
	return len(b), nil
}

// Add counts n bytes that did not pass through Write (a block copied from
// a local file rather than downloaded).
func (p *Progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.bar != nil {
		p.bar.IncrInt64(n)
	}
}

// Reset restarts the count (a retried download).
func (p *Progress) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = 0
	if p.bar != nil {
		p.bar.SetCurrent(0)
	}
}

// Done completes the bar with the bytes actually seen.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.SetTotal(p.done, true)
	}
}

// StopProgress waits for every bar to draw its last frame and releases the
// terminal. The command layer calls it once before the process exits.
func (s *IOStreams) StopProgress() {
	s.mu.Lock()
	c := s.progress
	s.progress = nil
	s.mu.Unlock()
	if c != nil {
		c.Wait()
	}
}
