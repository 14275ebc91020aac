package variant

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/compose"
)

// TestShippedComposePassesHardening: the compose file wizard-full ships
// passes every hardening check `udos-lib wizard up` enforces, built
// locally or pinned by digest.
func TestShippedComposePassesHardening(t *testing.T) {
	pinned := "ghcr.io/fredbook/udos-wizard@sha256:" + strings.Repeat("ab", 32)
	for name, o := range map[string]ComposeOptions{
		"defaults":  {},
		"real port": {Port: 8765, HealthPath: "/health"},
		"pinned":    {Image: pinned},
	} {
		data, err := Compose("1.4.6", o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		dir := t.TempDir()
		// The bind mounts' sources exist in the variant's tree.
		os.MkdirAll(filepath.Join(dir, "wizard", "config"), 0o755)
		os.MkdirAll(filepath.Join(dir, "distribution"), 0o755)
		os.WriteFile(filepath.Join(dir, "distribution", "local-library-catalog.json"), []byte("{}"), 0o644)
		file := filepath.Join(dir, "docker-compose.yml")
		os.WriteFile(file, data, 0o644)
		p, err := compose.Load(context.Background(), file, nil)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, data)
		}
		fs, err := p.Harden(compose.HardenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			t.Errorf("%s: %s", name, f)
		}
		svc := p.Services["wizard"]
		if o.Image != "" && (svc.Image != pinned || svc.Build != nil) {
			t.Errorf("%s: image %q build %+v", name, svc.Image, svc.Build)
		}
	}
	for _, bad := range []ComposeOptions{{Image: "ghcr.io/x/udos-wizard:1.4.6"}, {MemLimit: "lots"}} {
		if _, err := Compose("1.4.6", bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
