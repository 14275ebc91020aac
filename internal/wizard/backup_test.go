package wizard

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/tarball/tartest"
)

// seedVolume puts files of every kind into a project volume through a
// helper container.
func (r *rig) seedVolume(key string, files map[string][]byte) {
	r.t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "nested/deeper/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 10001, Gid: 10001})
	for name, data := range files {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Uid: 10001, Gid: 10001, Size: int64(len(data)), ModTime: time.Unix(1700000000, 0)})
		tw.Write(data)
	}
	tw.WriteHeader(&tar.Header{Name: "nested/link", Typeflag: tar.TypeSymlink, Linkname: "deeper/blob.bin", Uid: 10001, Gid: 10001})
	tw.Close()
	ctx := context.Background()
	err := r.m.withHelper(ctx, key, func(id string) error {
		_, err := r.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: helperMount, Content: &buf})
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// TestBackupRestoreRoundTrip: a cold backup of both volumes (the writer
// stopped, then running again), restored into fresh volumes, is byte for
// byte (and owner and mode) what was backed up; existing volumes are only
// replaced with Force.
func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(r.service("db", []string{"serve", "--state", "/data"}, "    volumes: [data:/data, cache:/cache]"))
	if err := r.up(time.Minute); err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 300<<10)
	rand.Read(blob)
	r.seedVolume("data", map[string][]byte{"nested/deeper/blob.bin": blob, "settings.json": []byte(`{"a": 1}`), "empty": nil})
	ctx := context.Background()
	out := filepath.Join(r.dir, "backups", "b1.tar.gz")
	os.MkdirAll(filepath.Dir(out), 0o755)
	man, err := r.m.Backup(ctx, BackupOptions{Output: out})
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, r.events)
	}
	if len(man.Volumes) != 2 || man.Volumes[0].Key != "cache" || man.Volumes[1].Key != "data" {
		t.Fatalf("volumes %+v", man.Volumes)
	}
	paths := map[string]BackupEntry{}
	for _, e := range man.Volumes[1].Entries {
		paths[e.Path] = e
	}
	for _, p := range []string{".", "boot.log", "nested", "nested/deeper", "nested/deeper/blob.bin", "nested/link", "settings.json", "empty"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("backup lacks %s: %+v", p, man.Volumes[1].Entries)
		}
	}
	if e := paths["nested/deeper/blob.bin"]; e.Size != int64(len(blob)) || e.Mode != 0o600 || e.UID != 10001 || len(e.SHA256) != 64 {
		t.Errorf("blob entry %+v", e)
	}
	// Cold: db was stopped for it and is running again.
	if i, j := r.events.index("db", "stopping for the backup"), r.events.index("", "backed up"); i < 0 || j < i {
		t.Errorf("writer not stopped first:\n%s", r.events)
	}
	if o := r.observe("db"); !o.ready(true) {
		t.Errorf("db not running after the backup: %+v", o)
	}

	// Existing volumes are not overwritten without --force.
	if _, err := r.m.Restore(ctx, out, RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over existing volumes: %v", err)
	}

	// Into fresh volumes: everything gone first.
	if _, err := r.m.Down(ctx, DownOptions{Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"data", "cache"} {
		if _, err := r.cli.VolumeRemove(ctx, r.m.volumeName(k), client.VolumeRemoveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.m.Restore(ctx, out, RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	out2 := filepath.Join(r.dir, "backups", "b2.tar.gz")
	man2, err := r.m.Backup(ctx, BackupOptions{Output: out2})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(man.Volumes, man2.Volumes) {
		t.Errorf("round trip differs:\n%+v\n%+v", man.Volumes, man2.Volumes)
	}

	// --force replaces volumes in use: the service comes back on them.
	if err := r.up(time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Restore(ctx, out, RestoreOptions{Force: true}); err != nil {
		t.Fatalf("restore --force: %v", err)
	}
	if o := r.observe("db"); !o.ready(true) {
		t.Errorf("db not running after restore --force: %+v", o)
	}
}

// TestRestoreRefusesTampered: an archive whose file differs from the
// manifest, has an extra or a missing file, or a symlink out of the
// volume is refused before any volume is touched.
func TestRestoreRefusesTampered(t *testing.T) {
	man := `{"format": "` + BackupFormat + `", "project": "p", "created": "2026-01-01T00:00:00Z", "volumes": [{"key": "data", "name": "p_data", "entries": [
		{"path": ".", "type": "dir", "mode": 493, "uid": 10001, "gid": 10001},
		{"path": "a.txt", "type": "file", "mode": 420, "uid": 10001, "gid": 10001, "size": 5, "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}]}]}`
	type ent struct {
		name, body, link string
		dir              bool
	}
	good := []ent{{name: "volumes/data/", dir: true}, {name: "volumes/data/a.txt", body: "hello"}}
	build := func(manifest string, es []ent) string {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Name: BackupManifestName, Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg})
		io.WriteString(tw, manifest)
		for _, e := range es {
			h := &tar.Header{Name: e.name, Mode: 0o644, Uid: 10001, Gid: 10001, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
			switch {
			case e.dir:
				h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
			case e.link != "":
				h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
			}
			tw.WriteHeader(h)
			io.WriteString(tw, e.body)
		}
		tw.Close()
		zw.Close()
		p := filepath.Join(t.TempDir(), "b.tar.gz")
		os.WriteFile(p, buf.Bytes(), 0o600)
		return p
	}
	if _, err := verifyBackup(build(man, good), t.TempDir()); err != nil {
		t.Fatalf("good archive refused: %v", err)
	}
	linkMan := strings.Replace(man, `]}]}`, `, {"path": "l", "type": "symlink", "mode": 511, "uid": 10001, "gid": 10001, "linkname": "../../etc/passwd"}]}]}`, 1)
	for name, path := range map[string]string{
		"altered":   build(man, []ent{good[0], {name: "volumes/data/a.txt", body: "HELLO"}}),
		"extra":     build(man, append(good, ent{name: "volumes/data/b.txt", body: "x"})),
		"missing":   build(man, good[:1]),
		"traversal": build(man, append(good, ent{name: "volumes/data/../../x", body: "x"})),
		"other dir": build(man, append(good, ent{name: "etc/x", body: "x"})),
		"symlink":   build(linkMan, append(good, ent{name: "volumes/data/l", link: "../../etc/passwd"})),
		"format":    build(strings.Replace(man, BackupFormat, "other/9", 1), good),
		"no manifest first": build(man, nil)[:0] + func() string {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			tw.WriteHeader(&tar.Header{Name: "volumes/data/a.txt", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
			io.WriteString(tw, "hello")
			tw.Close()
			zw.Close()
			p := filepath.Join(t.TempDir(), "n.tar.gz")
			os.WriteFile(p, buf.Bytes(), 0o600)
			return p
		}(),
	} {
		if _, err := verifyBackup(path, t.TempDir()); !errors.Is(err, ErrBackupTampered) {
			t.Errorf("%s: %v, want ErrBackupTampered", name, err)
		}
	}
}

// TestRestoreTamperedTouchesNothing: through the engine, a tampered
// archive of a real backup is refused and no volume is created.
func TestRestoreTamperedTouchesNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(r.service("db", []string{"serve", "--state", "/data"}, "    volumes: [data:/data]"))
	if err := r.up(time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out := filepath.Join(r.dir, "b.tar.gz")
	if _, err := r.m.Backup(ctx, BackupOptions{Output: out}); err != nil {
		t.Fatal(err)
	}
	// Flip the contents of boot.log, keeping its size.
	tamperedPath := filepath.Join(r.dir, "t.tar.gz")
	rewrite(t, out, tamperedPath, func(h *tar.Header, body []byte) []byte {
		if strings.HasSuffix(h.Name, "boot.log") {
			return bytes.ToUpper(body)
		}
		return body
	})
	if _, err := r.m.Down(ctx, DownOptions{Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"data", "cache"} {
		r.cli.VolumeRemove(ctx, r.m.volumeName(k), client.VolumeRemoveOptions{})
	}
	_, err := r.m.Restore(ctx, tamperedPath, RestoreOptions{})
	if !errors.Is(err, ErrBackupTampered) || !strings.Contains(err.Error(), "boot.log") {
		t.Fatalf("restore of a tampered archive: %v", err)
	}
	if _, err := r.cli.VolumeInspect(ctx, r.m.volumeName("data"), client.VolumeInspectOptions{}); err == nil {
		t.Error("a volume was created from a tampered archive")
	}
}

func rewrite(t *testing.T, in, out string, fn func(*tar.Header, []byte) []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tartest.WalkFile(t, in, func(h *tar.Header, body []byte) bool {
		body = fn(h, body)
		h.Size = int64(len(body))
		tw.WriteHeader(h)
		tw.Write(body)
		return true
	})
	tw.Close()
	zw.Close()
	os.WriteFile(out, buf.Bytes(), 0o600)
}
