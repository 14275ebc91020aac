// Package bridge implements `udos-lib bridge`, the Wizard host's end of the
// Sonic bridge: serve (SSH with pinned host key, authorized client keys,
// allowed commands, state sync, mDNS announcement), clients and authorize.
package bridge

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/discover"
	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/pairing"
	"github.com/fredbook/udos-dist/internal/bridge/server"
	"github.com/fredbook/udos-dist/internal/bridge/statesync"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/store"
)

// ProtocolVersion is the bridge protocol this build speaks (announced in
// the TXT record).
const ProtocolVersion = "1"

// NewCmd builds the bridge command group.
func NewCmd(f *factory.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "bridge",
		Short: "Serve the Sonic bridge on a Wizard host (see docs/BRIDGE.md)",
		Args:  cmdutil.NoArgs,
	}
	c.AddCommand(newServe(f), newClients(f), newAuthorize(f), newPair(f))
	return c
}

// ServeOptions of `bridge serve`.
type ServeOptions struct {
	Listen         string
	Name           string
	Allow          []string
	AuthorizedKeys string
	Ifaces         []string
	NoAnnounce     bool
	Keep           int
	KeepAlive      time.Duration
}

func newServe(f *factory.Factory) *cobra.Command {
	o := &ServeOptions{}
	c := &cobra.Command{
		Use:   "serve [--listen :7622] [--name NAME] [--allow CMD]... [--authorized-keys FILE]",
		Args:  cmdutil.NoArgs,
		Short: "Run the bridge: SSH for allowed commands and state sync, announced over mDNS",
		Long: `Commands are run as the user running serve, with the uDOS root as working
directory, from an argument vector (never a shell). --allow takes a path
(relative to the root) or a name found in <root>/bin or on PATH; the default
is bin/ucode. Clients authenticate by key: list them in --authorized-keys
(default <root>/bridge/authorized_keys; add one with 'bridge authorize').`,
		RunE: func(*cobra.Command, []string) error {
			if o.Keep < 1 {
				return cmdutil.Usagef("serve: --keep must be at least 1")
			}
			return serve(f.Ctx, f, o)
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.Listen, "listen", ":"+strconv.Itoa(hostauth.DefaultPort), "TCP `ADDRESS` to listen on")
	fs.StringVar(&o.Name, "name", "", "instance `NAME` announced over mDNS (default: uDOS Wizard on HOSTNAME)")
	fs.StringArrayVar(&o.Allow, "allow", nil, "a `COMMAND` clients may run (repeatable; default bin/ucode)")
	fs.StringVar(&o.AuthorizedKeys, "authorized-keys", "", "authorized client keys `FILE` (OpenSSH format; default <root>/bridge/authorized_keys)")
	fs.DurationVar(&o.KeepAlive, "keepalive", 15*time.Second, "interval of keepalive requests to clients")
	fs.StringArrayVar(&o.Ifaces, "iface", nil, "announce on this `INTERFACE` only (repeatable; default: every up interface)")
	fs.BoolVar(&o.NoAnnounce, "no-announce", false, "do not announce over mDNS")
	fs.IntVar(&o.Keep, "keep", 5, "synced state versions kept per Sonic")
	return c
}

// paths returns the uDOS root and its bridge folder, created if needed.
func paths(f *factory.Factory) (string, hostauth.Paths, error) {
	root, err := f.RootDir()
	if err != nil {
		return "", hostauth.Paths{}, err
	}
	p := hostauth.For(root)
	return root, p, p.Ensure()
}

// authorizedKeys is the authorized client keys file: --authorized-keys
// (flag), else the bridge folder's.
func authorizedKeys(flag string, p hostauth.Paths) hostauth.AuthorizedKeys {
	if flag == "" {
		flag = p.AuthorizedKeys()
	}
	return hostauth.AuthorizedKeys{File: flag}
}

// authorizedKeysFlag is the --authorized-keys of clients and authorize
// (serve's says more about the file's format).
func authorizedKeysFlag(c *cobra.Command, file *string) {
	c.Flags().StringVar(file, "authorized-keys", "", "authorized client keys `FILE` (default <root>/bridge/authorized_keys)")
}

func serve(ctx context.Context, f *factory.Factory, o *ServeOptions) error {
	root, p, err := paths(f)
	if err != nil {
		return err
	}
	hostKey, err := hostauth.LoadOrCreateKey(p.HostKey())
	if err != nil {
		return err
	}
	allow := []string(o.Allow)
	if len(allow) == 0 {
		allow = []string{filepath.Join("bin", "ucode")}
	}
	cmds, err := server.ResolveAllow(root, allow, exec.LookPath)
	if err != nil {
		return fmt.Errorf("%w (name the commands clients may run with --allow)", err)
	}
	ak := authorizedKeys(o.AuthorizedKeys, p)
	if _, err := ak.Load(); err != nil {
		return err
	}
	clog := &hostauth.ClientLog{File: p.Clients()}
	store := &statesync.Store{Dir: p.StateStore(), Keep: o.Keep, Now: f.Now}
	errOut := f.IO.ErrOut
	logf := func(m string) { fmt.Fprintf(errOut, "udos-bridge: %s\n", m) }
	store.Log = logf
	window := &pairing.Window{Authorize: func(o pairing.Offer) error {
		_, err := ak.Add(o.Key, o.Comment)
		return err
	}}
	srv, err := server.New(server.Config{
		HostKey:    hostKey,
		Authorized: ak.Load,
		Commands:   cmds,
		Dir:        root,
		Env:        commandEnv(f, root),
		KeepAlive:  o.KeepAlive,
		Subsystems: map[string]server.SubsystemHandler{
			server.SyncSubsystem: func(ctx context.Context, ch ssh.Channel, c server.Client) error {
				_, err := store.Serve(ctx, ch, c.Fingerprint)
				return err
			},
		},
		Log:     logf,
		Pairing: window,
		OnAuth: func(c server.Client) {
			if err := clog.Touch(c.Fingerprint, c.Comment, c.Addr, f.Now()); err != nil {
				logf(fmt.Sprintf("recording client %s: %v", c.Fingerprint, err))
			}
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another bridge running? pick another port with --listen)", o.Listen, err)
	}
	fp := hostauth.Fingerprint(hostKey.PublicKey())
	fmt.Fprintf(errOut, "udos-bridge: host key %s\n", fp)
	fmt.Fprintf(errOut, "udos-bridge: listening on %s (commands: %s)\n", ln.Addr(), strings.Join(sortedKeys(cmds), ", "))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	paired := make(chan struct{})
	if pln, err := pairing.Listen(p.PairSocket()); err != nil {
		// Serving does not need pairing: keys can still be authorized.
		logf(fmt.Sprintf("pairing unavailable: %v", err))
		close(paired)
	} else {
		go func() {
			defer close(paired)
			if err := pairing.ServeControl(ctx, pln, window, logf); err != nil {
				logf(err.Error())
			}
		}()
	}
	announced := make(chan error, 1)
	if o.NoAnnounce {
		announced <- nil
	} else {
		name := o.Name
		if name == "" {
			h, _ := os.Hostname()
			name = "uDOS Wizard on " + h
		}
		a := discover.Announcement{Name: name, Port: ln.Addr().(*net.TCPAddr).Port, Ifaces: o.Ifaces,
			Version: coreVersion(root), Protocol: ProtocolVersion, Fingerprint: fp}
		go func() {
			err := discover.Announce(ctx, a, func(n string) {
				if n != name {
					logf(fmt.Sprintf("the name %q is taken on the network: announced as %q", name, n))
				}
				logf(fmt.Sprintf("announced as %q (%s)", n, discover.ServiceType))
			})
			if err != nil {
				// Commands still work by address; say why discovery does not.
				logf(fmt.Sprintf("not announced over mDNS: %v", err))
			}
			announced <- err
		}()
	}
	err = srv.Serve(ctx, ln)
	cancel()
	<-announced
	<-paired
	return err
}

func coreVersion(root string) string {
	v, err := store.CoreVersion(root)
	if err != nil {
		return "unknown"
	}
	return v.String()
}

func commandEnv(f *factory.Factory, root string) []string {
	env := []string{"UDOS_ROOT=" + root}
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER"} {
		if v := f.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func newClients(f *factory.Factory) *cobra.Command {
	var akFile string
	c := &cobra.Command{
		Use:   "clients [--json]",
		Short: "List the authorized Sonic keys and when each was last seen",
		Args:  cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			root, err := f.RootDir()
			if err != nil {
				return err
			}
			p := hostauth.For(root)
			ak := authorizedKeys(akFile, p)
			keys, err := ak.Load()
			if err != nil {
				return err
			}
			seen, err := (&hostauth.ClientLog{File: p.Clients()}).Load()
			if err != nil {
				return err
			}
			type row struct {
				Fingerprint string     `json:"fingerprint"`
				Type        string     `json:"type"`
				Comment     string     `json:"comment,omitempty"`
				LastSeen    *time.Time `json:"last_seen"`
				LastAddr    string     `json:"last_addr,omitempty"`
			}
			rows := []row{}
			for _, k := range keys {
				r := row{Fingerprint: hostauth.Fingerprint(k.Key), Type: k.Key.Type(), Comment: k.Comment}
				if s, ok := seen[r.Fingerprint]; ok {
					t := s.LastSeen
					r.LastSeen, r.LastAddr = &t, s.LastAddr
				}
				rows = append(rows, r)
			}
			if f.Global.JSON {
				return cmdutil.WriteJSON(f.IO.Out, map[string]any{"clients": rows})
			}
			if len(rows) == 0 {
				fmt.Fprintf(f.IO.ErrOut, "no authorized clients in %s (add one with 'udos-lib bridge authorize KEY')\n", ak.File)
				return nil
			}
			for _, r := range rows {
				last := "never"
				if r.LastSeen != nil {
					last = r.LastSeen.Format(time.RFC3339) + " from " + r.LastAddr
				}
				fmt.Fprintf(f.IO.Out, "%s\t%s\tlast seen %s\n", r.Fingerprint, r.Comment, last)
			}
			return nil
		},
	}
	authorizedKeysFlag(c, &akFile)
	return c
}

func newAuthorize(f *factory.Factory) *cobra.Command {
	var akFile string
	c := &cobra.Command{
		Use:   "authorize 'ssh-ed25519 AAAA… [comment]'|FILE",
		Short: "Authorize a Sonic's key (printed by 'udos-lib sonic trust' on the Sonic)",
		Args:  cmdutil.ExactArgs(1, "give one key line or a .pub file"),
		RunE: func(_ *cobra.Command, args []string) error {
			line := []byte(args[0])
			if b, err := os.ReadFile(args[0]); err == nil {
				line = b
			}
			key, comment, _, _, err := ssh.ParseAuthorizedKey(line)
			if err != nil {
				return fmt.Errorf("not an OpenSSH public key: %w", err)
			}
			_, p, err := paths(f)
			if err != nil {
				return err
			}
			ak := authorizedKeys(akFile, p)
			added, err := ak.Add(key, comment)
			if err != nil {
				return err
			}
			state := "authorized"
			if !added {
				state = "already authorized"
			}
			fmt.Fprintf(f.IO.ErrOut, "%s %s in %s\n", hostauth.Fingerprint(key), state, ak.File)
			return nil
		},
	}
	authorizedKeysFlag(c, &akFile)
	return c
}

func newPair(f *factory.Factory) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "pair [--timeout 2m]",
		Short: "Open a pairing window of the running bridge serve: authorize one Sonic after comparing a code",
		Long: `Opens a pairing window of the 'bridge serve' running on this uDOS root for
--timeout. On the Sonic, run 'udos-lib sonic pair HOST' (after 'sonic
trust HOST'): both screens show the same 6-digit code, derived from both keys
and the SSH session. Confirm here only when they match, by answering y or by
typing the code the Sonic shows (a script can write that code to stdin); the
Sonic's key is then added to the authorized keys. Anything else declines.
The window closes after one pairing (confirmed or not) or the timeout.`,
		Args: cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if timeout <= 0 {
				return cmdutil.Usagef("pair: --timeout must be positive")
			}
			_, p, err := paths(f)
			if err != nil {
				return err
			}
			return pair(f, p, timeout)
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long the window stays open")
	return c
}

// confirms reports whether the operator's answer confirms code: y, yes, or
// the code itself (blanks ignored, as the Sonic shows it in one piece).
func confirms(answer, code string) bool {
	a := strings.ToLower(strings.Join(strings.Fields(answer), ""))
	return a == "y" || a == "yes" || a == code
}

func pair(f *factory.Factory, p hostauth.Paths, timeout time.Duration) error {
	errOut := f.IO.ErrOut
	in := bufio.NewReader(f.IO.In)
	o, err := pairing.Pair(f.Ctx, p.PairSocket(), timeout, func() {
		fmt.Fprintf(errOut, "pairing window open for %s: on the Sonic run 'udos-lib sonic pair HOST'\n", timeout)
	}, func(ctx context.Context, o pairing.Offer) (bool, error) {
		fmt.Fprintf(errOut, "Sonic %s (%s) at %s asks to pair.\n  pairing code: %s\nDoes the Sonic show the same code? Type y or the code to confirm [y/N]: ", o.Fingerprint(), o.Comment, o.Addr, o.Code)
		line := make(chan string, 1)
		go func() { l, _ := in.ReadString('\n'); line <- l }()
		select {
		case l := <-line:
			return confirms(l, o.Code), nil
		case <-ctx.Done():
			fmt.Fprintln(errOut)
			return false, ctx.Err()
		}
	})
	if err != nil {
		return fmt.Errorf("pairing: %w", err)
	}
	fmt.Fprintf(errOut, "paired: %s (%s) is authorized\n", o.Fingerprint(), o.Comment)
	if f.Global.JSON {
		return cmdutil.WriteJSON(f.IO.Out, map[string]any{"paired": true, "fingerprint": o.Fingerprint(), "comment": o.Comment, "addr": o.Addr, "code": o.Code})
	}
	fmt.Fprintf(f.IO.Out, "%s\t%s\n", o.Fingerprint(), o.Comment)
	return nil
}
