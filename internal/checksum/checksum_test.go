package checksum

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/testenv"
)

const (
	// Digests of "hello\n".
	helloSHA256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
	helloSHA512 = "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629"
)

func TestSum(t *testing.T) {
	t.Parallel()
	d, err := Sum(strings.NewReader("hello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != 6 || d.SHA256 != helloSHA256 || d.SHA512 != helloSHA512 {
		t.Fatalf("Sum = %+v", d)
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line Line
		want string
	}{
		{"plain", Line{helloSHA256, "udos-core-slim-v1.4.6.tar.gz"}, helloSHA256 + "  udos-core-slim-v1.4.6.tar.gz\n"},
		{"space in name", Line{helloSHA256, "a b.txt"}, helloSHA256 + "  a b.txt\n"},
		{"backslash", Line{helloSHA256, `a\b`}, `\` + helloSHA256 + `  a\\b` + "\n"},
		{"newline", Line{helloSHA256, "a\nb"}, `\` + helloSHA256 + `  a\nb` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.line.Format(); got != tt.want {
				t.Fatalf("Format = %q, want %q", got, tt.want)
			}
			back, err := Parse(strings.NewReader(tt.want), SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != 1 || back[0] != tt.line {
				t.Fatalf("Parse = %+v, want %+v", back, tt.line)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		algo     Algorithm
		want     string
	}{
		{"short digest", "abc  f\n", SHA256, "line 1"},
		{"sha256 line in sha512 list", helloSHA256 + "  f\n", SHA512, "not a sha512 line"},
		{"upper case", strings.ToUpper(helloSHA256) + "  f\n", SHA256, "lower-case"},
		{"one space", helloSHA256 + " f\n", SHA256, "not a sha256 line"},
		{"bad escape", `\` + helloSHA256 + `  a\q` + "\n", SHA256, "unknown escape"},
		{"unknown algorithm", "", Algorithm("md5"), "unknown checksum algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(strings.NewReader(tt.in), tt.algo)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestParseBinaryMode(t *testing.T) {
	t.Parallel()
	got, err := Parse(strings.NewReader("\n"+helloSHA256+" *x.iso\r\n"), SHA256)
	if err != nil || len(got) != 1 || got[0].Name != "x.iso" {
		t.Fatalf("Parse = %+v, %v", got, err)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	a := Line{strings.Repeat("a", 64), "b.tar.gz"}
	b := Line{strings.Repeat("b", 64), "a.tar.gz"}
	b2 := Line{strings.Repeat("c", 64), "a.tar.gz"}
	got := Merge([]Line{a, b}, []Line{b2})
	if len(got) != 2 || got[0] != b2 || got[1] != a {
		t.Fatalf("Merge = %+v", got)
	}
}

func TestSidecarsAndSums(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f1 := filepath.Join(dir, "udos-core-slim-v1.4.6.tar.gz")
	f2 := filepath.Join(dir, "udos-wizard-full-v1.4.6.tar.gz")
	if err := os.WriteFile(f1, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f2, []byte("wizard"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, paths, err := Sidecars(f1)
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA256 != helloSHA256 || len(paths) != 2 || paths[0] != f1+".sha256" || paths[1] != f1+".sha512" {
		t.Fatalf("Sidecars = %+v %v", d, paths)
	}
	side, _ := os.ReadFile(f1 + ".sha256")
	if string(side) != helloSHA256+"  udos-core-slim-v1.4.6.tar.gz\n" {
		t.Fatalf("sidecar = %q", side)
	}
	// Merge in two rounds (two matrix legs), the second in reverse order.
	if _, err := MergeFiles(dir, f2); err != nil {
		t.Fatal(err)
	}
	if _, err := MergeFiles(dir, f1, f2); err != nil {
		t.Fatal(err)
	}
	for _, a := range []Algorithm{SHA256, SHA512} {
		data, err := os.ReadFile(filepath.Join(dir, a.SumsName()))
		if err != nil {
			t.Fatal(err)
		}
		lines, err := Parse(strings.NewReader(string(data)), a)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 2 || lines[0].Name != filepath.Base(f1) || lines[1].Name != filepath.Base(f2) {
			t.Fatalf("%s = %q", a.SumsName(), data)
		}
		if bad := Verify(dir, a, lines); len(bad) != 0 {
			t.Fatalf("Verify: %+v", bad)
		}
	}
	// A changed file is reported.
	if err := os.WriteFile(f2, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	lines, _ := Parse(strings.NewReader(string(data)), SHA256)
	if bad := Verify(dir, SHA256, lines); len(bad) != 1 || bad[0].Name != filepath.Base(f2) {
		t.Fatalf("Verify after tamper = %+v", bad)
	}
}

func TestMergeFileRefusesCorruptList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(p, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := MergeFile(p, SHA256, Line{helloSHA256, "x"})
	if err == nil || !strings.Contains(err.Error(), "SHA256SUMS") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "garbage\n" {
		t.Fatalf("list was overwritten: %q", data)
	}
}

// TestCoreutilsAccepts runs the real sha256sum/sha512sum -c on what we write.
func TestCoreutilsAccepts(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sha256sum", "sha512sum"} {
		testenv.Tool(t, tool)
	}
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"a.tar.gz", "b c.tar.gz", `odd\name.bin`} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Sidecars(p); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	if _, err := MergeFiles(dir, files...); err != nil {
		t.Fatal(err)
	}
	run := func(tool string, args ...string) {
		cmd := exec.Command(tool, append([]string{"--strict", "-c"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s -c %v: %v\n%s", tool, args, err, out)
		}
	}
	run("sha256sum", "SHA256SUMS")
	run("sha512sum", "SHA512SUMS")
	run("sha256sum", "a.tar.gz.sha256")
	run("sha512sum", `odd\name.bin.sha512`)
}
