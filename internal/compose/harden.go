package compose

import (
	"fmt"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Check is one hardening rule. CIS is the CIS Docker Benchmark (v1.6.0)
// recommendation it implements; docs/DOCKER-OPERATIONS.md lists them all.
type Check struct {
	ID     string // stable short name, e.g. "cap-drop"
	CIS    string // e.g. "5.3"
	Title  string // the CIS title
	Remedy string // what to write in the compose file
	// test returns one problem per insecure setting and the YAML key under
	// the service where it is (for the line number).
	test func(c *checkCtx) []problem
}

type problem struct {
	msg string
	key []string
}

type checkCtx struct {
	name string
	svc  types.ServiceConfig
	ext  Extension
	opts HardenOptions
}

// Finding is one failed check of one service.
type Finding struct {
	Service string `json:"service"`
	Check   string `json:"check"`
	CIS     string `json:"cis"`
	Title   string `json:"title"`
	Problem string `json:"problem"`
	Remedy  string `json:"remedy"`
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
}

func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return fmt.Sprintf("%s: service %q: %s (CIS %s %s); %s", loc, f.Service, f.Problem, f.CIS, f.Title, f.Remedy)
}

// HardenOptions tune the checks.
type HardenOptions struct {
	// AllowedCaps are the capabilities cap_add may list; default
	// NET_BIND_SERVICE only.
	AllowedCaps []string
	// AllowPublicPorts waives the loopback-only port rule for every service
	// (a service can waive it for itself with x-udos.allow_public_ports).
	AllowPublicPorts bool
}

// DefaultAllowedCaps is the cap_add allowlist.
var DefaultAllowedCaps = []string{"NET_BIND_SERVICE"}

// Checks are the hardening rules in the order they are reported.
var Checks = []Check{
	{ID: "non-root", CIS: "4.1", Title: "Ensure that a user for the container has been created",
		Remedy: `set user: "10001:10001" (any UID other than 0)`, test: checkUser},
	{ID: "cap-drop", CIS: "5.3", Title: "Ensure that Linux kernel capabilities are restricted within containers",
		Remedy: "set cap_drop: [ALL] and add back only NET_BIND_SERVICE if needed", test: checkCaps},
	{ID: "privileged", CIS: "5.4", Title: "Ensure that privileged containers are not used",
		Remedy: "remove privileged: true", test: checkPrivileged},
	{ID: "host-mounts", CIS: "5.5", Title: "Ensure sensitive host system directories are not mounted on containers",
		Remedy: "mount only the folders the service needs, never /, /etc, /proc, /sys, /dev, /boot, /lib or /usr", test: checkHostMounts},
	{ID: "host-network", CIS: "5.9", Title: "Ensure that the host's network namespace is not shared",
		Remedy: "remove network_mode: host and use a project network", test: nsCheck("network_mode", func(s types.ServiceConfig) string { return s.NetworkMode })},
	{ID: "memory-limit", CIS: "5.10", Title: "Ensure that the memory usage for containers is limited",
		Remedy: "set mem_limit (e.g. 512m) or deploy.resources.limits.memory", test: checkMemory},
	{ID: "read-only", CIS: "5.12", Title: "Ensure that the container's root filesystem is mounted as read only",
		Remedy: "set read_only: true and give writable paths a volume or tmpfs", test: checkReadOnly},
	{ID: "loopback-ports", CIS: "5.13", Title: "Ensure that incoming container traffic is bound to a specific host interface",
		Remedy: `publish as "127.0.0.1:PORT:PORT", or waive with x-udos.allow_public_ports: true`, test: checkPorts},
	{ID: "restart-bounded", CIS: "5.14", Title: "Ensure that the 'on-failure' container restart policy is set to '5'",
		Remedy: `set restart: "on-failure:5" or "no" (udos-lib wizard watch supervises with backoff)`, test: checkRestart},
	{ID: "host-pid", CIS: "5.15", Title: "Ensure that the host's process namespace is not shared",
		Remedy: "remove pid: host", test: nsCheck("pid", func(s types.ServiceConfig) string { return s.Pid })},
	{ID: "host-ipc", CIS: "5.16", Title: "Ensure that the host's IPC namespace is not shared",
		Remedy: "remove ipc: host", test: nsCheck("ipc", func(s types.ServiceConfig) string { return s.Ipc })},
	{ID: "devices", CIS: "5.17", Title: "Ensure that host devices are not directly exposed to containers",
		Remedy: "remove devices:", test: checkDevices},
	{ID: "host-uts", CIS: "5.20", Title: "Ensure that the host's UTS namespace is not shared",
		Remedy: "remove uts: host", test: nsCheck("uts", func(s types.ServiceConfig) string { return s.Uts })},
	{ID: "seccomp", CIS: "5.21", Title: "Ensure the default seccomp profile is not Disabled",
		Remedy: "remove seccomp=unconfined from security_opt", test: checkSeccomp},
	{ID: "no-new-privileges", CIS: "5.25", Title: "Ensure that the container is restricted from acquiring additional privileges",
		Remedy: "add no-new-privileges:true to security_opt", test: checkNoNewPrivileges},
	{ID: "healthcheck", CIS: "5.26", Title: "Ensure that container health is checked at runtime",
		Remedy: `add a healthcheck: with an exec-form test (["CMD", ...])`, test: checkHealth},
	{ID: "pids-limit", CIS: "5.28", Title: "Ensure that the PIDs cgroup limit is used",
		Remedy: "set pids_limit (e.g. 256) or deploy.resources.limits.pids", test: checkPids},
	{ID: "host-userns", CIS: "5.30", Title: "Ensure that the host's user namespaces are not shared",
		Remedy: "remove userns_mode: host", test: nsCheck("userns_mode", func(s types.ServiceConfig) string { return s.UserNSMode })},
	{ID: "docker-socket", CIS: "5.31", Title: "Ensure that the Docker socket is not mounted inside any containers",
		Remedy: "remove the docker.sock mount (and use_api_socket)", test: checkDockerSocket},
}

// Harden runs every check over every service and returns the findings,
// ordered by service, then by the order of Checks. A broken x-udos block is
// an error, since it could waive a check it was not meant to.
func (p *Project) Harden(opts HardenOptions) ([]Finding, error) {
	if opts.AllowedCaps == nil {
		opts.AllowedCaps = DefaultAllowedCaps
	}
	var out []Finding
	for _, name := range p.ServiceNames() {
		ext, err := p.Extension(name)
		if err != nil {
			return nil, err
		}
		c := &checkCtx{name: name, svc: p.Services[name], ext: ext, opts: opts}
		for _, chk := range Checks {
			for _, pr := range chk.test(c) {
				out = append(out, Finding{
					Service: name, Check: chk.ID, CIS: chk.CIS, Title: chk.Title,
					Problem: pr.msg, Remedy: chk.Remedy, File: p.File,
					Line: p.Line(append([]string{"services", name}, pr.key...)...),
				})
			}
		}
	}
	return out, nil
}

func one(msg string, key ...string) []problem { return []problem{{msg: msg, key: key}} }

func checkUser(c *checkCtx) []problem {
	u := strings.TrimSpace(c.svc.User)
	if u == "" {
		return one("no user: the container runs as the image's default user, root unless the image says otherwise")
	}
	name, _, _ := strings.Cut(u, ":")
	if name == "root" || name == "0" {
		return one(fmt.Sprintf("user %q is root", u), "user")
	}
	return nil
}

func checkCaps(c *checkCtx) []problem {
	var ps []problem
	dropsAll := false
	for _, d := range c.svc.CapDrop {
		if strings.EqualFold(d, "ALL") {
			dropsAll = true
		}
	}
	if !dropsAll {
		ps = append(ps, problem{msg: "cap_drop does not list ALL: the container keeps Docker's default capabilities", key: []string{"cap_drop"}})
	}
	allowed := map[string]bool{}
	for _, a := range c.opts.AllowedCaps {
		allowed[normCap(a)] = true
	}
	for i, a := range c.svc.CapAdd {
		if !allowed[normCap(a)] {
			ps = append(ps, problem{msg: fmt.Sprintf("cap_add adds %s, which is not in the allowlist (%s)", a, strings.Join(c.opts.AllowedCaps, ", ")),
				key: []string{"cap_add", strconv.Itoa(i)}})
		}
	}
	return ps
}

func normCap(s string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "CAP_")
}

func checkPrivileged(c *checkCtx) []problem {
	if c.svc.Privileged {
		return one("privileged: true gives the container every capability and every device", "privileged")
	}
	return nil
}

var sensitiveDirs = []string{"/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr"}

func checkHostMounts(c *checkCtx) []problem {
	var ps []problem
	for i, v := range c.svc.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		src := path.Clean(v.Source)
		if isDockerSocket(src) {
			continue // its own check
		}
		for _, d := range sensitiveDirs {
			under := d != "/" && strings.HasPrefix(src, d+"/")
			if src == d || (under && !v.ReadOnly) {
				ps = append(ps, problem{msg: fmt.Sprintf("mounts the host's %s", src), key: []string{"volumes", strconv.Itoa(i)}})
				break
			}
		}
	}
	return ps
}

func nsCheck(key string, get func(types.ServiceConfig) string) func(*checkCtx) []problem {
	return func(c *checkCtx) []problem {
		if strings.EqualFold(strings.TrimSpace(get(c.svc)), "host") {
			return one(fmt.Sprintf("%s: host shares the host's namespace", key), key)
		}
		return nil
	}
}

func checkMemory(c *checkCtx) []problem {
	if c.svc.MemLimit > 0 {
		return nil
	}
	if d := c.svc.Deploy; d != nil && d.Resources.Limits != nil && d.Resources.Limits.MemoryBytes > 0 {
		return nil
	}
	return one("no memory limit (mem_limit)")
}

func checkPids(c *checkCtx) []problem {
	if c.svc.PidsLimit > 0 {
		return nil
	}
	if d := c.svc.Deploy; d != nil && d.Resources.Limits != nil && d.Resources.Limits.Pids > 0 {
		return nil
	}
	if c.svc.PidsLimit < 0 {
		return one("pids_limit is unlimited", "pids_limit")
	}
	return one("no PIDs limit (pids_limit)")
}

func checkReadOnly(c *checkCtx) []problem {
	if !c.svc.ReadOnly {
		return one("the root filesystem is writable (read_only is not true)")
	}
	return nil
}

func checkPorts(c *checkCtx) []problem {
	if c.opts.AllowPublicPorts || c.ext.AllowPublicPorts {
		return nil
	}
	var ps []problem
	for i, p := range c.svc.Ports {
		if p.Published == "" && p.HostIP == "" && p.Mode != "host" {
			// Not published: reachable from the project network only.
			continue
		}
		ip := net.ParseIP(p.HostIP)
		if ip != nil && ip.IsLoopback() {
			continue
		}
		host := p.HostIP
		if host == "" {
			host = "every interface"
		}
		ps = append(ps, problem{msg: fmt.Sprintf("port %d is published on %s, not on 127.0.0.1", p.Target, host),
			key: []string{"ports", strconv.Itoa(i)}})
	}
	return ps
}

// maxRestarts is CIS 5.14's bound.
const maxRestarts = 5

func checkRestart(c *checkCtx) []problem {
	if d := c.svc.Deploy; d != nil && d.RestartPolicy != nil {
		rp := d.RestartPolicy
		switch rp.Condition {
		case "none", "":
		case "on-failure":
			if rp.MaxAttempts == nil || *rp.MaxAttempts == 0 || *rp.MaxAttempts > maxRestarts {
				return one(fmt.Sprintf("deploy.restart_policy on-failure needs max_attempts between 1 and %d", maxRestarts), "deploy")
			}
		default:
			return one(fmt.Sprintf("deploy.restart_policy condition %q restarts without bound", rp.Condition), "deploy")
		}
	}
	r := strings.TrimSpace(c.svc.Restart)
	switch {
	case r == "" || r == types.RestartPolicyNo:
		return nil
	case strings.HasPrefix(r, types.RestartPolicyOnFailure):
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(r, types.RestartPolicyOnFailure), ":"))
		if err != nil || n < 1 || n > maxRestarts {
			return one(fmt.Sprintf("restart %q has no retry bound between 1 and %d", r, maxRestarts), "restart")
		}
		return nil
	default:
		return one(fmt.Sprintf("restart %q restarts without bound and hides a crash loop", r), "restart")
	}
}

func checkDevices(c *checkCtx) []problem {
	var ps []problem
	for i, d := range c.svc.Devices {
		ps = append(ps, problem{msg: fmt.Sprintf("exposes the host device %s", d.Source), key: []string{"devices", strconv.Itoa(i)}})
	}
	return ps
}

// securityOpt splits "name:value" or "name=value".
func securityOpt(s string) (name, value string) {
	i := strings.IndexAny(s, ":=")
	if i < 0 {
		return strings.TrimSpace(s), ""
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
}

func checkSeccomp(c *checkCtx) []problem {
	for i, o := range c.svc.SecurityOpt {
		if n, v := securityOpt(o); n == "seccomp" && v == "unconfined" {
			return one("security_opt disables the seccomp profile", "security_opt", strconv.Itoa(i))
		}
	}
	return nil
}

func checkNoNewPrivileges(c *checkCtx) []problem {
	for _, o := range c.svc.SecurityOpt {
		n, v := securityOpt(o)
		if n == "no-new-privileges" && (v == "" || v == "true") {
			return nil
		}
	}
	return one("security_opt lacks no-new-privileges:true", "security_opt")
}

func checkHealth(c *checkCtx) []problem {
	h := c.svc.HealthCheck
	switch {
	case h == nil:
		return one("no healthcheck: nothing can tell a hung service from a healthy one")
	case h.Disable || (len(h.Test) > 0 && h.Test[0] == "NONE"):
		return one("the healthcheck is disabled", "healthcheck")
	case len(h.Test) == 0:
		return one("the healthcheck has no test", "healthcheck")
	}
	return nil
}

func isDockerSocket(src string) bool {
	return path.Base(src) == "docker.sock"
}

func checkDockerSocket(c *checkCtx) []problem {
	var ps []problem
	for i, v := range c.svc.Volumes {
		if v.Type == types.VolumeTypeBind && isDockerSocket(path.Clean(v.Source)) {
			ps = append(ps, problem{msg: fmt.Sprintf("mounts the Docker socket %s: root on the host", v.Source), key: []string{"volumes", strconv.Itoa(i)}})
		}
	}
	if c.svc.UseAPISocket {
		ps = append(ps, problem{msg: "use_api_socket: true hands the container the Docker API", key: []string{"use_api_socket"}})
	}
	return ps
}

// CheckIDs lists the check ids, sorted, for help texts.
func CheckIDs() []string {
	ids := make([]string, len(Checks))
	for i, c := range Checks {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	return ids
}
