package sonic_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/coreinst/coretest"
	"github.com/fredbook/udos-dist/internal/scripttest"
	"github.com/fredbook/udos-dist/internal/sonic/update/updatetest"
)

// udosLibMain is udos-lib's main for the scripts.
func udosLibMain() int {
	return root.Main(os.Args[1:], "0", nil)
}

// imageSize is small so the scripts stay fast; the block logic is the same
// at any size (BENCHMARKS.md has the figures of a large one).
const imageSize = 2<<20 + 1234

// releases is Sonic 1.4.3 and 1.4.6 (1.4.6 changes 5 % of each image in 4
// places), each with an amd64 and an arm64 image.
var releases = &coretest.Fixture{Prefix: "sonic-releases-", Build: func(ctx context.Context, dir string, key *coretest.Key) error {
	old := map[string][]byte{"amd64": updatetest.Image(imageSize, 1, 0, 0), "arm64": updatetest.Image(imageSize, 2, 0, 0)}
	if err := updatetest.ReleaseArches(ctx, dir, "1.4.3", "", old, key); err != nil {
		return err
	}
	return updatetest.ReleaseArches(ctx, dir, "1.4.6", "1.4.3", map[string][]byte{
		"amd64": updatetest.Image(imageSize, 1, 0.05, 4), "arm64": updatetest.Image(imageSize, 2, 0.05, 4),
	}, key)
}}

func TestUpdateScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			if err := releases.Setup(env); err != nil {
				return err
			}
			env.Setenv("XDG_CACHE_HOME", filepath.Join(env.WorkDir, ".cache"))
			env.Setenv("UDOS_LIB_RETRY_BACKOFF", "10ms")
			env.Setenv("UDOS_LIB_HTTP_TIMEOUT", "5s")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"httpserve": scripttest.HTTPServe,
			"flipbyte":  cmdFlipByte,
			"waitjob":   cmdWaitJob,
		},
	})
}

// flipbyte FILE OFFSET|OTHER: invert one byte of FILE (a tampered block):
// at OFFSET, or the first byte where FILE differs from the file OTHER.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET|OTHER")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	off, err := strconv.Atoi(args[1])
	if err != nil {
		other, err := os.ReadFile(ts.MkAbs(args[1]))
		ts.Check(err)
		for off = 0; off < len(b) && off < len(other) && b[off] == other[off]; off++ {
		}
	}
	b[off] ^= 0xff
	ts.Check(os.WriteFile(p, b, 0o644))
}

// waitjob DIR: wait (at most two minutes) until the background update in
// DIR has finished, failed or stopped.
func cmdWaitJob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitjob DIR")
	}
	status := filepath.Join(ts.MkAbs(args[0]), ".udos-sonic-update.json")
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var st struct {
			State string `json:"state"`
			PID   int    `json:"pid"`
		}
		b, err := os.ReadFile(status)
		if err != nil || json.Unmarshal(b, &st) != nil {
			continue
		}
		if st.State != "running" || syscall.Kill(st.PID, 0) != nil {
			return
		}
	}
	ts.Fatalf("the background update in %s is still running after two minutes", args[0])
}
