package compose

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// secure is the attributes of a service that passes every check; each case
// below changes one or two of them.
var secure = map[string]string{
	"image":        "    image: example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
	"user":         `    user: "10001:10001"`,
	"cap_drop":     "    cap_drop: [ALL]",
	"security_opt": "    security_opt: [\"no-new-privileges:true\"]",
	"read_only":    "    read_only: true",
	"mem_limit":    "    mem_limit: 256m",
	"pids_limit":   "    pids_limit: 128",
	"restart":      `    restart: "on-failure:5"`,
	"healthcheck":  "    healthcheck:\n      test: [\"CMD\", \"/app\", \"healthcheck\"]\n      interval: 5s",
	"ports":        "    ports: [\"127.0.0.1:9000:9000\"]",
	"volumes":      "    volumes:\n      - data:/data",
}

func composeFile(t *testing.T, change map[string]string) string {
	t.Helper()
	attrs := map[string]string{}
	for k, v := range secure {
		attrs[k] = v
	}
	for k, v := range change {
		if v == "" {
			delete(attrs, k)
		} else {
			attrs[k] = v
		}
	}
	keys := slices.Sorted(maps.Keys(attrs))
	var b strings.Builder
	b.WriteString("name: hardening\nservices:\n  app:\n")
	for _, k := range keys {
		b.WriteString(attrs[k] + "\n")
	}
	b.WriteString("volumes:\n  data: {}\n")
	dir := t.TempDir()
	p := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHardeningChecks(t *testing.T) {
	cases := []struct {
		name    string
		change  map[string]string
		want    []string // check ids, in report order
		wantKey string   // the attribute whose line the first finding names
	}{
		{name: "secure", change: nil},
		{name: "no user", change: map[string]string{"user": ""}, want: []string{"non-root"}},
		{name: "root user", change: map[string]string{"user": `    user: "0:0"`}, want: []string{"non-root"}, wantKey: "user"},
		{name: "root by name", change: map[string]string{"user": "    user: root"}, want: []string{"non-root"}, wantKey: "user"},
		{name: "no cap_drop", change: map[string]string{"cap_drop": ""}, want: []string{"cap-drop"}},
		{name: "cap_drop partial", change: map[string]string{"cap_drop": "    cap_drop: [NET_RAW]"}, want: []string{"cap-drop"}, wantKey: "cap_drop"},
		{name: "cap_add outside allowlist", change: map[string]string{"cap_add": "    cap_add: [NET_BIND_SERVICE, SYS_ADMIN]"}, want: []string{"cap-drop"}, wantKey: "cap_add"},
		{name: "cap_add allowlisted", change: map[string]string{"cap_add": "    cap_add: [CAP_NET_BIND_SERVICE]"}},
		{name: "privileged", change: map[string]string{"privileged": "    privileged: true"}, want: []string{"privileged"}, wantKey: "privileged"},
		{name: "host etc", change: map[string]string{"volumes": "    volumes:\n      - data:/data\n      - /etc:/host-etc:ro"}, want: []string{"host-mounts"}, wantKey: "volumes"},
		{name: "host subdir writable", change: map[string]string{"volumes": "    volumes:\n      - /usr/local:/x"}, want: []string{"host-mounts"}, wantKey: "volumes"},
		{name: "host subdir read-only", change: map[string]string{"volumes": "    volumes:\n      - /etc/localtime:/etc/localtime:ro"}},
		{name: "host network", change: map[string]string{"network_mode": "    network_mode: host", "ports": ""}, want: []string{"host-network"}, wantKey: "network_mode"},
		{name: "no memory limit", change: map[string]string{"mem_limit": ""}, want: []string{"memory-limit"}},
		{name: "memory via deploy", change: map[string]string{"mem_limit": "    deploy:\n      resources:\n        limits:\n          memory: 128m\n          pids: 64", "pids_limit": ""}},
		{name: "writable root", change: map[string]string{"read_only": ""}, want: []string{"read-only"}},
		{name: "read_only false", change: map[string]string{"read_only": "    read_only: false"}, want: []string{"read-only"}},
		{name: "port on every interface", change: map[string]string{"ports": `    ports: ["9000:9000"]`}, want: []string{"loopback-ports"}, wantKey: "ports"},
		{name: "port on 0.0.0.0", change: map[string]string{"ports": `    ports: ["0.0.0.0:9000:9000"]`}, want: []string{"loopback-ports"}, wantKey: "ports"},
		{name: "port waived", change: map[string]string{"ports": `    ports: ["9000:9000"]`, "x-udos": "    x-udos:\n      allow_public_ports: true"}},
		{name: "port ipv6 loopback", change: map[string]string{"ports": `    ports: ["[::1]:9000:9000"]`}},
		{name: "restart always", change: map[string]string{"restart": "    restart: always"}, want: []string{"restart-bounded"}, wantKey: "restart"},
		{name: "restart unless-stopped", change: map[string]string{"restart": "    restart: unless-stopped"}, want: []string{"restart-bounded"}, wantKey: "restart"},
		{name: "restart on-failure unbounded", change: map[string]string{"restart": "    restart: on-failure"}, want: []string{"restart-bounded"}, wantKey: "restart"},
		{name: "restart on-failure:9", change: map[string]string{"restart": `    restart: "on-failure:9"`}, want: []string{"restart-bounded"}, wantKey: "restart"},
		{name: "restart no", change: map[string]string{"restart": `    restart: "no"`}},
		{name: "host pid", change: map[string]string{"pid": "    pid: host"}, want: []string{"host-pid"}, wantKey: "pid"},
		{name: "host ipc", change: map[string]string{"ipc": "    ipc: host"}, want: []string{"host-ipc"}, wantKey: "ipc"},
		{name: "devices", change: map[string]string{"devices": "    devices: [\"/dev/kvm:/dev/kvm\"]"}, want: []string{"devices"}, wantKey: "devices"},
		{name: "host uts", change: map[string]string{"uts": "    uts: host"}, want: []string{"host-uts"}, wantKey: "uts"},
		{name: "seccomp unconfined", change: map[string]string{"security_opt": "    security_opt: [\"no-new-privileges:true\", \"seccomp=unconfined\"]"}, want: []string{"seccomp"}, wantKey: "security_opt"},
		{name: "no no-new-privileges", change: map[string]string{"security_opt": ""}, want: []string{"no-new-privileges"}},
		{name: "no-new-privileges false", change: map[string]string{"security_opt": "    security_opt: [\"no-new-privileges:false\"]"}, want: []string{"no-new-privileges"}, wantKey: "security_opt"},
		{name: "no healthcheck", change: map[string]string{"healthcheck": ""}, want: []string{"healthcheck"}},
		{name: "healthcheck disabled", change: map[string]string{"healthcheck": "    healthcheck:\n      disable: true"}, want: []string{"healthcheck"}, wantKey: "healthcheck"},
		{name: "no pids limit", change: map[string]string{"pids_limit": ""}, want: []string{"pids-limit"}},
		{name: "pids unlimited", change: map[string]string{"pids_limit": "    pids_limit: -1"}, want: []string{"pids-limit"}, wantKey: "pids_limit"},
		{name: "host userns", change: map[string]string{"userns_mode": "    userns_mode: host"}, want: []string{"host-userns"}, wantKey: "userns_mode"},
		{name: "docker socket", change: map[string]string{"volumes": "    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock"}, want: []string{"docker-socket"}, wantKey: "volumes"},
		{name: "docker socket read-only", change: map[string]string{"volumes": "    volumes:\n      - /run/docker.sock:/run/docker.sock:ro"}, want: []string{"docker-socket"}, wantKey: "volumes"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := composeFile(t, tc.change)
			p, err := Load(context.Background(), path, nil)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			fs, err := p.Harden(HardenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.Check)
				if f.Service != "app" || f.CIS == "" || f.Title == "" || f.Remedy == "" || f.Problem == "" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("findings %v, want %v\n%v", got, tc.want, fs)
			}
			if tc.wantKey != "" {
				content, _ := os.ReadFile(path)
				line := 0
				for i, l := range strings.Split(string(content), "\n") {
					if line == 0 && strings.HasPrefix(strings.TrimSpace(l), tc.wantKey+":") {
						line = i + 1
					}
				}
				if fs[0].Line < line || fs[0].Line > line+3 {
					t.Errorf("finding at line %d, want the %s key at line %d:\n%s", fs[0].Line, tc.wantKey, line, content)
				}
			}
		})
		for _, id := range tc.want {
			seen[id] = true
		}
	}
	for _, c := range Checks {
		if !seen[c.ID] {
			t.Errorf("check %s (CIS %s) has no case that trips it", c.ID, c.CIS)
		}
	}
}

func TestHardenOptions(t *testing.T) {
	path := composeFile(t, map[string]string{"ports": `    ports: ["9000:9000"]`, "cap_add": "    cap_add: [SYS_PTRACE]"})
	p, err := Load(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := p.Harden(HardenOptions{AllowPublicPorts: true, AllowedCaps: []string{"SYS_PTRACE"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 {
		t.Errorf("options did not waive: %v", fs)
	}
}

func TestShippedComposeShape(t *testing.T) {
	// The file wizard-full ships (internal/variant's template, default
	// options) loads; the checks report what it still lacks.
	src := `name: udos-wizard
services:
  wizard:
    image: udos-wizard:1.4.6
    user: "10001:10001"
    read_only: true
    security_opt: [no-new-privileges:true]
    cap_drop: [ALL]
    pids_limit: 256
    ports: ["127.0.0.1:9000:9000"]
    healthcheck:
      test: ["CMD", "python", "-c", "print(1)"]
      interval: 30s
    restart: unless-stopped
`
	p, err := LoadBytes(context.Background(), filepath.Join(t.TempDir(), "docker-compose.yml"), []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "udos-wizard" {
		t.Errorf("project name %q", p.Name)
	}
	fs, _ := p.Harden(HardenOptions{})
	var got []string
	for _, f := range fs {
		got = append(got, f.Check)
	}
	if strings.Join(got, ",") != "memory-limit,restart-bounded" {
		t.Errorf("findings %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name     string
		src      string
		wantLine int
		wantText string
	}{
		{name: "yaml syntax", src: "name: x\nservices:\n  app:\n    image: a\n   user: b\n", wantLine: 5, wantText: "mapping"},
		{name: "tab indentation", src: "name: x\nservices:\n\tapp:\n", wantLine: 3, wantText: "cannot start any token"},
		{name: "unterminated quote", src: "services:\n  app:\n    image: \"a\n", wantLine: 4, wantText: "quoted scalar"},
		{name: "unknown key", src: "name: x\nservices:\n  app:\n    image: a\n    privilegd: true\n", wantLine: 5, wantText: "services.app.privilegd: unknown key"},
		{name: "wrong type", src: "name: x\nservices:\n  app:\n    image: a\n    read_only: [1]\n", wantLine: 5, wantText: "read_only"},
		{name: "services not a mapping", src: "name: x\nservices: [a, b]\n", wantLine: 2, wantText: "services"},
		{name: "undefined dependency", src: "name: x\nservices:\n  app:\n    image: a\n    depends_on: [db]\n", wantText: "db"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "docker-compose.yml")
			if err := os.WriteFile(file, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), file, nil)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want a *ParseError", err, err)
			}
			if pe.File != file {
				t.Errorf("file %q", pe.File)
			}
			if tc.wantLine != 0 && pe.Line != tc.wantLine {
				t.Errorf("line %d, want %d: %v", pe.Line, tc.wantLine, err)
			}
			if !strings.Contains(pe.Problem, tc.wantText) || !strings.HasPrefix(err.Error(), file) {
				t.Errorf("message %q should start with the file and say %q", err, tc.wantText)
			}
			if strings.Count(err.Error(), file) != 1 {
				t.Errorf("message %q repeats the file name", err)
			}
		})
	}
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "missing.yml"), nil); err == nil || !strings.Contains(err.Error(), "missing.yml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestInterpolationAndExtension(t *testing.T) {
	src := "name: x\nservices:\n  app:\n    image: a:${TAG:-1}\n    x-udos:\n      reset_volumes: [state]\nvolumes:\n  state: {}\n"
	p, err := LoadBytes(context.Background(), filepath.Join(t.TempDir(), "c.yml"), []byte(src), map[string]string{"TAG": "2"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Services["app"].Image != "a:2" {
		t.Errorf("image %q", p.Services["app"].Image)
	}
	ext, err := p.Extension("app")
	if err != nil || len(ext.ResetVolumes) != 1 || ext.ResetVolumes[0] != "state" {
		t.Errorf("extension %+v, %v", ext, err)
	}
	bad := strings.Replace(src, "[state]", "[other]", 1)
	p, err = LoadBytes(context.Background(), filepath.Join(t.TempDir(), "c.yml"), []byte(bad), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Extension("app"); err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Errorf("unknown reset volume: %v", err)
	}
	typo := strings.Replace(src, "reset_volumes", "reset_volume", 1)
	p, _ = LoadBytes(context.Background(), filepath.Join(t.TempDir(), "c.yml"), []byte(typo), nil)
	if _, err := p.Harden(HardenOptions{}); err == nil || !strings.Contains(err.Error(), "reset_volume") {
		t.Errorf("typo in x-udos: %v", err)
	}
}

func TestOrder(t *testing.T) {
	src := `name: x
services:
  web: {image: a, depends_on: {api: {condition: service_healthy}}}
  api: {image: a, depends_on: [db, cache]}
  db: {image: a}
  cache: {image: a}
  other: {image: a}
`
	p, err := LoadBytes(context.Background(), filepath.Join(t.TempDir(), "c.yml"), []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Order()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "cache,db,api,other,web" {
		t.Errorf("order %v", got)
	}
}
