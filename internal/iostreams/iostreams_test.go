package iostreams

import (
	"strings"
	"testing"
)

func TestProgress(t *testing.T) {
	tests := []struct {
		name   string
		tty    bool
		total  int64
		expect string
	}{
		{"terminal with total", true, 10, "100%"},
		{"terminal without total", true, 0, "10 B"},
		{"not a terminal stays silent", false, 10, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _, errOut := Test()
			s.SetStderrTTY(tc.tty)
			p := s.NewProgress("pkg", tc.total)
			if _, err := p.Write(make([]byte, 10)); err != nil {
				t.Fatal(err)
			}
			p.Done()
			got := errOut.String()
			if tc.expect == "" && got != "" {
				t.Fatalf("expected no output, got %q", got)
			}
			if !strings.Contains(got, tc.expect) {
				t.Fatalf("output %q lacks %q", got, tc.expect)
			}
		})
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
