package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"short", "1.2.3", "1.2.3"},
		{"exactly max", strings.Repeat("a", Max), strings.Repeat("a", Max)},
		{"one over", strings.Repeat("a", Max+1), strings.Repeat("a", Max) + "…"},
		{"10 KB version", "1.0.0-" + strings.Repeat("x", 10<<10), "1.0.0-" + strings.Repeat("x", Max-6) + "…"},
		{"multi-byte runes are not cut", strings.Repeat("σ", Max+5), strings.Repeat("σ", Max) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := String(tt.in)
			if got != tt.want {
				t.Errorf("String(%d bytes) = %q, want %q", len(tt.in), got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("String cut a UTF-8 sequence: %q", got)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	if got := Quote("a\"b"); got != `"a\"b"` {
		t.Errorf("Quote = %s", got)
	}
	long := Quote(strings.Repeat("\x00", 10<<10))
	if want := `"` + strings.Repeat(`\x00`, Max) + `…"`; long != want {
		t.Errorf("Quote of 10 KB of NUL = %s, want %s", long, want)
	}
}
