package wizard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/fredbook/udos-dist/internal/canonjson"
)

// Labels the manager puts on what it creates. The com.docker.compose.*
// ones are Docker Compose's own, so `docker compose ps` and `logs` see the
// containers too.
const (
	LabelProject    = "com.docker.compose.project"
	LabelService    = "com.docker.compose.service"
	LabelNumber     = "com.docker.compose.container-number"
	LabelOneoff     = "com.docker.compose.oneoff"
	LabelNetwork    = "com.docker.compose.network"
	LabelVolume     = "com.docker.compose.volume"
	LabelConfigHash = "io.udos.wizard.config-hash"
	LabelManaged    = "io.udos.wizard.managed"
	LabelHelper     = "io.udos.wizard.helper"
)

// containerName is Compose v2's name for the first replica.
func (m *Manager) containerName(service string) string {
	if n := m.Project.Services[service].ContainerName; n != "" {
		return n
	}
	return fmt.Sprintf("%s-%s-1", m.Project.Name, service)
}

func (m *Manager) labels(extra map[string]string) map[string]string {
	l := map[string]string{LabelProject: m.Project.Name, LabelManaged: "true"}
	for k, v := range m.ExtraLabels {
		l[k] = v
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

func (m *Manager) networkName(key string) string {
	if n := m.Project.Networks[key].Name; n != "" {
		return n
	}
	return m.Project.Name + "_" + key
}

func (m *Manager) volumeName(key string) string {
	if v, ok := m.Project.Volumes[key]; ok && v.Name != "" {
		return v.Name
	}
	return m.Project.Name + "_" + key
}

// createSpec is everything a container is created from.
type createSpec struct {
	Name       string
	Config     *container.Config
	HostConfig *container.HostConfig
	Network    *network.NetworkingConfig
	// Extra networks are connected after create: API 1.41 takes only one
	// endpoint at create time.
	Extra map[string]*network.EndpointSettings
	Hash  string
}

// spec translates a compose service into an engine container spec.
func (m *Manager) spec(service string) (*createSpec, error) {
	svc, ok := m.Project.Services[service]
	if !ok {
		return nil, fmt.Errorf("no service %q in %s", service, m.Project.File)
	}
	if svc.Image == "" {
		return nil, fmt.Errorf("service %q has no image: the manager runs published images only (build them with the release)", service)
	}
	cfg := &container.Config{
		Image:      svc.Image,
		User:       svc.User,
		WorkingDir: svc.WorkingDir,
		Hostname:   svc.Hostname,
		Domainname: svc.DomainName,
		Entrypoint: []string(svc.Entrypoint),
		Cmd:        []string(svc.Command),
		StopSignal: svc.StopSignal,
		Tty:        svc.Tty,
		OpenStdin:  svc.StdinOpen,
	}
	for _, k := range slices.Sorted(maps.Keys(svc.Environment)) {
		if v := svc.Environment[k]; v != nil {
			cfg.Env = append(cfg.Env, k+"="+*v)
		}
	}
	labels := map[string]string{}
	for k, v := range svc.Labels {
		labels[k] = v
	}
	for k, v := range m.labels(map[string]string{LabelService: service, LabelNumber: "1", LabelOneoff: "False"}) {
		labels[k] = v
	}
	cfg.Labels = labels
	if svc.StopGracePeriod != nil {
		s := int(time.Duration(*svc.StopGracePeriod).Round(time.Second) / time.Second)
		cfg.StopTimeout = &s
	}
	if hc := svc.HealthCheck; hc != nil {
		h := &container.HealthConfig{Test: []string(hc.Test)}
		if hc.Disable {
			h.Test = []string{"NONE"}
		}
		if hc.Interval != nil {
			h.Interval = time.Duration(*hc.Interval)
		}
		if hc.Timeout != nil {
			h.Timeout = time.Duration(*hc.Timeout)
		}
		if hc.StartPeriod != nil {
			h.StartPeriod = time.Duration(*hc.StartPeriod)
		}
		// start_interval exists from API 1.44; older engines would
		// ignore it anyway, but it must not enter the config hash.
		if hc.StartInterval != nil && apiAtLeast(m.apiVersion, "1.44") {
			h.StartInterval = time.Duration(*hc.StartInterval)
		}
		if hc.Retries != nil {
			h.Retries = int(*hc.Retries)
		}
		cfg.Healthcheck = h
	}

	hc := &container.HostConfig{
		ReadonlyRootfs: svc.ReadOnly,
		CapAdd:         svc.CapAdd,
		CapDrop:        svc.CapDrop,
		SecurityOpt:    svc.SecurityOpt,
		Privileged:     svc.Privileged,
		PidMode:        container.PidMode(svc.Pid),
		IpcMode:        container.IpcMode(svc.Ipc),
		UTSMode:        container.UTSMode(svc.Uts),
		UsernsMode:     container.UsernsMode(svc.UserNSMode),
		GroupAdd:       svc.GroupAdd,
		Init:           svc.Init,
		ShmSize:        int64(svc.ShmSize),
		Sysctls:        map[string]string(svc.Sysctls),
		ExtraHosts:     svc.ExtraHosts.AsList(":"),
	}
	if len(hc.Sysctls) == 0 {
		hc.Sysctls = nil
	}
	hc.Memory = int64(svc.MemLimit)
	hc.MemoryReservation = int64(svc.MemReservation)
	if svc.PidsLimit != 0 {
		p := svc.PidsLimit
		hc.PidsLimit = &p
	}
	if svc.CPUS > 0 {
		hc.NanoCPUs = int64(svc.CPUS * 1e9)
	}
	if d := svc.Deploy; d != nil && d.Resources.Limits != nil {
		l := d.Resources.Limits
		if l.MemoryBytes > 0 && hc.Memory == 0 {
			hc.Memory = int64(l.MemoryBytes)
		}
		if l.Pids > 0 && hc.PidsLimit == nil {
			p := l.Pids
			hc.PidsLimit = &p
		}
		if l.NanoCPUs > 0 && hc.NanoCPUs == 0 {
			hc.NanoCPUs = int64(float64(l.NanoCPUs) * 1e9)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(svc.Ulimits)) {
		u := svc.Ulimits[name]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	if svc.Logging != nil && svc.Logging.Driver != "" {
		hc.LogConfig = container.LogConfig{Type: svc.Logging.Driver, Config: svc.Logging.Options}
	}
	rp, err := restartPolicy(svc.Restart)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", service, err)
	}
	hc.RestartPolicy = rp
	if len(svc.Tmpfs) > 0 {
		hc.Tmpfs = map[string]string{}
		for _, t := range svc.Tmpfs {
			p, opts, _ := strings.Cut(t, ":")
			hc.Tmpfs[p] = opts
		}
	}
	for _, d := range svc.Devices {
		hc.Devices = append(hc.Devices, container.DeviceMapping{PathOnHost: d.Source, PathInContainer: d.Target, CgroupPermissions: d.Permissions})
	}
	for _, v := range svc.Volumes {
		mt, err := m.mountFor(service, v)
		if err != nil {
			return nil, err
		}
		hc.Mounts = append(hc.Mounts, mt)
	}
	exposed := network.PortSet{}
	for _, e := range svc.Expose {
		p, err := network.ParsePort(e)
		if err != nil {
			return nil, fmt.Errorf("service %q: expose %q: %w", service, e, err)
		}
		exposed[p] = struct{}{}
	}
	for _, p := range svc.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := network.ParsePort(fmt.Sprintf("%d/%s", p.Target, proto))
		if err != nil {
			return nil, fmt.Errorf("service %q: port %d: %w", service, p.Target, err)
		}
		exposed[port] = struct{}{}
		if p.Published == "" && p.HostIP == "" {
			continue
		}
		b := network.PortBinding{HostPort: p.Published}
		if p.HostIP != "" {
			ip, err := netip.ParseAddr(p.HostIP)
			if err != nil {
				return nil, fmt.Errorf("service %q: port %d host_ip %q: %w", service, p.Target, p.HostIP, err)
			}
			b.HostIP = ip
		}
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		hc.PortBindings[port] = append(hc.PortBindings[port], b)
	}
	if len(exposed) > 0 {
		cfg.ExposedPorts = exposed
	}

	cs := &createSpec{Name: m.containerName(service), Config: cfg, HostConfig: hc}
	if svc.NetworkMode != "" {
		mode := svc.NetworkMode
		if rest, ok := strings.CutPrefix(mode, types.NetworkModeServicePrefix); ok {
			mode = "container:" + m.containerName(rest)
		}
		hc.NetworkMode = container.NetworkMode(mode)
	} else {
		nets := svc.NetworksByPriority()
		if len(nets) == 0 {
			nets = []string{"default"}
		}
		cs.Extra = map[string]*network.EndpointSettings{}
		for i, key := range nets {
			es := &network.EndpointSettings{Aliases: []string{service}}
			if nc := svc.Networks[key]; nc != nil {
				es.Aliases = append(es.Aliases, nc.Aliases...)
			}
			name := m.networkName(key)
			if i == 0 {
				hc.NetworkMode = container.NetworkMode(name)
				cs.Network = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: es}}
			} else {
				cs.Extra[name] = es
			}
		}
	}
	h, err := canonjson.Marshal(struct {
		C  *container.Config
		H  *container.HostConfig
		N  *network.NetworkingConfig
		X  map[string]*network.EndpointSettings
		Nm string
	}{cfg, hc, cs.Network, cs.Extra, cs.Name})
	if err != nil {
		return nil, fmt.Errorf("service %q: hashing its config: %w", service, err)
	}
	sum := sha256.Sum256(h)
	cs.Hash = hex.EncodeToString(sum[:])
	labels[LabelConfigHash] = cs.Hash
	return cs, nil
}

func (m *Manager) mountFor(service string, v types.ServiceVolumeConfig) (mount.Mount, error) {
	mt := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
	switch v.Type {
	case types.VolumeTypeVolume:
		mt.Type = mount.TypeVolume
		if v.Source == "" {
			break // anonymous
		}
		if _, ok := m.Project.Volumes[v.Source]; !ok {
			return mt, fmt.Errorf("service %q mounts volume %q, which the file does not declare", service, v.Source)
		}
		mt.Source = m.volumeName(v.Source)
		if v.Volume != nil {
			mt.VolumeOptions = &mount.VolumeOptions{NoCopy: v.Volume.NoCopy, Subpath: v.Volume.Subpath}
		}
	case types.VolumeTypeBind:
		mt.Type = mount.TypeBind
		mt.Source = v.Source
		if _, err := os.Stat(v.Source); err != nil {
			return mt, fmt.Errorf("service %q: bind mount source %s: %w", service, v.Source, err)
		}
		if v.Bind != nil && v.Bind.Propagation != "" {
			mt.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
		}
	case types.VolumeTypeTmpfs:
		mt.Type = mount.TypeTmpfs
		if v.Tmpfs != nil {
			mt.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size), Mode: os.FileMode(v.Tmpfs.Mode)}
		}
	default:
		return mt, fmt.Errorf("service %q: volume type %q is not supported", service, v.Type)
	}
	return mt, nil
}

func restartPolicy(s string) (container.RestartPolicy, error) {
	name, count, _ := strings.Cut(strings.TrimSpace(s), ":")
	switch container.RestartPolicyMode(name) {
	case "", container.RestartPolicyDisabled:
		return container.RestartPolicy{Name: container.RestartPolicyDisabled}, nil
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		return container.RestartPolicy{Name: container.RestartPolicyMode(name)}, nil
	case container.RestartPolicyOnFailure:
		rp := container.RestartPolicy{Name: container.RestartPolicyOnFailure}
		if count != "" {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return rp, fmt.Errorf("restart %q: bad retry count", s)
			}
			rp.MaximumRetryCount = n
		}
		return rp, nil
	}
	return container.RestartPolicy{}, fmt.Errorf("restart %q: unknown policy", s)
}
