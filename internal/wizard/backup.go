package wizard

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/atomicfile"
)

// BackupFormat names the archive layout; restore refuses any other.
const BackupFormat = "udos-wizard-backup/1"

// The archive holds BackupManifestName first, then every volume's files
// under volumes/<compose key>/.
const (
	BackupManifestName = "manifest.json"
	backupVolumesDir   = "volumes"
	// helperMount is where a helper container mounts the volume it reads
	// or fills; tar entries through the engine carry it as their prefix.
	helperMount = "/udos-volume"
)

// BackupManifest describes an archive: the project, and per volume every
// entry with its owner, mode and (for files) size and sha256.
type BackupManifest struct {
	Format  string         `json:"format"`
	Project string         `json:"project"`
	Created time.Time      `json:"created"`
	Volumes []BackupVolume `json:"volumes"`
}

// BackupVolume is one named volume of the project.
type BackupVolume struct {
	Key     string        `json:"key"`  // the compose file's key
	Name    string        `json:"name"` // the engine's volume name
	Entries []BackupEntry `json:"entries"`
}

// BackupEntry is one path in a volume ("." is the volume's root).
type BackupEntry struct {
	Path     string `json:"path"`
	Type     string `json:"type"` // file, dir, symlink
	Mode     int64  `json:"mode"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Size     int64  `json:"size,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Linkname string `json:"linkname,omitempty"`
}

// ErrBackupTampered marks an archive whose contents disagree with its
// manifest (or that is not one of ours).
var ErrBackupTampered = errors.New("backup archive does not match its manifest")

func tampered(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBackupTampered, fmt.Sprintf(format, args...))
}

// writers returns the services mounting any of the volume keys.
func (m *Manager) writers(keys map[string]bool) []string {
	var out []string
	for _, name := range m.Project.ServiceNames() {
		for _, v := range m.Project.Services[name].Volumes {
			if v.Type == "volume" && keys[v.Source] {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// helperImage is an image of a service mounting the volume: the helper
// container is created from it but never started.
func (m *Manager) helperImage(ctx context.Context, key string) (string, error) {
	for _, s := range m.writers(map[string]bool{key: true}) {
		img := m.Project.Services[s].Image
		if _, err := m.Engine.ImageInspect(ctx, img); err == nil {
			return img, nil
		}
	}
	for _, s := range m.Project.ServiceNames() {
		img := m.Project.Services[s].Image
		if _, err := m.Engine.ImageInspect(ctx, img); err == nil {
			return img, nil
		}
	}
	return "", fmt.Errorf("volume %s: none of the project's images is in the engine: run `udos-lib wizard up` once first", m.volumeName(key))
}

// withHelper creates a stopped container with the volume mounted at
// helperMount, runs fn with its id and removes it. The engine mounts the
// volume for archive operations on a container that is not running.
func (m *Manager) withHelper(ctx context.Context, key string, fn func(id string) error) error {
	img, err := m.helperImage(ctx, key)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s-volume-helper-%d", m.Project.Name, time.Now().UnixNano())
	res, err := m.Engine.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: img, Labels: m.labels(map[string]string{LabelHelper: "volume"}), Entrypoint: []string{"/nonexistent"}},
		HostConfig: &container.HostConfig{
			Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: m.volumeName(key), Target: helperMount}},
			NetworkMode: "none",
		},
	})
	if err != nil {
		return fmt.Errorf("volume %s: creating a helper container: %w", m.volumeName(key), err)
	}
	defer m.Engine.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
	return fn(res.ID)
}

// stopWriters stops the running services that mount the volumes, in
// reverse dependency order, and returns them so they can be started again.
func (m *Manager) stopWriters(ctx context.Context, keys map[string]bool, why string) ([]string, error) {
	ws := map[string]bool{}
	for _, s := range m.writers(keys) {
		ws[s] = true
	}
	order, err := m.Project.Order()
	if err != nil {
		return nil, err
	}
	var stopped []string
	for i := len(order) - 1; i >= 0; i-- {
		s := order[i]
		if !ws[s] {
			continue
		}
		o, err := m.observe(ctx, s)
		if err != nil {
			return stopped, err
		}
		if !o.Running {
			continue
		}
		m.emit("info", s, "stopping for the %s (a cold, consistent copy)", why)
		if _, err := m.stopService(ctx, s, o, 0); err != nil {
			return stopped, err
		}
		stopped = append(stopped, s)
	}
	return stopped, nil
}

// startWriters starts the stopped services again, dependencies first, and
// waits for each to be ready.
func (m *Manager) startWriters(ctx context.Context, stopped []string) error {
	var errs []error
	for i := len(stopped) - 1; i >= 0; i-- {
		s := stopped[i]
		cs, err := m.spec(s)
		if err == nil {
			err = m.ensureService(ctx, s, cs)
		}
		if err == nil {
			err = m.waitReady(ctx, s, 2*time.Minute)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// BackupOptions tune Backup.
type BackupOptions struct {
	// Output is the archive to write (atomically).
	Output string
}

// Backup writes every named volume of the project into one gzip'd tar
// with a manifest of per-file sha256. The services that mount the volumes
// are stopped first and started again afterwards, so the copy is
// consistent. The archive appears complete or not at all.
func (m *Manager) Backup(ctx context.Context, opts BackupOptions) (*BackupManifest, error) {
	if err := m.ping(ctx); err != nil {
		return nil, err
	}
	if opts.Output == "" {
		return nil, errors.New("backup: no output file")
	}
	keys := slices.Sorted(maps.Keys(m.Project.Volumes))
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s declares no named volumes: nothing to back up", m.Project.File)
	}
	all := map[string]bool{}
	for _, k := range keys {
		all[k] = true
		if _, err := m.Engine.VolumeInspect(ctx, m.volumeName(k), client.VolumeInspectOptions{}); err != nil {
			return nil, fmt.Errorf("volume %s: %w (run `udos-lib wizard up` first)", m.volumeName(k), err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(opts.Output), ".wizard-backup-*")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)

	stopped, err := m.stopWriters(ctx, all, "backup")
	man := &BackupManifest{Format: BackupFormat, Project: m.Project.Name, Created: m.clock().Now().UTC().Truncate(time.Second)}
	if err == nil {
		for _, k := range keys {
			var v BackupVolume
			v, err = m.readVolume(ctx, k, filepath.Join(tmp, k+".tar"))
			if err != nil {
				break
			}
			man.Volumes = append(man.Volumes, v)
		}
	}
	// Start the writers again whatever happened.
	if serr := m.startWriters(ctx, stopped); serr != nil {
		err = errors.Join(err, fmt.Errorf("starting the services again: %w", serr))
	}
	if err != nil {
		return nil, err
	}
	err = atomicfile.Write(opts.Output, 0o600, func(w io.Writer) error {
		return writeBackup(w, man, tmp)
	})
	if err != nil {
		return nil, err
	}
	files := 0
	for _, v := range man.Volumes {
		files += len(v.Entries)
	}
	m.emit("info", "", "backed up %d volume(s), %d entries, to %s", len(man.Volumes), files, opts.Output)
	return man, m.audit(AuditEntry{Action: "backup", Message: fmt.Sprintf("%d volume(s) to %s", len(man.Volumes), opts.Output)})
}

// readVolume copies a volume out of the engine into a tar file of its own
// (names relative to the volume) and lists it.
func (m *Manager) readVolume(ctx context.Context, key, dst string) (BackupVolume, error) {
	v := BackupVolume{Key: key, Name: m.volumeName(key)}
	f, err := os.Create(dst)
	if err != nil {
		return v, err
	}
	defer f.Close()
	err = m.withHelper(ctx, key, func(id string) error {
		res, err := m.Engine.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: helperMount})
		if err != nil {
			return fmt.Errorf("volume %s: reading it: %w", v.Name, err)
		}
		defer res.Content.Close()
		tw := tar.NewWriter(f)
		tr := tar.NewReader(res.Content)
		prefix := strings.TrimPrefix(helperMount, "/")
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("volume %s: reading it: %w", v.Name, err)
			}
			rel := strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), prefix)
			rel = strings.TrimPrefix(rel, "/")
			if rel == "" {
				rel = "."
			}
			e, err := entryOf(h, rel)
			if err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
			h.Name = rel
			if e.Type == "dir" && rel != "." {
				h.Name += "/"
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if e.Type == "file" {
				sum := sha256.New()
				if _, err := io.Copy(io.MultiWriter(tw, sum), tr); err != nil {
					return fmt.Errorf("volume %s: reading %s: %w", v.Name, rel, err)
				}
				e.SHA256 = hex.EncodeToString(sum.Sum(nil))
			}
			v.Entries = append(v.Entries, e)
		}
		return tw.Close()
	})
	sort.Slice(v.Entries, func(i, j int) bool { return v.Entries[i].Path < v.Entries[j].Path })
	return v, err
}

func entryOf(h *tar.Header, rel string) (BackupEntry, error) {
	e := BackupEntry{Path: rel, Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid}
	switch h.Typeflag {
	case tar.TypeReg:
		e.Type, e.Size = "file", h.Size
	case tar.TypeDir:
		e.Type = "dir"
	case tar.TypeSymlink:
		e.Type, e.Linkname = "symlink", h.Linkname
	default:
		return e, fmt.Errorf("%s: only files, folders and symlinks are backed up (type %q)", rel, string(h.Typeflag))
	}
	return e, nil
}

// writeBackup streams the archive: the manifest, then each volume's tar
// under volumes/<key>/.
func writeBackup(w io.Writer, man *BackupManifest, tmp string) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	mj, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: BackupManifestName, Mode: 0o644, Size: int64(len(mj)), ModTime: man.Created, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(mj); err != nil {
		return err
	}
	for _, v := range man.Volumes {
		f, err := os.Open(filepath.Join(tmp, v.Key+".tar"))
		if err != nil {
			return err
		}
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return err
			}
			h.Name = path.Join(backupVolumesDir, v.Key, h.Name)
			if h.Typeflag == tar.TypeDir {
				h.Name += "/"
			}
			h.Format = tar.FormatPAX
			if err := tw.WriteHeader(h); err != nil {
				f.Close()
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Force replaces volumes that exist (their containers are stopped,
	// removed and created again afterwards); without it restore only
	// fills volumes that do not exist yet.
	Force bool
}

// Restore verifies the archive against its manifest, refusing it (before
// anything is touched) when a file is missing, extra, altered or unsafe,
// then fills the project's volumes, and reads every volume back to check
// it against the manifest.
func (m *Manager) Restore(ctx context.Context, file string, opts RestoreOptions) (*BackupManifest, error) {
	if err := m.ping(ctx); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "udos-wizard-restore-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	man, err := verifyBackup(file, tmp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	keys := map[string]bool{}
	var existing []string
	for _, v := range man.Volumes {
		if _, ok := m.Project.Volumes[v.Key]; !ok {
			return nil, fmt.Errorf("%s: volume %q is not declared in %s", file, v.Key, m.Project.File)
		}
		keys[v.Key] = true
		if _, err := m.Engine.VolumeInspect(ctx, m.volumeName(v.Key), client.VolumeInspectOptions{}); err == nil {
			existing = append(existing, m.volumeName(v.Key))
		} else if !isNotFound(err) {
			return nil, fmt.Errorf("volume %s: %w", m.volumeName(v.Key), err)
		}
	}
	if len(existing) > 0 && !opts.Force {
		return nil, fmt.Errorf("volume(s) %s exist: restore fills fresh volumes only; pass --force to replace them (their current data is lost)", strings.Join(existing, ", "))
	}
	var stopped []string
	if len(existing) > 0 {
		if stopped, err = m.stopWriters(ctx, keys, "restore"); err != nil {
			return nil, err
		}
		// A volume in use cannot be removed: the writers' containers go
		// (they are created again from the file).
		for _, s := range m.writers(keys) {
			o, err := m.observe(ctx, s)
			if err != nil {
				return nil, err
			}
			if o.Exists {
				if err := m.removeContainer(ctx, s, o, "restore"); err != nil {
					return nil, err
				}
			}
		}
	}
	var rerr error
	for _, v := range man.Volumes {
		if err := m.fillVolume(ctx, v, filepath.Join(tmp, v.Key+".tar"), opts.Force); err != nil {
			rerr = err
			break
		}
	}
	if err := m.startWriters(ctx, stopped); err != nil {
		rerr = errors.Join(rerr, fmt.Errorf("starting the services again: %w", err))
	}
	if rerr != nil {
		return nil, rerr
	}
	m.emit("info", "", "restored %d volume(s) from %s, every file verified", len(man.Volumes), file)
	return man, m.audit(AuditEntry{Action: "restore", Message: fmt.Sprintf("%d volume(s) from %s", len(man.Volumes), file)})
}

func (m *Manager) fillVolume(ctx context.Context, v BackupVolume, tarPath string, replace bool) error {
	name := m.volumeName(v.Key)
	if replace {
		if _, err := m.Engine.VolumeRemove(ctx, name, client.VolumeRemoveOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("replacing volume %s: %w", name, err)
		}
		if err := m.audit(AuditEntry{Action: "volume-remove", Message: name + " (restore --force)"}); err != nil {
			return err
		}
	}
	if err := m.ensureVolume(ctx, v.Key); err != nil {
		return err
	}
	fail := func(err error) error {
		// A half-filled volume is never left behind as if restored.
		m.Engine.VolumeRemove(context.WithoutCancel(ctx), name, client.VolumeRemoveOptions{Force: true})
		return err
	}
	err := m.withHelper(ctx, v.Key, func(id string) error {
		f, err := os.Open(tarPath)
		if err != nil {
			return err
		}
		defer f.Close()
		// The engine extracts owners and modes as the archive says; the
		// volume's root gets its own from the prefix folder's entry (an
		// entry "." would be skipped).
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(prefixTar(pw, f, strings.TrimPrefix(helperMount, "/"))) }()
		defer pr.Close()
		if _, err := m.Engine.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: pr}); err != nil {
			return fmt.Errorf("volume %s: filling it: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	back, err := m.readVolume(ctx, v.Key, tarPath+".check")
	if err != nil {
		return fail(err)
	}
	if err := sameEntries(v.Entries, back.Entries); err != nil {
		return fail(fmt.Errorf("volume %s after restore: %w", name, err))
	}
	return nil
}

func sameEntries(want, got []BackupEntry) error {
	g := map[string]BackupEntry{}
	for _, e := range got {
		g[e.Path] = e
	}
	for _, w := range want {
		e, ok := g[w.Path]
		if !ok {
			return fmt.Errorf("%s is missing", w.Path)
		}
		if e != w {
			return fmt.Errorf("%s differs: %+v, want %+v", w.Path, e, w)
		}
		delete(g, w.Path)
	}
	for p := range g {
		return fmt.Errorf("%s is not in the manifest", p)
	}
	return nil
}

// maxManifest bounds the manifest read into memory.
const maxManifest = 64 << 20

// verifyBackup checks an archive completely against its manifest and
// writes each volume's entries (relative names) to tmp/<key>.tar, ready
// to be copied into the engine.
func verifyBackup(file, tmp string) (*BackupManifest, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, tampered("not a gzip'd backup archive: %v", err)
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != BackupManifestName || h.Size > maxManifest {
		return nil, tampered("the archive does not start with %s", BackupManifestName)
	}
	mj, err := io.ReadAll(tr)
	if err != nil {
		return nil, tampered("reading the manifest: %v", err)
	}
	var man BackupManifest
	dec := json.NewDecoder(bytes.NewReader(mj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return nil, tampered("manifest: %v", err)
	}
	if man.Format != BackupFormat {
		return nil, tampered("format %q, want %q", man.Format, BackupFormat)
	}
	want := map[string]map[string]BackupEntry{}
	writers := map[string]*tar.Writer{}
	for _, v := range man.Volumes {
		if v.Key == "" || strings.ContainsAny(v.Key, "/\\") || want[v.Key] != nil {
			return nil, tampered("bad or repeated volume key %q", v.Key)
		}
		want[v.Key] = map[string]BackupEntry{}
		for _, e := range v.Entries {
			want[v.Key][e.Path] = e
		}
		vf, err := os.Create(filepath.Join(tmp, v.Key+".tar"))
		if err != nil {
			return nil, err
		}
		defer vf.Close()
		writers[v.Key] = tar.NewWriter(vf)
	}
	seen := map[string]map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, tampered("reading the archive: %v", err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		rest, ok := strings.CutPrefix(name, backupVolumesDir+"/")
		key, rel, _ := strings.Cut(rest, "/")
		if rel == "" {
			rel = "."
		}
		if !ok || want[key] == nil {
			return nil, tampered("entry %q is outside the manifest's volumes", h.Name)
		}
		if rel != "." && (path.Clean(rel) != rel || path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../")) {
			return nil, tampered("entry %q is not a clean relative path", h.Name)
		}
		w, ok := want[key][rel]
		if !ok {
			return nil, tampered("volume %s: %s is not in the manifest", key, rel)
		}
		if seen[key] == nil {
			seen[key] = map[string]bool{}
		}
		if seen[key][rel] {
			return nil, tampered("volume %s: %s appears twice", key, rel)
		}
		seen[key][rel] = true
		got, err := entryOf(h, rel)
		if err != nil {
			return nil, tampered("volume %s: %v", key, err)
		}
		if got.Type == "symlink" && (path.IsAbs(got.Linkname) || strings.HasPrefix(path.Clean(path.Join(path.Dir(rel), got.Linkname)), "../")) {
			return nil, tampered("volume %s: symlink %s points out of the volume (%s)", key, rel, got.Linkname)
		}
		h.Name = rel
		if got.Type == "dir" && rel != "." {
			h.Name += "/"
		}
		if err := writers[key].WriteHeader(h); err != nil {
			return nil, err
		}
		if got.Type == "file" {
			sum := sha256.New()
			if _, err := io.Copy(io.MultiWriter(writers[key], sum), tr); err != nil {
				return nil, tampered("volume %s: reading %s: %v", key, rel, err)
			}
			got.SHA256 = hex.EncodeToString(sum.Sum(nil))
		}
		if got != w {
			return nil, tampered("volume %s: %s differs from the manifest (sha256 %s, want %s)", key, rel, short(got.SHA256), short(w.SHA256))
		}
	}
	for key, es := range want {
		for p := range es {
			if !seen[key][p] {
				return nil, tampered("volume %s: %s is in the manifest but not in the archive", key, p)
			}
		}
		if err := writers[key].Close(); err != nil {
			return nil, err
		}
	}
	return &man, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	if s == "" {
		return "none"
	}
	return s
}

// prefixTar copies a tar stream, putting every name under prefix.
func prefixTar(w io.Writer, r io.Reader, prefix string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		h.Name = path.Join(prefix, h.Name)
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}
