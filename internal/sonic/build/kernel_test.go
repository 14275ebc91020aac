package build

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// debPackage builds a real Debian package with dpkg-deb, shaped like
// Debian's kernel packages: linux-image-<ver>-amd64 with boot/vmlinuz-<ver>
// (a bzImage-shaped file) and lib/modules/<ver>/.
func debPackage(t *testing.T) string {
	t.Helper()
	dpkg := testenv.Tool(t, "dpkg-deb")
	const ver = "6.1.0-99-amd64"
	root := filepath.Join(t.TempDir(), "pkg")
	for dir, files := range map[string]map[string][]byte{
		"DEBIAN":                   {"control": []byte("Package: linux-image-" + ver + "\nVersion: 6.1.999-1\nArchitecture: amd64\nMaintainer: test <t@example.org>\nDescription: test kernel package\n")},
		"boot":                     {"vmlinuz-" + ver: bzImage()},
		"lib/modules/" + ver + "/": {"modules.dep": []byte("")},
	} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(root, dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	deb := filepath.Join(t.TempDir(), "linux-image-"+ver+"_6.1.999-1_amd64.deb")
	if out, err := exec.Command(dpkg, "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	return deb
}

func TestCheckKernel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shifted := make([]byte, 0x1000)
	copy(shifted[0x200:], "HdrS")
	tests := []struct {
		name, path string
		want       []string // "" for a kernel that passes
	}{
		{"bzImage header", write("vmlinuz", bzImage()), nil},
		{"Debian kernel package", debPackage(t), []string{"linux-image-6.1.0-99-amd64_6.1.999-1_amd64.deb", "is a Debian package", "dpkg -x", "boot/vmlinuz-<version>", `"HdrS" at offset 0x202`}},
		{"ELF vmlinux", write("vmlinux", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 0x400)...)), []string{"vmlinux", "an ELF file", "bzImage"}},
		{"gzip", write("linux-lts.apk", append([]byte{0x1f, 0x8b, 8, 0}, make([]byte, 0x400)...)), []string{"linux-lts.apk", "gzip-compressed", "tar -xzf"}},
		{"short file", write("tiny", []byte("kernel")), []string{"tiny", "only 6 bytes long"}},
		{"magic off by two", write("shifted", shifted), []string{"shifted", "not a bzImage"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkKernel(tc.path)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrNotKernel) {
				t.Fatalf("err = %v, want ErrNotKernel", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
	// The machine's real test kernel, when there is one, passes.
	if real := "/var/cache/udos-test/kernel/vmlinuz"; fileExists(real) {
		if err := checkKernel(real); err != nil {
			t.Errorf("the real kernel %s was refused: %v", real, err)
		}
	}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// TestDebKernelRefusedBeforeAnything: a .deb given as the kernel stops the
// build before a file is written, signed or uploaded.
func TestDebKernelRefusedBeforeAnything(t *testing.T) {
	t.Parallel()
	deb := debPackage(t)
	rep := ghreplica.New(ghreplica.Config{})
	rep.AddToken("tok", ghreplica.Token{Login: "ci", Push: []string{"*"}})
	if err := rep.AddRepo("fredbook", "uDOS", ghreplica.RepoSpec{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rep)
	defer srv.Close()
	gh, err := ghrelease.New(ghrelease.Config{APIURL: srv.URL, Token: "tok", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	priv, _, err := pgpsign.GenerateTestKey("CI", "ci@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := pgpsign.LoadSigner(priv, nil)
	out := t.TempDir()
	res, err := Build(context.Background(), Options{
		Version: "1.4.6", Kernel: deb, Busybox: stand(t, "busybox"), Runtime: stand(t, "sonic-runtime"),
		OutputDir: out, Time: time.Unix(1764115200, 0), Signer: signer, TempDir: t.TempDir(),
		Publish: &Publish{Client: gh, Owner: "fredbook", Repo: "uDOS"},
	})
	if !errors.Is(err, ErrNotKernel) || !strings.Contains(err.Error(), filepath.Base(deb)) {
		t.Fatalf("err = %v, want the .deb refused by name", err)
	}
	if len(res.Steps) != 0 || res.ISO != "" {
		t.Errorf("steps ran: %+v", res)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("output after a refused kernel: %v", entries)
	}
	if n := rep.Count("", ""); n != 0 {
		t.Errorf("%d requests to GitHub for a refused kernel", n)
	}
}
