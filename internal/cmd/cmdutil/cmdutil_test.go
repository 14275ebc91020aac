package cmdutil

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestExecuteInterleavedFlags(t *testing.T) {
	var force bool
	var got []string
	c := &Command{Name: "x", Usage: "x", Flags: func(fs *flag.FlagSet) { fs.BoolVar(&force, "force", false, "") },
		Run: func(args []string) error { got = args; return nil }}
	if err := c.Execute([]string{"a", "--force", "b"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !force || strings.Join(got, ",") != "a,b" {
		t.Fatalf("force=%v args=%v", force, got)
	}
	err := c.Execute([]string{"--nope"}, io.Discard)
	if !IsUsage(err) {
		t.Fatalf("error %v is not a usage error", err)
	}
}
