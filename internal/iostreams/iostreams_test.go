package iostreams

import (
	"regexp"
	"strings"
	"testing"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// frames splits what the bars drew into the lines a terminal would show.
func frames(out string) []string {
	var lines []string
	for _, l := range strings.FieldsFunc(ansi.ReplaceAllString(out, "\n"), func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestProgress(t *testing.T) {
	tests := []struct {
		name   string
		tty    bool
		total  int64
		expect []string
	}{
		{"terminal with total", true, 2048, []string{"pkg", "2.0 KiB / 2.0 KiB", "100 %", "done"}},
		{"terminal without total", true, 0, []string{"pkg", "2.0 KiB"}},
		{"not a terminal stays silent", false, 2048, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _, errOut := Test()
			s.SetStderrTTY(tc.tty)
			p := s.NewProgress("pkg", tc.total)
			if _, err := p.Write(make([]byte, 2048)); err != nil {
				t.Fatal(err)
			}
			p.Done()
			s.StopProgress()
			got := errOut.String()
			if tc.expect == nil && got != "" {
				t.Fatalf("expected no output, got %q", got)
			}
			last := frames(got)
			for _, want := range tc.expect {
				if len(last) == 0 || !strings.Contains(last[len(last)-1], want) {
					t.Fatalf("last frame of %q lacks %q", got, want)
				}
			}
			for _, l := range last {
				if n := len([]rune(l)); n > 80 {
					t.Fatalf("frame %q is %d columns, wider than the 80 of the forced terminal", l, n)
				}
				if strings.Contains(l, "iBiB") {
					t.Fatalf("stale characters in %q", l)
				}
			}
		})
	}
}

func TestConcurrentBarsDrawnTogether(t *testing.T) {
	s, _, _, errOut := Test()
	s.SetStderrTTY(true)
	a, b := s.NewProgress("first.udos-package", 4096), s.NewProgress("second.udos-package", 1024)
	a.Write(make([]byte, 4096))
	b.Write(make([]byte, 512))
	b.Reset() // a retried download starts again from zero
	b.Write(make([]byte, 1024))
	a.Done()
	b.Done()
	s.StopProgress()
	out := strings.Join(frames(errOut.String()), "\n")
	for _, want := range []string{"first.udos-package", "second.udos-package", "4.0 KiB / 4.0 KiB", "1.0 KiB / 1.0 KiB"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSystemForce(t *testing.T) {
	if !System("1").IsStderrTTY() {
		t.Fatal("forced TTY not honoured")
	}
	if System("0").IsStderrTTY() {
		t.Fatal("forced non-TTY not honoured")
	}
}
