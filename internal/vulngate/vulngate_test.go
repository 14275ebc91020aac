package vulngate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/vulnerability"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// The seeded advisories: musl 1.2.4-r0 has a fixable HIGH, busybox a
// CRITICAL with no fix yet (not gated), zlib a fixable LOW (not gated).
const (
	cveMusl    = "CVE-2099-1111"
	cveBusybox = "CVE-2099-2222"
	cveZlib    = "CVE-2099-3333"
)

var (
	dbOnce sync.Once
	dbDir  string
	dbErr  error
)

// vulnDB writes a Trivy vulnerability DB (trivy-db's own format and
// writer) into a cache folder, once per test process.
func vulnDB(t *testing.T) string {
	t.Helper()
	dbOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vulngate-db-")
		if err != nil {
			dbErr = err
			return
		}
		dbDir = dir
		dbErr = writeDB(filepath.Join(dir, "db"))
	})
	if dbErr != nil {
		t.Fatal(dbErr)
	}
	return dbDir
}

func writeDB(dir string) error {
	if err := db.Init(dir); err != nil {
		return err
	}
	dbc := db.Config{}
	const bucket = "alpine 3.19"
	err := dbc.BatchUpdate(func(tx *bolt.Tx) error {
		if err := dbc.PutDataSource(tx, bucket, dbtypes.DataSource{ID: vulnerability.Alpine, Name: "Alpine Secdb (test)", URL: "https://secdb.alpinelinux.org/"}); err != nil {
			return err
		}
		for _, a := range []struct {
			id, pkg, fixed, severity, title string
		}{
			{cveMusl, "musl", "1.2.4-r1", "HIGH", "musl: seeded test vulnerability"},
			{cveBusybox, "busybox", "", "CRITICAL", "busybox: seeded, no fix yet"},
			{cveZlib, "zlib", "1.3.1-r1", "LOW", "zlib: seeded low"},
		} {
			if err := dbc.PutAdvisoryDetail(tx, a.id, a.pkg, []string{bucket}, dbtypes.Advisory{FixedVersion: a.fixed}); err != nil {
				return err
			}
			if err := dbc.SaveAdvisoryDetails(tx, a.id); err != nil {
				return err
			}
			if err := dbc.PutVulnerability(tx, a.id, dbtypes.Vulnerability{Title: a.title, Severity: a.severity}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := dbc.DeleteAdvisoryDetailBucket(); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	now := time.Now().UTC()
	return metadata.NewClient(dir).Update(metadata.Metadata{Version: db.SchemaVersion, NextUpdate: now.Add(24 * time.Hour), UpdatedAt: now})
}

// apk is one installed package in Alpine's database format.
func apk(name, version string) string {
	return "C:Q1test" + name + "=\nP:" + name + "\nV:" + version + "\nA:x86_64\nS:1000\nI:2000\nT:" + name + "\nU:https://example.org\nL:MIT\no:" + name + "\nm:test\nt:1700000000\nc:0000\n\n"
}

// image writes an Alpine-shaped image (os-release and the apk database)
// as an OCI layout and returns its folder.
func image(t *testing.T, pkgs ...string) string {
	t.Helper()
	files := []ociimage.File{
		{Path: "/etc/alpine-release", Mode: 0o644, Data: []byte("3.19.1\n")},
		{Path: "/etc/os-release", Mode: 0o644, Data: []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n")},
		{Path: "/lib/apk/db/installed", Mode: 0o644, Data: []byte(strings.Join(pkgs, ""))},
	}
	l, err := ociimage.FilesLayer(ociimage.MemFiles(files), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	img, err := ociimage.Build(ociimage.Spec{
		Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Layers:   []v1.Layer{l}, UID: 10001, GID: 10001,
		Entrypoint:  []string{"/bin/true"},
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "/bin/true"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := ociimage.WriteLayout(dir, img); err != nil {
		t.Fatal(err)
	}
	return dir
}

func scan(t *testing.T, layout string) []Finding {
	t.Helper()
	trivy := testenv.Tool(t, "trivy")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fs, err := Scan(ctx, ScanOptions{Trivy: trivy, Input: layout, CacheDir: vulnDB(t), Offline: true,
		Env: []string{"HOME=" + t.TempDir(), "TRIVY_NO_PROGRESS=true"}})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func ignoreFile(t *testing.T, body string) *IgnoreFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".trivyignore.yaml")
	os.WriteFile(p, []byte(body), 0o644)
	ig, err := ParseIgnoreFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return ig
}

// TestGateWithRealTrivy: the real Trivy, offline, against a DB made
// here. The seeded vulnerable musl fails the gate naming its CVE; the
// clean image passes; an ignore entry hides the finding until its expiry,
// and after it no longer does.
func TestGateWithRealTrivy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

	vulnerable := scan(t, image(t, apk("musl", "1.2.4-r0"), apk("busybox", "1.36.1-r15"), apk("zlib", "1.3.1-r0")))
	ids := map[string]bool{}
	for _, f := range vulnerable {
		ids[f.ID] = true
	}
	if !ids[cveMusl] || !ids[cveBusybox] || !ids[cveZlib] {
		t.Fatalf("trivy found %+v", vulnerable)
	}
	v, err := Decide(vulnerable, nil, now)
	var ge *GateError
	if !errors.As(err, &ge) || len(v.Failing) != 1 || v.Failing[0].ID != cveMusl || v.Below != 2 {
		t.Fatalf("gate: %v (%+v)", err, v)
	}
	if msg := err.Error(); !strings.Contains(msg, cveMusl+" HIGH in musl 1.2.4-r0 (fixed in 1.2.4-r1)") {
		t.Errorf("message:\n%s", msg)
	}

	clean := scan(t, image(t, apk("musl", "1.2.4-r1"), apk("zlib", "1.3.1-r1")))
	if _, err := Decide(clean, nil, now); err != nil {
		t.Errorf("clean image: %v (%+v)", err, clean)
	}

	waiver := "vulnerabilities:\n  - id: " + cveMusl + "\n    statement: the Wizard never calls the affected function\n    expired_at: 2026-12-31\n"
	ig := ignoreFile(t, waiver)
	v, err = Decide(vulnerable, ig, now)
	if err != nil || len(v.Ignored) != 1 {
		t.Errorf("unexpired waiver: %v %+v", err, v)
	}
	later := time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC)
	v, err = Decide(vulnerable, ig, later)
	if !errors.As(err, &ge) || len(v.Failing) != 1 || len(v.Expired) != 1 {
		t.Fatalf("expired waiver: %v %+v", err, v)
	}
	if msg := err.Error(); !strings.Contains(msg, "has expired") || !strings.Contains(msg, cveMusl) {
		t.Errorf("message:\n%s", msg)
	}
}

// TestIgnoreFileNeedsReasonAndExpiry: entries without a statement or an
// expiry, with unknown keys or a bad date, and duplicates are refused
// with their line.
func TestIgnoreFileNeedsReasonAndExpiry(t *testing.T) {
	for name, c := range map[string]struct{ body, want string }{
		"no statement": {"vulnerabilities:\n  - id: CVE-1\n    expired_at: 2027-01-01\n", ":2: CVE-1 has no statement"},
		"no expiry":    {"vulnerabilities:\n  - id: CVE-1\n    statement: because\n", ":2: CVE-1 has no expired_at"},
		"no id":        {"vulnerabilities:\n  - statement: because\n    expired_at: 2027-01-01\n", "an entry without id"},
		"bad date":     {"vulnerabilities:\n  - id: CVE-1\n    statement: because\n    expired_at: soon\n", `expired_at "soon"`},
		"unknown key":  {"vulnerabilities:\n  - id: CVE-1\n    statment: because\n    expired_at: 2027-01-01\n", "statment"},
		"duplicate": {"vulnerabilities:\n  - id: CVE-1\n    statement: a\n    expired_at: 2027-01-01\n  - id: CVE-1\n    statement: b\n    expired_at: 2027-01-01\n",
			":5: CVE-1 is ignored twice (first at line 2)"},
	} {
		_, err := ParseIgnore("ig.yaml", []byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	ig, err := ParseIgnore("ig.yaml", []byte("vulnerabilities:\n  - id: CVE-1\n    statement: ok\n    expired_at: 2027-01-01T00:00:00Z\n    purls: [pkg:apk/alpine/musl@1.2.4-r0]\n"))
	if err != nil || len(ig.Entries) != 1 || !ig.Entries[0].Expires().Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("good file: %v %+v", err, ig)
	}
	f := []Finding{{ID: "CVE-1", Package: "musl", FixedVersion: "2", Severity: "HIGH"}, {ID: "CVE-1", Package: "zlib", FixedVersion: "2", Severity: "HIGH"}}
	v, err := Decide(f, ig, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err == nil || len(v.Ignored) != 1 || v.Failing[0].Package != "zlib" {
		t.Errorf("purl-scoped waiver: %v %+v", err, v)
	}
}
