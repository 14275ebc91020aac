// Package wizard is the lifecycle manager of the Wizard's containers on a
// host: it reads the compose file wizard-full ships (internal/compose),
// refuses an insecure or unsigned deployment, and drives the Docker Engine
// API (github.com/moby/moby/client) directly: up in dependency order gated
// on health, down gracefully, status, logs, a supervisor that restarts
// unhealthy services with backoff (the engine never restarts a container
// for being unhealthy), recovery from known failures, and cold backups of
// the project's volumes. Every state change it makes is written to an audit
// trail of JSON lines.
package wizard

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Engine is the part of the Docker Engine API the manager uses;
// *client.Client implements it.
type Engine interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	ClientVersion() string
	DaemonHost() string

	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerLogs(ctx context.Context, id string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	CopyFromContainer(ctx context.Context, id string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
	CopyToContainer(ctx context.Context, id string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)

	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkInspect(ctx context.Context, id string, options client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	NetworkConnect(ctx context.Context, id string, options client.NetworkConnectOptions) (client.NetworkConnectResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, id string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)

	VolumeCreate(ctx context.Context, options client.VolumeCreateOptions) (client.VolumeCreateResult, error)
	VolumeInspect(ctx context.Context, id string, options client.VolumeInspectOptions) (client.VolumeInspectResult, error)
	VolumeRemove(ctx context.Context, id string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)

	ImageInspect(ctx context.Context, ref string, options ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImagePull(ctx context.Context, ref string, options client.ImagePullOptions) (client.ImagePullResponse, error)
}

var _ Engine = (*client.Client)(nil)

// DefaultSocket is where the engine listens when DOCKER_HOST is unset.
const DefaultSocket = "unix:///var/run/docker.sock"

// UnreachableError is an engine that cannot be reached.
type UnreachableError struct {
	Host string
	// FromEnv is true when Host came from DOCKER_HOST.
	FromEnv bool
	Err     error
}

func (e *UnreachableError) Error() string {
	where := fmt.Sprintf("the default socket %s (DOCKER_HOST is unset)", e.Host)
	if e.FromEnv {
		where = fmt.Sprintf("DOCKER_HOST=%s", e.Host)
	}
	howto := "start it with `sudo systemctl start docker` (Linux) or open Docker Desktop (macOS)"
	if e.FromEnv {
		howto += ", or unset DOCKER_HOST / point it at a running engine"
	}
	return fmt.Sprintf("cannot reach the Docker engine at %s: %v; %s", where, rootCause(e.Err), howto)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// Connect opens the engine named by DOCKER_HOST (read through getenv), or
// the default socket, and negotiates the API version with it, so that an
// older engine (API 1.41) is spoken to in its own version. DOCKER_CERT_PATH
// with DOCKER_TLS_VERIFY selects TLS for a tcp:// host.
func Connect(ctx context.Context, getenv func(string) string) (*client.Client, error) {
	host := getenv("DOCKER_HOST")
	fromEnv := host != ""
	if host == "" {
		host = DefaultSocket
	}
	opts := []client.Opt{client.WithHost(host)}
	if certs := getenv("DOCKER_CERT_PATH"); certs != "" && getenv("DOCKER_TLS_VERIFY") != "" {
		opts = append(opts, client.WithTLSClientConfig(
			filepath.Join(certs, "ca.pem"), filepath.Join(certs, "cert.pem"), filepath.Join(certs, "key.pem")))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker engine %q: %w", host, err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{Host: host, FromEnv: fromEnv, Err: err}
	}
	return cli, nil
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

func isConflict(err error) bool { return cerrdefs.IsConflict(err) }

// apiAtLeast compares dotted API versions ("1.41" < "1.44").
func apiAtLeast(have, want string) bool {
	hp, wp := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(wp); i++ {
		var h, w int
		if i < len(hp) {
			fmt.Sscan(hp[i], &h)
		}
		fmt.Sscan(wp[i], &w)
		if h != w {
			return h > w
		}
	}
	return true
}
