// Command demo runs the main job of udos-dist end to end on the bundled
// examples, offline: it builds the tools, packs and signs every example
// library with the demo key, generates a signed registry from them, serves it
// on a loopback port and installs grid-extensions with its dependencies into a
// fresh uDOS root, verifying signatures and digests on the way.
//
//	go run ./examples/demo [--dir DIR] [--keep-serving]
//
// It drives the real command-line programs (udos-lib, registry-gen) exactly
// as a user would, so that what it shows is what users get.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", "", "work folder (default: a new folder under out/demo)")
	serve := flag.Bool("keep-serving", false, "keep the registry served after the demo, until interrupted")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	if err := run(ctx, *dir, *serve, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

type demo struct {
	repo   string // repository root
	work   string
	bin    string
	stdout io.Writer
	stderr io.Writer
	ctx    context.Context
}

func run(ctx context.Context, dir string, keepServing bool, stdout, stderr io.Writer) error {
	repo, err := findRepo()
	if err != nil {
		return err
	}
	if dir == "" {
		dir = filepath.Join(repo, "out", "demo", time.Now().UTC().Format("20060102-150405"))
	}
	d := &demo{repo: repo, work: dir, bin: filepath.Join(dir, "bin"), stdout: stdout, stderr: stderr, ctx: ctx}
	if err := os.MkdirAll(d.bin, 0o755); err != nil {
		return err
	}
	d.say("work folder: %s", dir)

	d.say("1/6 building udos-lib and registry-gen")
	for _, c := range []string{"udos-lib", "registry-gen"} {
		if err := d.cmd(repo, nil, "go", "build", "-o", filepath.Join(d.bin, exe(c)), "./cmd/"+c); err != nil {
			return err
		}
	}

	key := filepath.Join(repo, "examples", "keys", "demo-signing-key.asc")
	pub := filepath.Join(repo, "examples", "keys", "demo-signing-key.pub.asc")
	packages := filepath.Join(dir, "packages")
	if err := os.MkdirAll(packages, 0o755); err != nil {
		return err
	}
	d.say("2/6 packing and signing the example libraries (demo key: DO NOT TRUST it outside this demo)")
	libs, err := os.ReadDir(filepath.Join(repo, "examples", "libraries"))
	if err != nil {
		return err
	}
	epoch := []string{"SOURCE_DATE_EPOCH=1764000000"}
	for _, l := range libs {
		if !l.IsDir() {
			continue
		}
		src := filepath.Join(repo, "examples", "libraries", l.Name())
		if err := d.cmd(dir, epoch, d.tool("udos-lib"), "pack", src, "--output", packages, "--sign-key", key); err != nil {
			return err
		}
	}

	registry := filepath.Join(dir, "registry")
	d.say("3/6 generating the signed registry")
	if err := d.cmd(dir, nil, d.tool("registry-gen"), "--from-dir", packages, "--out", registry,
		"--sign-key", key, "--keyring", pub, "--require-signatures"); err != nil {
		return err
	}

	d.say("4/6 serving the registry on loopback")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening on loopback: %w", err)
	}
	srv := &http.Server{Handler: withETags(http.Dir(registry)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	d.say("   registry: %s", url)

	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	vj, err := os.ReadFile(filepath.Join(repo, "examples", "udos", "version.json"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "version.json"), vj, 0o644); err != nil {
		return err
	}
	global := []string{"--root", root, "--registry", url, "--keyring", pub, "--require-signatures"}
	lib := func(args ...string) error {
		return d.cmd(dir, nil, d.tool("udos-lib"), append(append([]string{}, global...), args...)...)
	}
	d.say("5/6 syncing the catalog and installing grid-extensions with its dependencies")
	if err := lib("sync"); err != nil {
		return err
	}
	if err := lib("install", "grid-extensions@^1.2"); err != nil {
		return err
	}
	d.say("   syncing again: nothing changed, so the server answers 304 Not Modified (its ETag matches)")
	if err := lib("sync"); err != nil {
		return err
	}
	d.say("6/6 what is installed")
	if err := lib("list"); err != nil {
		return err
	}
	d.say("")
	d.say("done. The uDOS root is %s (lockfile: %s)", root, filepath.Join(root, "library", "lock.json"))
	// The loopback server ends with the demo; the registry folder stays, and
	// udos-lib reads a folder registry as well as an http one.
	d.say("try: %s --root %s --registry %s --keyring %s search grid", d.tool("udos-lib"), root, registry, pub)
	if keepServing {
		d.say("serving %s until interrupted (Ctrl-C)", url)
		<-ctx.Done()
	}
	return nil
}

// withETags serves the registry folder like http.FileServer and gives every
// file an ETag (a digest of its content), as GitHub Pages does: a client's
// If-None-Match then gets 304 Not Modified, no body, when nothing changed.
// (http.FileServer honours If-None-Match when the ETag is set first.)
func withETags(root http.FileSystem) http.Handler {
	files := http.FileServer(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, err := root.Open(path.Clean("/" + r.URL.Path)); err == nil {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				h := sha256.New()
				if _, err := io.Copy(h, f); err == nil {
					w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil)[:16])+`"`)
				}
			}
			f.Close()
		}
		files.ServeHTTP(w, r)
	})
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.stderr, "demo: "+format+"\n", args...)
}

func (d *demo) tool(name string) string { return filepath.Join(d.bin, exe(name)) }

func (d *demo) cmd(dir string, env []string, name string, args ...string) error {
	c := exec.CommandContext(d.ctx, name, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	// The demo must not pick up a user's registry or root by accident.
	c.Env = append(c.Env, "UDOS_REGISTRY=", "UDOS_ROOT=", "UDOS_KEYRING=")
	c.Stdout = d.stdout
	c.Stderr = d.stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return nil
}

func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

// findRepo walks up from the working directory to the folder holding go.mod.
func findRepo() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "examples", "libraries")); err == nil {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", errors.New("run the demo from inside the udos-dist checkout")
		}
	}
}
