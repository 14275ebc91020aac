package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/scripttest"
	"github.com/fredbook/udos-dist/internal/treetest"
)

func TestMain(m *testing.M) {
	// The crash and concurrency tests run this test binary as udos-lib.
	if os.Getenv("UDOS_LIB_EXEC_MAIN") == "1" {
		os.Exit(run(testPause()))
	}
	// The BENCHMARKS.md figures serve a registry folder with the test
	// server (ETags, request log on stderr) until killed.
	if dir := os.Getenv("UDOS_LIB_BENCH_SERVE"); dir != "" {
		os.Exit(serveForever(dir, os.Getenv("UDOS_LIB_BENCH_ADDR")))
	}
	testscript.Main(m, map[string]func(){
		"udos-lib": func() { os.Exit(run(testPause())) },
	})
}

var (
	serversMu sync.Mutex
	// servers of each script by name ("" is the default one).
	servers = map[*testscript.TestScript]map[string]*faultServer{}
)

func server(ts *testscript.TestScript, name string) *faultServer {
	serversMu.Lock()
	defer serversMu.Unlock()
	return servers[ts][name]
}

func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			if err := writeKeys(filepath.Join(env.WorkDir, "keys")); err != nil {
				return err
			}
			env.Setenv("KEYRING", filepath.Join(env.WorkDir, "keys", "test.pub.asc"))
			env.Setenv("UDOS_LIB_FORCE_TTY", "0")
			env.Setenv("UDOS_LIB_LOCK_TIMEOUT", "20s")
			return scripttest.ClientEnv(env, exampleLibraries(), "2s")
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkregistry": cmdMkregistry,
			"serve":      cmdServe,
			"unserve":    cmdUnserve,
			"cmptree":    cmdCmptree,
			"reqlog":     cmdReqlog,
			"sign":       scripttest.Sign,
			"corrupt":    scripttest.Corrupt,
			"replace":    cmdReplace,
		},
	})
}

// mkregistry [-unsigned] [-unsigned-packages] [-expired] [-only a,b] [-from SRC] DIR
// (-from: library source folders in the script's work dir instead of the
// examples)
func cmdMkregistry(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("mkregistry", flag.ContinueOnError)
	var o regOptions
	only := fs.String("only", "", "comma-separated source folders")
	from := fs.String("from", "", "folder of library sources")
	fs.BoolVar(&o.unsignedCatalog, "unsigned", false, "do not sign catalog.json")
	fs.BoolVar(&o.unsignedPackages, "unsigned-packages", false, "do not sign packages")
	fs.BoolVar(&o.expired, "expired", false, "generate an already expired catalog")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		ts.Fatalf("usage: mkregistry [flags] DIR")
	}
	if *from != "" {
		o.from = ts.MkAbs(*from)
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, n := range strings.Split(*only, ",") {
			o.only[n] = true
		}
	}
	err := buildRegistry(ts.MkAbs(fs.Arg(0)), o)
	if neg {
		if err == nil {
			ts.Fatalf("mkregistry succeeded unexpectedly")
		}
		return
	}
	ts.Check(err)
}

// serve [-name NAME] [-no-etag] [-fail N] [-truncate N] [-stall N] [-only SUBSTR] DIR:
// serves DIR on a loopback port of its own and sets $REGISTRY_URL (with a
// name: $REGISTRY_URL_NAME), so a script can run two registries at once.
// -no-etag answers like python's http.server: Last-Modified and
// If-Modified-Since, no ETag.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	name := fs.String("name", "", "")
	fail := fs.Int("fail", 0, "")
	trunc := fs.Int("truncate", 0, "")
	stall := fs.Int("stall", 0, "")
	only := fs.String("only", "", "")
	noETag := fs.Bool("no-etag", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		ts.Fatalf("usage: serve [-name N] [-no-etag] [-fail N] [-truncate N] [-stall N] [-only S] DIR")
	}
	serversMu.Lock()
	if servers[ts] == nil {
		servers[ts] = map[string]*faultServer{}
		ts.Defer(func() {
			serversMu.Lock()
			for _, s := range servers[ts] {
				s.srv.Close()
			}
			delete(servers, ts)
			serversMu.Unlock()
		})
	}
	s := servers[ts][*name]
	if s == nil {
		s = newFaultServer(ts.MkAbs(fs.Arg(0)))
		servers[ts][*name] = s
	}
	serversMu.Unlock()
	s.mu.Lock()
	s.dir = ts.MkAbs(fs.Arg(0))
	s.fail, s.truncate, s.stall, s.only, s.noETag = *fail, *trunc, *stall, *only, *noETag
	s.mu.Unlock()
	env := "REGISTRY_URL"
	if *name != "" {
		env += "_" + strings.ToUpper(*name)
	}
	ts.Setenv(env, s.srv.URL)
}

// unserve [NAME]: stops a server started by serve; its port then refuses
// connections.
func cmdUnserve(ts *testscript.TestScript, neg bool, args []string) {
	name := ""
	if len(args) == 1 {
		name = args[0]
	}
	s := server(ts, name)
	if s == nil {
		ts.Fatalf("unserve: no server %q", name)
	}
	s.srv.Close()
}

// reqlog [N]: prints the requests served since the last reqlog (one line
// each: METHOD PATH STATUS BYTES) and, with N, fails unless there were N.
func cmdReqlog(ts *testscript.TestScript, neg bool, args []string) {
	s := server(ts, "")
	if s == nil {
		ts.Fatalf("reqlog: no server (use serve first)")
	}
	log := s.takeLog()
	for _, l := range log {
		fmt.Fprintln(ts.Stdout(), l)
	}
	if len(args) == 1 {
		n, err := strconv.Atoi(args[0])
		ts.Check(err)
		if (len(log) == n) == neg {
			ts.Fatalf("reqlog: %d requests, want %s%d", len(log), map[bool]string{true: "not ", false: ""}[neg], n)
		}
	}
}

// replace REGEXP REPLACEMENT FILE: rewrites FILE (portable "sed -i"); it
// fails when nothing matched, so a script cannot silently test nothing.
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: replace REGEXP REPLACEMENT FILE")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	p := ts.MkAbs(args[2])
	b, err := os.ReadFile(p)
	ts.Check(err)
	if !re.Match(b) {
		ts.Fatalf("replace: %q does not occur in %s", args[0], args[2])
	}
	ts.Check(os.WriteFile(p, re.ReplaceAll(b, []byte(args[1])), 0o644))
}

// cmptree A B: fails unless the trees A and B hold the same files with the
// same contents and the same links (udos-lib's cache and lock holder file
// aside, which record where and by whom, not what is installed).
func cmdCmptree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmptree A B")
	}
	a, b := treeListing(ts, ts.MkAbs(args[0])), treeListing(ts, ts.MkAbs(args[1]))
	var diffs []string
	for p, x := range a {
		if y, ok := b[p]; !ok {
			diffs = append(diffs, "only in "+args[0]+": "+p)
		} else if x != y {
			diffs = append(diffs, "differs: "+p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			diffs = append(diffs, "only in "+args[1]+": "+p)
		}
	}
	sort.Strings(diffs)
	if (len(diffs) == 0) == neg {
		ts.Fatalf("cmptree %s %s: %d difference(s)\n%s", args[0], args[1], len(diffs), strings.Join(diffs, "\n"))
	}
}

func treeListing(ts *testscript.TestScript, root string) map[string]string {
	_, err := os.Stat(root)
	ts.Check(err)
	out, err := treetest.List(root)
	ts.Check(err)
	for p := range out {
		for _, skip := range []string{".udos-lib/cache", ".udos-lib/lock", ".keep"} {
			if p == skip || strings.HasPrefix(p, skip+"/") {
				delete(out, p)
			}
		}
	}
	return out
}
