// Package wizard implements `udos-lib wizard …`, the lifecycle manager of
// the Wizard's containers: it parses flags, builds an internal/wizard
// Manager for the compose file and prints; the logic is in
// internal/wizard. See docs/DOCKER-OPERATIONS.md.
package wizard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/compose"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	wz "github.com/fredbook/udos-dist/internal/wizard"
)

// common are the flags every subcommand that reads the compose file has.
type common struct {
	compose    string
	statements string
}

func (c *common) flags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&c.compose, "compose", "", "the compose `FILE` (default: <root>/docker-compose.yml)")
	fs.StringVar(&c.statements, "statements", "", "`DIR` of the release's signed *.image.json statements (default: the compose file's folder)")
}

// env is what one run needs, built from the factory.
type env struct {
	f *factory.Factory
	c *common
}

// project loads the compose file: --compose, else <root>/docker-compose.yml.
func (e env) project(ctx context.Context) (p *compose.Project, root string, err error) {
	if root, err = e.f.RootDir(); err != nil {
		return nil, "", err
	}
	file := e.c.compose
	if file == "" {
		file = filepath.Join(root, "docker-compose.yml")
	}
	if p, err = compose.Load(ctx, file, environ(e.f.Getenv)); err != nil {
		return nil, "", err
	}
	return p, root, nil
}

// manager loads the compose file and connects to the engine.
func (e env) manager(ctx context.Context) (*wz.Manager, error) {
	p, root, err := e.project(ctx)
	if err != nil {
		return nil, err
	}
	cli, err := wz.Connect(ctx, e.f.Getenv)
	if err != nil {
		return nil, err
	}
	// The account the process runs as; under sudo, who asked too.
	who := e.f.Getenv("USER")
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	if su := e.f.Getenv("SUDO_USER"); su != "" && su != who {
		who += " (sudo by " + su + ")"
	}
	errOut := e.f.IO.ErrOut
	return &wz.Manager{
		Engine:  cli,
		Project: p,
		Audit:   &wz.Audit{Path: wz.AuditPath(root), User: who, Now: e.f.Now},
		Events: func(ev wz.Event) {
			prefix := "wizard"
			if ev.Service != "" {
				prefix += ": " + ev.Service
			}
			switch ev.Level {
			case "warn":
				fmt.Fprintf(errOut, "%s: warning: %s\n", prefix, ev.Message)
			case "error":
				fmt.Fprintf(errOut, "%s: error: %s\n", prefix, ev.Message)
			default:
				fmt.Fprintf(errOut, "%s: %s\n", prefix, ev.Message)
			}
		},
	}, nil
}

// managerCmd finishes a subcommand that drives the engine: the --compose
// and --statements flags, and a RunE that hands fn the Manager of the
// compose file, connected.
func managerCmd(f *factory.Factory, cmd *cobra.Command, fn func(e env, m *wz.Manager, args []string) error) *cobra.Command {
	c := &common{}
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		e := env{f, c}
		m, err := e.manager(f.Ctx)
		if err != nil {
			return err
		}
		return fn(e, m, args)
	}
	c.flags(cmd)
	return cmd
}

// writeList is the --json output of a subcommand that reports what it did
// to each service: {key: [...]}, written even when the action failed part
// way; the action's error wins over an output error.
func writeList[T any](f *factory.Factory, key string, items []T, err error) error {
	if !f.Global.JSON {
		return err
	}
	if jerr := cmdutil.WriteJSON(f.IO.Out, map[string]any{key: cmdutil.NonNil(items)}); jerr != nil && err == nil {
		err = jerr
	}
	return err
}

// environ is the environment compose interpolation reads (${VAR}), as
// Compose passes it: every variable of the process, looked up through
// getenv so that tests can set them.
func environ(getenv func(string) string) map[string]string {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if v := getenv(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// trust loads the signed statements when a keyring is given (--keyring or
// UDOS_KEYRING); without one it is nil and images are not verified.
func (e env) trust(m *wz.Manager) (*wz.Trust, error) {
	kf := e.f.Global.Keyring
	if kf == "" {
		kf = e.f.Getenv("UDOS_KEYRING")
	}
	if kf == "" {
		if e.f.Global.RequireSignatures {
			return nil, errors.New("--require-signatures needs a keyring (--keyring FILE or UDOS_KEYRING) to verify the images")
		}
		return nil, nil
	}
	kr, err := pgpsign.LoadKeyringFile(kf)
	if err != nil {
		return nil, fmt.Errorf("loading the keyring (--keyring %s): %w", kf, err)
	}
	dir := e.c.statements
	if dir == "" {
		dir = filepath.Dir(m.Project.File)
	}
	return wz.LoadTrust(dir, kr)
}

// NewCmd builds the `wizard` command group.
func NewCmd(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wizard",
		Short: "Run the hardened Wizard containers: up, down, status, watch, backup …",
		Long: `The lifecycle manager of the Wizard's containers, driving the Docker Engine
directly from the compose file wizard-full ships (<root>/docker-compose.yml).
See docs/DOCKER-OPERATIONS.md.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				c.SetOut(f.IO.ErrOut)
				_ = c.Usage()
				return cmdutil.Usagef("wizard: name a command (see 'udos-lib wizard --help')")
			}
			return cmdutil.Usagef("wizard: unknown command %q%s (see 'udos-lib wizard --help')", args[0], cmdutil.DidYouMean(c, args[0]))
		},
	}
	cmd.AddCommand(checkCmd(f), upCmd(f), downCmd(f), statusCmd(f), logsCmd(f), recoverCmd(f), watchCmd(f),
		backupCmd(f), restoreCmd(f), verifyCmd(f), auditCmd(f))
	return cmd
}

func checkCmd(f *factory.Factory) *cobra.Command {
	c := &common{}
	var publicPorts bool
	cmd := &cobra.Command{
		Use:     "check [--compose FILE]",
		Short:   "Run the hardening checks only; exit 1 on a failed check",
		Example: "  udos-lib wizard check\n  udos-lib wizard check --compose ./docker-compose.yml --json",
		Args:    cmdutil.NoArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			p, _, err := (env{f, c}).project(f.Ctx)
			if err != nil {
				return err
			}
			fs, err := p.Harden(compose.HardenOptions{AllowPublicPorts: publicPorts})
			if err != nil {
				return err
			}
			if f.Global.JSON {
				if err := cmdutil.WriteJSON(f.IO.Out, map[string]any{"file": p.File, "findings": cmdutil.NonNil(fs)}); err != nil {
					return err
				}
			} else {
				for _, x := range fs {
					fmt.Fprintln(f.IO.Out, x)
				}
			}
			if len(fs) > 0 {
				fmt.Fprintf(f.IO.ErrOut, "%s: %d hardening check(s) failed (see docs/DOCKER-OPERATIONS.md)\n", p.File, len(fs))
				return cmdutil.ErrSilent
			}
			fmt.Fprintf(f.IO.ErrOut, "%s: every hardening check passed (%d services)\n", p.File, len(p.Services))
			return nil
		},
	}
	c.flags(cmd)
	cmd.Flags().BoolVar(&publicPorts, "allow-public-ports", false, "waive the loopback-only port rule (CIS 5.13) for every service")
	return cmd
}

func upCmd(f *factory.Factory) *cobra.Command {
	var o wz.UpOptions
	cmd := managerCmd(f, &cobra.Command{
		Use:   "up [--compose FILE] [--wait-timeout 5m] [--allow-insecure]",
		Short: "Check, verify and start every service in dependency order; exit 0 once all are healthy",
		Long: `up checks the hardening of the compose file, verifies every image against
the release's signed statements when a keyring is given (--keyring), creates
the project's networks and volumes, and starts the services in dependency
order, each once its dependencies meet their depends_on condition.`,
		Args: cmdutil.NoArgs,
	}, func(e env, m *wz.Manager, _ []string) (err error) {
		if o.Trust, err = e.trust(m); err != nil {
			return err
		}
		if err := m.Up(f.Ctx, o); err != nil {
			var he *wz.HardeningError
			if errors.As(err, &he) {
				for _, x := range he.Findings {
					fmt.Fprintln(f.IO.ErrOut, x)
				}
			}
			return err
		}
		fmt.Fprintf(f.IO.ErrOut, "wizard: %s is up, every service healthy\n", m.Project.Name)
		return nil
	})
	cmd.Flags().DurationVar(&o.WaitTimeout, "wait-timeout", 5*time.Minute, "how long to wait for every service to be healthy")
	cmd.Flags().BoolVar(&o.AllowInsecure, "allow-insecure", false, "start a file that fails hardening checks (a warning per check)")
	return cmd
}

func downCmd(f *factory.Factory) *cobra.Command {
	var o wz.DownOptions
	cmd := managerCmd(f, &cobra.Command{
		Use:   "down [--timeout 30s]",
		Short: "Stop (stop signal, grace, then SIGKILL) and remove the containers in reverse order; volumes stay",
		Args:  cmdutil.NoArgs,
	}, func(_ env, m *wz.Manager, _ []string) error {
		st, err := m.Down(f.Ctx, o)
		return writeList(f, "stopped", st, err)
	})
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "grace before SIGKILL, replacing each service's stop_grace_period (default 30s)")
	return cmd
}

func statusCmd(f *factory.Factory) *cobra.Command {
	return managerCmd(f, &cobra.Command{
		Use:   "status [--json]",
		Short: "Per service: state, health, restarts, uptime, image digest, last probe",
		Args:  cmdutil.NoArgs,
	}, func(_ env, m *wz.Manager, args []string) error {
		st, err := m.Status(f.Ctx)
		if err != nil {
			return err
		}
		if f.Global.JSON {
			return cmdutil.WriteJSON(f.IO.Out, map[string]any{"project": m.Project.Name, "services": st})
		}
		printStatus(f.IO.Out, st)
		return nil
	})
}

func printStatus(w io.Writer, st []wz.ServiceStatus) {
	tw := cmdutil.NewTable(w)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tHEALTH\tRESTARTS\tUPTIME\tIMAGE\tLAST PROBE")
	for _, s := range st {
		img := s.Image
		if len(s.ImageDigests) > 0 {
			img = s.ImageDigests[0]
		}
		up := "-"
		if s.UptimeSeconds > 0 {
			up = (time.Duration(s.UptimeSeconds) * time.Second).String()
		}
		probe := strings.ReplaceAll(s.LastProbe, "\n", " ")
		if len(probe) > 60 {
			probe = probe[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Service, s.State, s.Health, s.Restarts, up, img, probe)
	}
	tw.Flush()
}

func logsCmd(f *factory.Factory) *cobra.Command {
	var o wz.LogsOptions
	cmd := managerCmd(f, &cobra.Command{
		Use:   "logs SERVICE [--follow] [--tail N]",
		Short: "A service's container logs (stdout to stdout, stderr to stderr)",
		Args:  cmdutil.ExactArgs(1, "name one SERVICE"),
	}, func(_ env, m *wz.Manager, args []string) error {
		o.Stdout, o.Stderr = f.IO.Out, f.IO.ErrOut
		return m.Logs(f.Ctx, args[0], o)
	})
	cmd.Flags().BoolVar(&o.Follow, "follow", false, "keep printing until the container stops or Ctrl-C")
	cmd.Flags().IntVar(&o.Tail, "tail", 0, "only the last `N` lines (default: all)")
	return cmd
}

func recoverCmd(f *factory.Factory) *cobra.Command {
	var o wz.RecoverOptions
	cmd := managerCmd(f, &cobra.Command{
		Use:   "recover [SERVICE]",
		Short: "Find failed or unhealthy services, match their logs to known failures, apply the remedy",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cmdutil.Usagef("recover: at most one SERVICE")
			}
			return nil
		},
	}, func(_ env, m *wz.Manager, args []string) error {
		only := ""
		if len(args) == 1 {
			only = args[0]
		}
		res, err := m.Recover(f.Ctx, only, o)
		if !f.Global.JSON && err == nil && len(res) == 0 {
			fmt.Fprintln(f.IO.ErrOut, "wizard: nothing to recover")
		}
		return writeList(f, "recovered", res, err)
	})
	cmd.Flags().DurationVar(&o.WaitTimeout, "wait-timeout", 2*time.Minute, "how long a recovered service may take to be ready")
	return cmd
}

func watchCmd(f *factory.Factory) *cobra.Command {
	var o wz.WatchOptions
	cmd := managerCmd(f, &cobra.Command{
		Use:   "watch [--interval 5s]",
		Short: "Supervise: restart exited or unhealthy services with backoff until Ctrl-C",
		Args:  cmdutil.NoArgs,
	}, func(_ env, m *wz.Manager, args []string) error {
		err := m.Watch(f.Ctx, o, nil)
		if err == nil {
			// SIGINT/SIGTERM is how watch is meant to end.
			fmt.Fprintln(f.IO.ErrOut, "wizard: watch stopped")
		}
		return err
	})
	fl := cmd.Flags()
	fl.DurationVar(&o.Interval, "interval", wz.DefaultWatch.Interval, "how often the services are looked at")
	fl.DurationVar(&o.Backoff.Base, "backoff", wz.DefaultWatch.Backoff.Base, "wait before the first restart, doubled for each further one")
	fl.IntVar(&o.MaxRestarts, "max-restarts", wz.DefaultWatch.MaxRestarts, "restarts of a service allowed within --window before watch gives up on it")
	fl.DurationVar(&o.Window, "window", wz.DefaultWatch.Window, "the window --max-restarts counts in")
	return cmd
}

func backupCmd(f *factory.Factory) *cobra.Command {
	var out string
	cmd := managerCmd(f, &cobra.Command{
		Use:   "backup [--output FILE]",
		Short: "Cold backup of every named volume into one verified archive (writers stopped, then restarted)",
		Args:  cmdutil.NoArgs,
	}, func(_ env, m *wz.Manager, args []string) error {
		if out == "" {
			root, err := f.RootDir()
			if err != nil {
				return err
			}
			out = filepath.Join(root, "backups", fmt.Sprintf("wizard-%s-%s.tar.gz", m.Project.Name, f.Now().UTC().Format("20060102T150405Z")))
		}
		man, err := m.Backup(f.Ctx, wz.BackupOptions{Output: out})
		if err != nil {
			return err
		}
		if f.Global.JSON {
			return cmdutil.WriteJSON(f.IO.Out, map[string]any{"file": out, "manifest": man})
		}
		fmt.Fprintln(f.IO.Out, out)
		return nil
	})
	cmd.Flags().StringVar(&out, "output", "", "the archive `FILE` (default: <root>/backups/wizard-<project>-<UTC time>.tar.gz)")
	return cmd
}

func restoreCmd(f *factory.Factory) *cobra.Command {
	var o wz.RestoreOptions
	cmd := managerCmd(f, &cobra.Command{
		Use:   "restore FILE [--force]",
		Short: "Verify a backup against its manifest and restore it into fresh volumes",
		Args:  cmdutil.ExactArgs(1, "name one backup FILE"),
	}, func(_ env, m *wz.Manager, args []string) error {
		_, err := m.Restore(f.Ctx, args[0], o)
		return err
	})
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace volumes that exist (their current data is lost)")
	return cmd
}

func verifyCmd(f *factory.Factory) *cobra.Command {
	return managerCmd(f, &cobra.Command{
		Use:   "verify-image IMAGE",
		Short: "Check that the engine's copy of IMAGE is named by a statement signed by a trusted key",
		Args:  cmdutil.ExactArgs(1, "name one IMAGE"),
	}, func(e env, m *wz.Manager, args []string) error {
		trust, err := e.trust(m)
		if err != nil {
			return err
		}
		if trust == nil {
			return errors.New("verify-image needs a keyring: pass --keyring FILE (or set UDOS_KEYRING) with the release's public key")
		}
		s, err := m.VerifyImage(f.Ctx, args[0], trust)
		if err != nil {
			return err
		}
		if f.Global.JSON {
			return cmdutil.WriteJSON(f.IO.Out, map[string]any{"image": s.Image, "digest": s.Digest, "platform": s.Platform, "signer": s.Signer, "statement": s.File})
		}
		fmt.Fprintf(f.IO.Out, "%s\n", s.Ref())
		fmt.Fprintf(f.IO.ErrOut, "wizard: %s (%s) is signed by %s\n", args[0], s.Platform, s.Signer)
		return nil
	})
}

func auditCmd(f *factory.Factory) *cobra.Command {
	var tail int
	cmd := &cobra.Command{
		Use:   "audit [--tail N]",
		Short: "The audit trail of every state change (<root>/logs/wizard-audit.jsonl)",
		Args:  cmdutil.NoArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			root, err := f.RootDir()
			if err != nil {
				return err
			}
			es, err := wz.ReadAudit(wz.AuditPath(root))
			if err != nil {
				return err
			}
			if tail > 0 && len(es) > tail {
				es = es[len(es)-tail:]
			}
			if f.Global.JSON {
				return writeList(f, "entries", es, nil)
			}
			tw := cmdutil.NewTable(f.IO.Out)
			for _, e := range es {
				code := ""
				if e.ExitCode != nil {
					code = fmt.Sprintf("exit=%d", *e.ExitCode)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.User, e.Action, e.Service, code, e.Message)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&tail, "tail", 0, "only the last `N` entries")
	return cmd
}
