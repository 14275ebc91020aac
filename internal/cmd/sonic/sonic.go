// Package sonic implements `udos-lib sonic`, the Sonic end of the bridge:
// discover Wizard hosts, trust one by its host key, run commands on it and
// sync state to it, and fetch a newer Sonic image (`sonic update`).
package sonic

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/client"
	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
)

// NewCmd builds the sonic command group.
func NewCmd(f *factory.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "sonic",
		Short: "Find, trust and use a Wizard host from Sonic (see docs/BRIDGE.md)",
		Args:  cmdutil.NoArgs,
	}
	c.AddCommand(newDiscover(f), newTrust(f), newPair(f), newRun(f), newSync(f), newStatus(f), newUpdate(f))
	return c
}

// env is what every sonic subcommand needs.
type env struct {
	f     *factory.Factory
	paths hostauth.Paths
	key   ssh.Signer
	kh    hostauth.KnownHosts
}

func newEnv(f *factory.Factory) (*env, error) {
	root, err := f.RootDir()
	if err != nil {
		return nil, err
	}
	p := hostauth.For(root)
	if err := p.Ensure(); err != nil {
		return nil, err
	}
	k, err := hostauth.LoadOrCreateKey(p.ClientKey())
	if err != nil {
		return nil, err
	}
	return &env{f: f, paths: p, key: k, kh: hostauth.KnownHosts{File: p.KnownHosts()}}, nil
}

// envCmd finishes a subcommand that works from this Sonic's bridge folder:
// a RunE that opens the env (the folder, this Sonic's key and the pinned
// hosts, created the first time) and hands it fn with the arguments.
func envCmd(f *factory.Factory, c *cobra.Command, fn func(e *env, args []string) error) *cobra.Command {
	c.RunE = func(_ *cobra.Command, args []string) error {
		e, err := newEnv(f)
		if err != nil {
			return err
		}
		return fn(e, args)
	}
	return c
}

// timeoutFlag is the --timeout of a subcommand that takes HOST: how long
// resolve looks for a discovered instance of that name.
func timeoutFlag(c *cobra.Command, timeout *time.Duration) {
	c.Flags().DurationVar(timeout, "timeout", 3*time.Second, "how long to look for a discovered HOST")
}

// target is a resolved HOST argument.
type target struct {
	Name string // the name the pin is kept under
	Host string // where to connect
	Port int
	// Fingerprint is the one announced in the TXT record, when discovered.
	Fingerprint string
}

// lookup finds a discovered instance by name; set by the discovery code.
var lookup func(ctx context.Context, name string, timeout time.Duration) (*target, error)

// resolve turns HOST (host[:port] or a discovered instance name) into a
// target. An address or a name with a port is used as given; otherwise a
// discovered instance of that name wins over a DNS name.
func resolve(ctx context.Context, arg string, timeout time.Duration) (*target, error) {
	if arg == "" {
		return nil, cmdutil.Usagef("HOST is empty")
	}
	if h, p, err := net.SplitHostPort(arg); err == nil {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, cmdutil.Usagef("HOST %q: bad port %q", arg, p)
		}
		return &target{Name: h, Host: h, Port: port}, nil
	}
	if ip := net.ParseIP(strings.Trim(arg, "[]")); ip != nil {
		h := strings.Trim(arg, "[]")
		return &target{Name: h, Host: h, Port: hostauth.DefaultPort}, nil
	}
	if lookup != nil {
		t, err := lookup(ctx, arg, timeout)
		if err == nil {
			return t, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return &target{Name: arg, Host: arg, Port: hostauth.DefaultPort}, nil
}

func (e *env) config(t *target) client.Config {
	return client.Config{Host: t.Host, Port: t.Port, Name: t.Name, Key: e.key,
		HostKey: client.Pinned(e.kh, t.Name, t.Port), KeepAlive: keepAlive(e.f)}
}

// keepAlive is the interval of keepalive requests (UDOS_BRIDGE_KEEPALIVE,
// for tests and slow links; default 5s).
func keepAlive(f *factory.Factory) time.Duration {
	if d, err := time.ParseDuration(f.Getenv("UDOS_BRIDGE_KEEPALIVE")); err == nil && d > 0 {
		return d
	}
	return 5 * time.Second
}

func (e *env) dial(ctx context.Context, t *target) (*client.Conn, error) {
	return client.Dial(ctx, e.config(t))
}

func clientKeyLine(k ssh.Signer) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.PublicKey()))) + " sonic"
}

func newTrust(f *factory.Factory) *cobra.Command {
	var fp, comment string
	var timeout time.Duration
	var pair bool
	c := envCmd(f, &cobra.Command{
		Use:   "trust HOST [--fingerprint SHA256:…] [--pair]",
		Short: "Pin a Wizard host's key (asks, or checks --fingerprint)",
		Args:  cmdutil.ExactArgs(1, "give one HOST"),
		// A malformed --fingerprint is refused before the env creates
		// anything.
		PreRunE: func(*cobra.Command, []string) error {
			if fp != "" && !strings.HasPrefix(fp, "SHA256:") {
				return cmdutil.Usagef("sonic trust: --fingerprint must look like SHA256:… (as 'bridge serve' and 'sonic discover' print it)")
			}
			return nil
		},
	}, func(e *env, args []string) error {
		t, authorized, err := e.trust(f.Ctx, args[0], fp, timeout)
		if err != nil || authorized || !pair {
			return err
		}
		return e.pair(f.Ctx, t, comment)
	})
	c.Flags().StringVar(&fp, "fingerprint", "", "the host key's `SHA256:…` fingerprint: pin without asking, refuse any other")
	c.Flags().BoolVar(&pair, "pair", false, "then pair with the host, as 'sonic pair' does")
	c.Flags().StringVar(&comment, "comment", defaultComment(), "the `NAME` this Sonic pairs under")
	timeoutFlag(c, &timeout)
	return c
}

func (e *env) trust(ctx context.Context, arg, want string, timeout time.Duration) (*target, bool, error) {
	t, err := resolve(ctx, arg, timeout)
	if err != nil {
		return nil, false, err
	}
	errOut := e.f.IO.ErrOut
	cfg := e.config(t)
	key, authorized, err := client.Probe(ctx, cfg, func(k ssh.PublicKey) error {
		got := hostauth.Fingerprint(k)
		if t.Fingerprint != "" && t.Fingerprint != got {
			return fmt.Errorf("host %s offers key %s but its announcement says %s: refusing (someone else may be answering for it)", t.Name, got, t.Fingerprint)
		}
		if want != "" && want != got {
			return fmt.Errorf("host %s offers key %s, not the %s you asked to pin: refused, nothing pinned", t.Name, got, want)
		}
		// An existing, different pin is never replaced silently.
		var me *hostauth.MismatchError
		if err := e.kh.Check(t.Name, t.Port, k); errors.As(err, &me) {
			return me
		} else if err != nil && !errors.Is(err, hostauth.ErrUnknownHost) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	got := hostauth.Fingerprint(key)
	if err := e.kh.Check(t.Name, t.Port, key); err == nil {
		fmt.Fprintf(errOut, "%s is already trusted (%s)\n", hostauth.HostPattern(t.Name, t.Port), got)
	} else {
		if want == "" {
			fmt.Fprintf(errOut, "The host %s (%s) offers the %s key\n  %s\nCompare it with what 'udos-lib bridge serve' prints on the host.\nTrust it? [y/N] ", t.Name, net.JoinHostPort(t.Host, strconv.Itoa(t.Port)), key.Type(), got)
			line, _ := bufio.NewReader(e.f.IO.In).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
				return nil, false, fmt.Errorf("host %s not trusted (to pin without asking, pass --fingerprint %s after checking it on the host)", t.Name, got)
			}
		}
		if err := e.kh.Add(t.Name, t.Port, key); err != nil {
			return nil, false, err
		}
		fmt.Fprintf(errOut, "pinned %s %s in %s\n", hostauth.HostPattern(t.Name, t.Port), got, e.kh.File)
	}
	if authorized {
		fmt.Fprintf(errOut, "this Sonic is authorized on %s\n", t.Name)
	} else {
		fmt.Fprintf(errOut, "this Sonic is not yet authorized on %s; on the host run\n  udos-lib bridge pair\nand here 'udos-lib sonic pair %s', or on the host run:\n  udos-lib bridge authorize '%s'\n", t.Name, arg, clientKeyLine(e.key))
	}
	return t, authorized, nil
}

func newRun(f *factory.Factory) *cobra.Command {
	var timeout time.Duration
	c := envCmd(f, &cobra.Command{
		Use:     "run HOST -- COMMAND [ARG]...",
		Short:   "Run an allowed command on a trusted host; exit code = the remote command's",
		Example: "  udos-lib sonic run wizard.local -- ucode STATUS",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || cmd.ArgsLenAtDash() != 1 {
				return cmdutil.Usagef("run: give HOST -- COMMAND [ARG]...")
			}
			return nil
		},
	}, func(e *env, args []string) error {
		ctx := f.Ctx
		t, err := resolve(ctx, args[0], timeout)
		if err != nil {
			return err
		}
		c, err := e.dial(ctx, t)
		if err != nil {
			return err
		}
		defer c.Close()
		err = c.Run(ctx, args[1:], nil, f.IO.Out, f.IO.ErrOut)
		var ee *client.ExitError
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			fmt.Fprintln(f.IO.ErrOut, "udos-lib: the remote command was sent SIGINT")
			return ctx.Err()
		case errors.As(err, &ee):
			if ee.Signal != "" {
				fmt.Fprintf(f.IO.ErrOut, "udos-lib: %v\n", ee)
				return cmdutil.ExitCode(128 + signalNumber(ee.Signal))
			}
			return cmdutil.ExitCode(ee.Status)
		default:
			return err
		}
	})
	timeoutFlag(c, &timeout)
	return c
}

func signalNumber(name string) int {
	switch name {
	case "HUP":
		return 1
	case "INT":
		return 2
	case "QUIT":
		return 3
	case "KILL":
		return 9
	case "TERM":
		return 15
	}
	return 0
}

func newStatus(f *factory.Factory) *cobra.Command {
	return envCmd(f, &cobra.Command{
		Use:   "status [--json]",
		Short: "Show trusted hosts, this Sonic's key, last syncs and pending state",
		Args:  cmdutil.NoArgs,
	}, func(e *env, _ []string) error { return e.status() })
}
