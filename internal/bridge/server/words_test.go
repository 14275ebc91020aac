package server

import (
	"reflect"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "ucode STATUS", want: []string{"ucode", "STATUS"}},
		{in: `ucode 'a b' "c \"d\"" e\ f`, want: []string{"ucode", "a b", `c "d"`, "e f"}},
		{in: "ucode $(id) ; `x` *", want: []string{"ucode", "$(id)", ";", "`x`", "*"}},
		{in: "ucode ''", want: []string{"ucode", ""}},
		{in: "   ", want: nil},
		{in: "ucode 'open", bad: true},
		{in: `ucode "open`, bad: true},
		{in: `ucode \`, bad: true},
	} {
		got, err := SplitCommand(tc.in)
		if (err != nil) != tc.bad || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, argv := range [][]string{
		{"ucode", "plain"}, {"ucode", "it's", `"q"`, "a\tb", "\n", "", "$HOME", `\`},
	} {
		got, err := SplitCommand(Quote(argv))
		if err != nil || !reflect.DeepEqual(got, argv) {
			t.Errorf("round trip of %q via %q = %q, %v", argv, Quote(argv), got, err)
		}
	}
}
