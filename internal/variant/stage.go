package variant

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/fredbook/udos-dist/internal/tarball"
)

// Warning is something a maintainer should know about a staged variant
// that does not stop the build: a dangling symlink skipped, an alias
// generated, a file supplied by the toolkit.
type Warning struct {
	Path string // the path in the checkout or the variant it is about
	Text string
}

func (w Warning) String() string { return w.Path + " " + w.Text }

// LinkProblem is a symlink that cannot ship as it is.
type LinkProblem struct {
	Path   string // the link, relative to the checkout
	Target string // its target as written
}

// SymlinkError lists every symlink of the variant that points out of the
// checkout (or loops), all at once, with the remedy.
type SymlinkError struct {
	Variant string
	Links   []LinkProblem
	Loops   []LinkProblem
}

func (e *SymlinkError) Error() string {
	var b strings.Builder
	if len(e.Links) > 0 {
		fmt.Fprintf(&b, "variant %s: %d symlink(s) point out of the source tree, and a release ships only what the checkout holds:", e.Variant, len(e.Links))
		for _, l := range e.Links {
			fmt.Fprintf(&b, "\n  - symlink %s -> %s", l.Path, l.Target)
		}
	}
	if len(e.Loops) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "variant %s: %d symlink(s) form a loop:", e.Variant, len(e.Loops))
		for _, l := range e.Loops {
			fmt.Fprintf(&b, "\n  - symlink %s -> %s", l.Path, l.Target)
		}
	}
	fmt.Fprintf(&b, "\n(replace each symlink with the content it should ship, point it at a path inside the tree, or leave it out by path: \"exclude\": [%q] in %s)", e.firstPath(), FileName)
	return b.String()
}

func (e *SymlinkError) firstPath() string {
	if len(e.Links) > 0 {
		return e.Links[0].Path
	}
	return e.Loops[0].Path
}

// staged is one file of the variant being staged.
type staged struct {
	src  string // resolved path in the tree; "" for generated contents
	data []byte // generated or supplied contents
	mode int64
	how  string // why it ships, for messages ("core/", "import closure", "generated")
}

type stager struct {
	v        *Variant
	t        *tree
	opts     Options
	files    map[string]*staged // by variant path
	warnings []Warning
	missing  []Missing
	required []Missing
	outside  map[string]LinkProblem
	loops    map[string]LinkProblem
	closure  []string
	compose  ComposeOptions // what the generated compose file uses
}

// Stage lays the variant out from the checkout at src: what ships, from
// where, and what the maintainer should know. In a git checkout only what
// git tracks ships; symlinks inside the tree ship as their targets'
// contents, dangling ones are skipped with a warning, and links out of the
// tree are refused, every one named; the Python modules the shipped code
// and entry points import ship too, wherever they live in the tree; the
// files the toolkit owns are supplied when the checkout lacks them; and a
// tree in which a secret would ship is refused with every finding.
func (v *Variant) Stage(ctx context.Context, src string, opts Options) (*Layout, []Warning, error) {
	version := strings.TrimPrefix(opts.Version, "v")
	if version == "" {
		return nil, nil, fmt.Errorf("variant %s: no version given", v.Name)
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return nil, nil, fmt.Errorf("variant %s: source %q is not a directory", v.Name, src)
	}
	t, err := loadTree(ctx, src)
	if err != nil {
		return nil, nil, fmt.Errorf("variant %s: %w", v.Name, err)
	}
	s := &stager{v: v, t: t, opts: opts, files: map[string]*staged{},
		outside: map[string]LinkProblem{}, loops: map[string]LinkProblem{}}
	if !t.git {
		s.warn(".", "is not a git checkout: every file in it ships (in a git checkout only tracked files do)")
	}
	s.warnings = append(s.warnings, t.skipped...)

	var aliases []Path
	for _, p := range v.Paths {
		if found, ok := s.find(p); ok {
			if err := s.addPath(p, found); err != nil {
				return nil, nil, err
			}
			continue
		}
		switch {
		case p.AliasOf != "":
			aliases = append(aliases, p)
		case p.Supply != "":
			if err := s.supply(p); err != nil {
				return nil, nil, err
			}
		case p.IfPresent:
		default:
			m := Missing{Path: p.Path, Looked: p.Sources(), Required: p.Required, EntryPoint: p.EntryPoint, Note: p.Note}
			if p.Required {
				s.required = append(s.required, m)
			} else {
				s.missing = append(s.missing, m)
			}
		}
	}
	if len(s.required) > 0 {
		// a required path behind a link out of the tree: the link is the cause
		return nil, nil, errors.Join(s.linkError(), &MissingError{Variant: v.Name, Source: src, Missing: s.required})
	}
	if err := s.dockerfileSources(); err != nil {
		return nil, nil, err
	}
	if err := s.importClosure(); err != nil {
		return nil, nil, err
	}
	for _, p := range aliases {
		s.alias(p)
	}
	if err := s.linkError(); err != nil {
		return nil, nil, err
	}
	if err := s.generate(version); err != nil {
		return nil, nil, err
	}
	if err := s.scanSecrets(); err != nil {
		return nil, nil, err
	}
	l, err := s.layout(version)
	if err != nil {
		return nil, nil, err
	}
	return l, append(s.warnings, missingWarnings(l.Missing)...), nil
}

func missingWarnings(ms []Missing) []Warning {
	var out []Warning
	for _, m := range ms {
		out = append(out, Warning{Path: m.Path, Text: strings.TrimPrefix(m.String(), m.kind()+" "+m.Path+" ")})
	}
	return out
}

func (s *stager) warn(p, format string, args ...any) {
	w := Warning{Path: p, Text: fmt.Sprintf(format, args...)}
	for _, x := range s.warnings {
		if x == w {
			return // the same link met through two declared paths
		}
	}
	s.warnings = append(s.warnings, w)
}

// find returns the first candidate source of p that the tree has, resolved
// through symlinks. A candidate that is a symlink out of the tree is
// recorded as refused.
func (s *stager) find(p Path) (string, bool) {
	for _, cand := range p.Sources() {
		c := strings.TrimSuffix(cand, "/")
		r, err := s.t.eval(c)
		if err != nil {
			s.linkTrouble(c, err)
			continue
		}
		if p.IsDir() && s.t.dirs[r] || !p.IsDir() && s.t.isFile(r) {
			return r, true
		}
	}
	return "", false
}

// linkTrouble records why path p (or the link on the way to it) does not
// resolve: only symlinks are worth a word, a plain missing path is not.
func (s *stager) linkTrouble(p string, err error) {
	link, target, ok := s.firstLink(p)
	if !ok {
		return
	}
	switch {
	case errors.Is(err, errOutside):
		s.outside[link] = LinkProblem{Path: link, Target: target}
	case errors.Is(err, errLoop):
		s.loops[link] = LinkProblem{Path: link, Target: target}
	case errors.Is(err, errDangling):
		s.warn(link, "is a dangling symlink (-> %s); skipped", target)
	}
}

// firstLink returns the first symlink on the way to p.
func (s *stager) firstLink(p string) (string, string, bool) {
	cur := ""
	for _, c := range strings.Split(p, "/") {
		cur = path.Join(cur, c)
		if n, ok := s.t.nodes[cur]; ok && n.link != "" {
			return cur, n.link, true
		}
	}
	return "", "", false
}

// addPath stages a declared path found at src (resolved).
func (s *stager) addPath(p Path, src string) error {
	dst := strings.TrimSuffix(p.Path, "/")
	if !p.IsDir() {
		mode := int64(s.t.nodes[src].mode)
		if p.EntryPoint {
			mode |= 0o755
		}
		return s.put(dst, &staged{src: src, mode: mode, how: p.Path})
	}
	return s.addDir(dst, src, p.Path, []string{src})
}

// addDir stages the tree's directory src at dst, minus the excluded paths,
// following symlinks inside the tree. stack holds the directories being
// copied, to refuse a link to one of them (a loop).
func (s *stager) addDir(dst, src, how string, stack []string) error {
	for _, p := range s.t.under(src) {
		rel := strings.TrimPrefix(p, src+"/")
		if src == "" {
			rel = p
		}
		to := path.Join(dst, rel)
		if s.v.excludedPath(to) || s.v.excludedPath(p) {
			continue
		}
		if excludedBelow(s.v, rel) {
			continue
		}
		n := s.t.nodes[p]
		if n.link == "" {
			if err := s.put(to, &staged{src: p, mode: int64(n.mode), how: how}); err != nil {
				return err
			}
			continue
		}
		r, err := s.t.eval(p)
		if err != nil {
			s.linkTrouble(p, err)
			continue
		}
		if s.t.isFile(r) {
			if err := s.put(to, &staged{src: r, mode: int64(s.t.nodes[r].mode), how: how}); err != nil {
				return err
			}
			continue
		}
		for _, d := range stack {
			if r == d || r == "" || strings.HasPrefix(d+"/", r+"/") {
				s.loops[p] = LinkProblem{Path: p, Target: n.link}
				r = ""
				break
			}
		}
		if r == "" {
			continue
		}
		if err := s.addDir(to, r, how, append(stack, r)); err != nil {
			return err
		}
	}
	return nil
}

// excludedBelow applies the base-name patterns to every directory of rel,
// so that an excluded directory's whole subtree is left out.
func excludedBelow(v *Variant, rel string) bool {
	for _, c := range strings.Split(rel, "/") {
		if v.excluded(c) {
			return true
		}
	}
	return false
}

func (s *stager) put(dst string, f *staged) error {
	if prev, ok := s.files[dst]; ok {
		if prev.src == f.src && f.src != "" {
			if f.mode&0o111 != 0 {
				prev.mode |= f.mode & 0o755
			}
			return nil // declared twice from the same place (wizard/ and wizard/requirements.txt)
		}
		return fmt.Errorf("variant %s: %s would come from both %s and %s", s.v.Name, dst, prev.origin(), f.origin())
	}
	s.files[dst] = f
	return nil
}

func (f *staged) origin() string {
	if f.src == "" {
		return "(" + f.how + ")"
	}
	return fmt.Sprintf("%q", f.src)
}

func (s *stager) linkError() error {
	if len(s.outside) == 0 && len(s.loops) == 0 {
		return nil
	}
	e := &SymlinkError{Variant: s.v.Name}
	for _, l := range s.outside {
		e.Links = append(e.Links, l)
	}
	for _, l := range s.loops {
		e.Loops = append(e.Loops, l)
	}
	sort.Slice(e.Links, func(i, j int) bool { return e.Links[i].Path < e.Links[j].Path })
	sort.Slice(e.Loops, func(i, j int) bool { return e.Loops[i].Path < e.Loops[j].Path })
	return e
}

// alias generates a declared entry point the checkout lacks as a wrapper
// of another one that ships (the spec's bin/ucli runs the repository's
// bin/ucode; bin/uDOS.py runs the root uDOS.py, which must stay at the root
// because it resolves the installation from its own location).
func (s *stager) alias(p Path) {
	target, ok := s.files[p.AliasOf]
	if !ok || target.src == "" && target.data == nil {
		m := Missing{Path: p.Path, Looked: p.Sources(), EntryPoint: p.EntryPoint, Note: p.Note}
		s.missing = append(s.missing, m)
		return
	}
	rel, err := filepath.Rel(path.Dir(p.Path), p.AliasOf)
	if err != nil {
		rel = p.AliasOf
	}
	rel = filepath.ToSlash(rel)
	var data string
	if strings.HasSuffix(p.AliasOf, ".py") {
		data = fmt.Sprintf(`#!/usr/bin/env python3
"""%s: runs %s, which resolves the installation from its own location (generated by udos-dist)."""
import os
import runpy
import sys

target = os.path.join(os.path.dirname(os.path.abspath(__file__)), %q)
sys.argv[0] = target
runpy.run_path(target, run_name="__main__")
`, p.Path, p.AliasOf, rel)
	} else {
		data = fmt.Sprintf(`#!/bin/sh
# %s: an alias of %s (generated by udos-dist).
exec "$(dirname "$0")/%s" "$@"
`, p.Path, p.AliasOf, rel)
	}
	s.files[p.Path] = &staged{data: []byte(data), mode: 0o755, how: "alias of " + p.AliasOf}
	s.warn(p.Path, "is not in the checkout; generated as an alias of %s", p.AliasOf)
}

// dockerfileSources ships the files a shipped Dockerfile copies from the
// build context (pyproject.toml in uDOS's), so that the variant can build
// its own image.
func (s *stager) dockerfileSources() error {
	df, ok := s.files["Dockerfile"]
	if !ok || df.src == "" {
		return nil
	}
	data, err := os.ReadFile(s.t.disk(df.src))
	if err != nil {
		return fmt.Errorf("variant %s: reading Dockerfile: %w", s.v.Name, err)
	}
	for _, src := range dockerCopySources(data) {
		c := strings.Trim(path.Clean(src), "/")
		if c == "." || c == "" || strings.ContainsAny(c, "*?[$") || strings.HasPrefix(c, "..") {
			continue
		}
		if _, ok := s.files[c]; ok {
			continue
		}
		r, err := s.t.eval(c)
		switch {
		case err != nil:
			s.linkTrouble(c, err)
			if !errors.Is(err, errOutside) {
				s.warn(c, "is copied by the Dockerfile but is not in the checkout: building the image will fail")
			}
		case s.t.isFile(r):
			if err := s.put(c, &staged{src: r, mode: int64(s.t.nodes[r].mode), how: "Dockerfile"}); err != nil {
				return err
			}
		default:
			if err := s.addDir(c, r, "Dockerfile", []string{r}); err != nil {
				return err
			}
		}
	}
	return nil
}

var healthURL = regexp.MustCompile(`https?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::([0-9]{1,5}))?(/[A-Za-z0-9/_.-]*)`)

// DockerfileHealth returns the port and path a Dockerfile's HEALTHCHECK
// probes on the container itself (uDOS's: curl -f
// http://localhost:8765/health), so that the compose file checks the same
// endpoint when nothing else says which.
func DockerfileHealth(df []byte) (int, string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(df))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.EqualFold(f[0], "HEALTHCHECK") || strings.EqualFold(f[1], "NONE") {
			continue
		}
		m := healthURL.FindStringSubmatch(sc.Text())
		if m == nil {
			return 0, "", false
		}
		port := 80
		if m[1] != "" {
			port, _ = strconv.Atoi(m[1])
		}
		if port < 1 || port > 65535 || m[2] == "" {
			return 0, "", false
		}
		return port, m[2], true
	}
	return 0, "", false
}

// dockerCopySources returns the build-context sources of a Dockerfile's
// COPY and ADD instructions (not those copying from another stage).
func dockerCopySources(df []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(df))
	line := ""
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			line += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		line += l
		f := strings.Fields(line)
		line = ""
		if len(f) < 3 || !strings.EqualFold(f[0], "COPY") && !strings.EqualFold(f[0], "ADD") {
			continue
		}
		args, fromStage := []string{}, false
		for _, a := range f[1:] {
			if strings.HasPrefix(a, "--") {
				fromStage = fromStage || strings.HasPrefix(a, "--from")
				continue
			}
			args = append(args, a)
		}
		if fromStage || len(args) < 2 || strings.HasPrefix(args[0], "[") {
			continue
		}
		for _, a := range args[:len(args)-1] {
			if !strings.Contains(a, "://") {
				out = append(out, a)
			}
		}
	}
	return out
}

func (s *stager) generate(version string) error {
	s.compose = s.v.Compose.Merge(s.opts.Compose)
	if s.compose.Port == 0 && s.compose.HealthPath == "" && contains(s.v.Generate, "docker-compose.yml") {
		if df, ok := s.files["Dockerfile"]; ok && df.src != "" {
			data, err := os.ReadFile(s.t.disk(df.src))
			if err != nil {
				return fmt.Errorf("variant %s: reading Dockerfile: %w", s.v.Name, err)
			}
			if port, hp, ok := DockerfileHealth(data); ok {
				s.compose.Port, s.compose.HealthPath = port, hp
				s.warn("docker-compose.yml", "checks the Wizard's health at port %d, %s, as the Dockerfile's HEALTHCHECK does (set \"compose\" in %s or the wizard-port and wizard-health-path inputs to choose)", port, hp, FileName)
			}
		}
	}
	for _, g := range s.v.Generate {
		var data []byte
		var err error
		switch g {
		case "version.json":
			data, err = VersionFile(version, s.v.Name)
		case "docker-compose.yml":
			data, err = Compose(version, s.compose)
		default:
			err = fmt.Errorf("cannot generate %q", g)
		}
		if err != nil {
			return fmt.Errorf("variant %s: generating %s: %w", s.v.Name, g, err)
		}
		if prev, ok := s.files[g]; ok && prev.src != "" {
			// the checkout's own file gives way to the generated one
			delete(s.files, g)
		}
		if err := s.put(g, &staged{data: data, mode: 0o644, how: "generated"}); err != nil {
			return err
		}
	}
	return nil
}

// layout turns the staged files into archive entries.
func (s *stager) layout(version string) (*Layout, error) {
	l := &Layout{Variant: s.v, Version: version, Root: RootDir(s.v.Name, version), Sources: map[string]string{},
		Closure: s.closure, Git: s.t.git, Compose: s.compose}
	entries := map[string]tarball.Entry{}
	for name, f := range s.files {
		if f.src == "" {
			entries[name] = tarball.Bytes(name, f.mode, f.data)
			l.Sources[name] = ""
			continue
		}
		disk := s.t.disk(f.src)
		e, err := tarball.File(name, disk)
		if err != nil {
			return nil, fmt.Errorf("variant %s: %w", s.v.Name, err)
		}
		e.Mode = f.mode
		entries[name] = e
		l.Sources[name] = disk
	}
	for name := range entries {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = tarball.Dir(d)
			}
		}
	}
	list := make([]tarball.Entry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	tarball.Sort(list)
	l.Entries = tarball.Prefix(l.Root, list)
	for _, r := range s.v.Requirements {
		if f, ok := s.files[r]; ok && f.src != "" {
			l.Requirements = append(l.Requirements, r)
		}
	}
	l.Missing = s.missing
	sort.SliceStable(l.Missing, func(i, j int) bool { return l.Missing[i].Path < l.Missing[j].Path })
	return l, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
