package checksum

import (
	"strings"
	"testing"
)

func TestAlgorithmValid(t *testing.T) {
	cases := []struct {
		name string
		a    Algorithm
		s    string
		want bool
	}{
		{"sha256 ok", SHA256, strings.Repeat("0a", 32), true},
		{"sha256 upper-case", SHA256, strings.Repeat("0A", 32), false},
		{"sha256 short", SHA256, strings.Repeat("0a", 31), false},
		{"sha256 non-hex", SHA256, strings.Repeat("0g", 32), false},
		{"sha512 ok", SHA512, strings.Repeat("ff", 64), true},
		{"sha512 given a sha256", SHA512, strings.Repeat("ff", 32), false},
		{"unknown algorithm", Algorithm("md5"), strings.Repeat("ff", 16), false},
		{"empty", SHA256, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.a.Valid(c.s); got != c.want {
				t.Fatalf("Valid(%q) = %v, want %v", c.s, got, c.want)
			}
		})
	}
}
