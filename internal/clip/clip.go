// Package clip shortens operands quoted in error messages. A hostile input
// (a 10 KB version string in a catalog, a 1 MB PAX path) must not turn one
// error line into a wall of text, yet the message should still show enough
// of the operand to find it: the first Max characters and "…".
package clip

import (
	"strconv"
	"unicode/utf8"
)

// Max is how many characters (runes) of an operand an error message keeps.
const Max = 64

// String returns s, or its first Max runes followed by "…" when s is longer.
// It never cuts a UTF-8 sequence in half.
func String(s string) string {
	if utf8.RuneCountInString(s) <= Max {
		return s
	}
	n := 0
	for i := range s {
		if n == Max {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// Quote is strconv.Quote of String(s): a Go-quoted operand, shortened, for
// "%s" in an error format where "%q" would print all of it.
func Quote(s string) string { return strconv.Quote(String(s)) }
