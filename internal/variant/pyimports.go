package variant

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The Python import closure: the first-party modules that shipped code and
// entry points import, found by reading the sources, so that a variant
// ships the modules its code needs wherever they live in the tree (uDOS's
// launcher is wizard.services.udos_launcher_cli, which even core-slim runs).
// Every import statement counts, also those inside functions and try
// blocks: a lazily imported module is needed as soon as its code path runs.

var (
	importStmt  = regexp.MustCompile(`^\s*import\s+(.+)$`)
	fromStmt    = regexp.MustCompile(`^\s*from\s+(\.*)([A-Za-z_][A-Za-z0-9_.]*)?\s+import\s+(.+)$`)
	importModFn = regexp.MustCompile(`import_module\(\s*["']([A-Za-z_][A-Za-z0-9_.]*)["']`)
	shellModule = regexp.MustCompile(`(?:^|\s)-m\s+([A-Za-z_][A-Za-z0-9_.]*)`)
	identRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// pyImports returns the absolute module names a Python source imports,
// with "from a import b" giving both "a" and "a.b" (b may be a module).
// pkg is the file's package ("core.services" for core/services/x.py), for
// relative imports.
func pyImports(src []byte, pkg string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var pending string // a statement continued over lines
	depth := 0
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if pending != "" {
			pending += " " + line
			depth += strings.Count(line, "(") - strings.Count(line, ")")
			if depth > 0 || strings.HasSuffix(strings.TrimSpace(line), "\\") {
				continue
			}
			line, pending = pending, ""
		} else if importStmt.MatchString(line) || fromStmt.MatchString(line) {
			depth = strings.Count(line, "(") - strings.Count(line, ")")
			if depth > 0 || strings.HasSuffix(strings.TrimSpace(line), "\\") {
				pending = line
				continue
			}
		}
		for _, m := range importModFn.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
		line = strings.NewReplacer("\\", " ", "(", " ", ")", " ").Replace(line)
		// several statements on one line: "import os; import core"
		for _, stmt := range strings.Split(line, ";") {
			if m := fromStmt.FindStringSubmatch(stmt); m != nil {
				base := m[2]
				if m[1] != "" {
					base = relativeBase(pkg, len(m[1]), m[2])
					if base == "" {
						continue
					}
				}
				out = append(out, base)
				for _, n := range strings.Split(m[3], ",") {
					name := strings.Fields(n)
					if len(name) > 0 && identRe.MatchString(name[0]) {
						out = append(out, base+"."+name[0])
					}
				}
				continue
			}
			if m := importStmt.FindStringSubmatch(stmt); m != nil {
				for _, n := range strings.Split(m[1], ",") {
					name := strings.Fields(n)
					if len(name) > 0 && validModule(name[0]) {
						out = append(out, name[0])
					}
				}
			}
		}
	}
	return out
}

func validModule(s string) bool {
	for _, p := range strings.Split(s, ".") {
		if !identRe.MatchString(p) {
			return false
		}
	}
	return true
}

// relativeBase resolves "from ..x import" in package pkg.
func relativeBase(pkg string, level int, mod string) string {
	parts := []string{}
	if pkg != "" {
		parts = strings.Split(pkg, ".")
	}
	if level-1 > len(parts) {
		return ""
	}
	parts = parts[:len(parts)-(level-1)]
	if mod != "" {
		parts = append(parts, mod)
	}
	return strings.Join(parts, ".")
}

// modulePackage returns the package of a Python file at p.
func modulePackage(p string) string {
	dir := path.Dir(p)
	if dir == "." {
		return ""
	}
	return strings.ReplaceAll(dir, "/", ".")
}

// shellModules returns the modules a shell entry point runs with -m
// (bin/udos: python -m wizard.services.udos_launcher_cli).
func shellModules(src []byte) []string {
	var out []string
	for _, m := range shellModule.FindAllStringSubmatch(string(src), -1) {
		out = append(out, m[1])
	}
	return out
}

// importClosure adds the first-party modules the staged code imports, and
// their packages' __init__.py, until nothing new is needed.
func (s *stager) importClosure() error {
	tops := map[string]bool{}
	for name := range s.files {
		top, _, _ := strings.Cut(strings.TrimSuffix(name, ".py"), "/")
		tops[top] = true
	}
	firstParty := func(mod string) bool {
		top, _, _ := strings.Cut(mod, ".")
		return tops[top] || s.t.dirs[top] || s.t.isFile(top+".py")
	}
	done := map[string]bool{}
	homes := map[string]bool{} // folders of the modules the closure adds
	var queue []string         // staged variant paths to read
	for name, f := range s.files {
		if strings.HasSuffix(name, ".py") || f.mode&0o111 != 0 {
			queue = append(queue, name)
		}
	}
	sort.Strings(queue)
	added := map[string]bool{}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if done[name] {
			continue
		}
		done[name] = true
		f := s.files[name]
		var data []byte
		if f.src == "" {
			data = f.data
		} else {
			var err error
			if data, err = os.ReadFile(s.t.disk(f.src)); err != nil {
				return fmt.Errorf("variant %s: reading %s: %w", s.v.Name, f.src, err)
			}
		}
		var mods []string
		switch {
		case strings.HasSuffix(name, ".py") || bytes.HasPrefix(data, []byte("#!")) && bytes.Contains(firstLine(data), []byte("python")):
			pkg := modulePackage(name)
			if path.Base(name) != "__init__.py" && !strings.HasSuffix(name, ".py") {
				pkg = "" // a script in bin/ imports from the root, not as a package
			}
			mods = pyImports(data, pkg)
		case bytes.HasPrefix(data, []byte("#!")):
			mods = shellModules(data)
		}
		for _, mod := range mods {
			if !firstParty(mod) {
				continue
			}
			for _, file := range s.moduleFiles(mod) {
				if _, ok := s.files[file]; ok {
					queue = append(queue, file)
					continue
				}
				if s.v.excludedPath(file) || excludedBelow(s.v, file) {
					continue
				}
				r, err := s.t.eval(file)
				if err != nil || !s.t.isFile(r) {
					continue
				}
				if err := s.put(file, &staged{src: r, mode: int64(s.t.nodes[r].mode), how: "import closure"}); err != nil {
					return err
				}
				added[file] = true
				queue = append(queue, file)
			}
			if own := s.ownFile(mod); added[own] {
				homes[path.Dir(own)] = true
			}
		}
	}
	for f := range added {
		s.closure = append(s.closure, f)
	}
	sort.Strings(s.closure)
	return s.packageData(homes)
}

// ownFile is the file module mod itself is (a/b.py or a/b/__init__.py),
// "" when the tree has neither.
func (s *stager) ownFile(mod string) string {
	base := strings.ReplaceAll(mod, ".", "/")
	for _, p := range []string{base + ".py", base + "/__init__.py"} {
		if _, ok := s.files[p]; ok {
			return p
		}
	}
	return ""
}

// packageData ships the data a shipped package reads beside its code:
// code opens such files relative to itself at run time (the real
// wizard/services/store reads ../schemas/task_schema.sql), and a module
// shipped without them does not run. A package folder's data are its
// files that are not Python and its subfolders with no Python in them;
// one ships when the folder's Python code (its own or its subpackages')
// names it in a string of its own or at the start of one ("schemas",
// 'beacon.json', "schemas/x.sql"). Inside a named data folder the same
// holds for its entries, except that a folder none of whose entries is
// named ships whole: the code lists it. Naming is the test, not presence,
// so that what merely sits beside the code (the Wizard's dashboard sources
// and docs) stays out of core-slim.
func (s *stager) packageData(homes map[string]bool) error {
	sources := map[string][]byte{} // staged Python files, read once
	var code []string              // their paths, sorted
	for p := range s.files {
		if strings.HasSuffix(p, ".py") {
			code = append(code, p)
		}
	}
	sort.Strings(code)
	for _, dir := range slices.Sorted(maps.Keys(homes)) {
		cache := map[string]bool{}
		var readErr error
		named := func(name string) bool {
			if v, ok := cache[name]; ok {
				return v
			}
			// The whole string, or the start of a relative path
			// ("schemas/x.sql"); not inside another path, so that a URL
			// such as "/api/dashboard/health" names nothing.
			re := regexp.MustCompile(`["']` + regexp.QuoteMeta(name) + `["'/]`)
			for _, p := range code {
				if !strings.HasPrefix(p, dir+"/") {
					continue
				}
				src, ok := sources[p]
				if !ok {
					f := s.files[p]
					src = f.data
					if f.src != "" {
						var err error
						if src, err = os.ReadFile(s.t.disk(f.src)); err != nil {
							readErr = fmt.Errorf("variant %s: reading %s: %w", s.v.Name, f.src, err)
							return false
						}
					}
					sources[p] = src
				}
				if re.Match(src) {
					cache[name] = true
					return true
				}
			}
			cache[name] = false
			return false
		}
		var picked []string
		python := map[string]bool{} // entries of dir with Python in them
		for _, p := range s.t.under(dir) {
			if isPython(p) {
				python[firstPart(strings.TrimPrefix(p, dir+"/"))] = true
			}
		}
		for _, e := range s.entries(dir) {
			if !python[e] && named(e) {
				picked = append(picked, s.namedData(path.Join(dir, e), named)...)
			}
		}
		if readErr != nil {
			return readErr
		}
		for _, p := range picked {
			if _, staged := s.files[p]; staged || s.v.excludedPath(p) || excludedBelow(s.v, p) {
				continue
			}
			r, err := s.t.eval(p)
			if err != nil {
				s.linkTrouble(p, err) // out of the tree or a loop: refused like any shipped link
				continue
			}
			if !s.t.isFile(r) {
				continue
			}
			if err := s.put(p, &staged{src: r, mode: int64(s.t.nodes[r].mode), how: "package data of " + dir}); err != nil {
				return err
			}
			s.closure = append(s.closure, p)
		}
	}
	sort.Strings(s.closure)
	return nil
}

// namedData is what ships of the named data entry p: a file itself; of a
// folder, its named entries (each by the same rule), or all of it when
// none is named.
func (s *stager) namedData(p string, named func(string) bool) []string {
	below := s.t.under(p)
	if len(below) == 0 {
		return []string{p}
	}
	var out []string
	for _, e := range s.entries(p) {
		if named(e) {
			out = append(out, s.namedData(path.Join(p, e), named)...)
		}
	}
	if out == nil {
		return below
	}
	return out
}

// entries are the names directly in the tree's folder dir, sorted.
func (s *stager) entries(dir string) []string {
	var out []string
	for _, p := range s.t.under(dir) {
		if e := firstPart(strings.TrimPrefix(p, dir+"/")); len(out) == 0 || out[len(out)-1] != e {
			out = append(out, e)
		}
	}
	return out
}

func firstPart(rel string) string {
	first, _, _ := strings.Cut(rel, "/")
	return first
}

func isPython(p string) bool { return strings.HasSuffix(p, ".py") || strings.HasSuffix(p, ".pyc") }

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// moduleFiles returns the files module mod is made of, as far as the tree
// or the staged variant has them: its packages' __init__.py and its own
// file (a/b.py or a/b/__init__.py).
func (s *stager) moduleFiles(mod string) []string {
	parts := strings.Split(mod, ".")
	var out []string
	exists := func(p string) bool {
		if _, ok := s.files[p]; ok {
			return true
		}
		r, err := s.t.eval(p)
		return err == nil && s.t.isFile(r)
	}
	for i := 1; i < len(parts); i++ {
		if p := strings.Join(parts[:i], "/") + "/__init__.py"; exists(p) {
			out = append(out, p)
		}
	}
	base := strings.Join(parts, "/")
	for _, p := range []string{base + ".py", base + "/__init__.py"} {
		if exists(p) {
			out = append(out, p)
			break
		}
	}
	return out
}
