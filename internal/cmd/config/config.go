// Package config implements `udos-lib config NAME --show | --edit`: the
// library's JSON config, kept outside the versioned store so it survives
// updates, edited through $EDITOR and validated before it replaces the old.
package config

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one config command.
type Options struct {
	IO     *iostreams.IOStreams
	Begin  func() (*library.Client, func(), error)
	Getenv func(string) string
	Name   string
	Show   bool
	Edit   bool
	// RunEditor opens path in editor; replaced in tests.
	RunEditor func(editor, path string) error
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Begin: f.Begin, Getenv: f.Getenv}
	opts.RunEditor = func(editor, path string) error {
		// The editor value may carry arguments ("code --wait"); run it the
		// way git does, through the shell, with the file as "$1".
		ed := exec.Command("/bin/sh", "-c", editor+` "$1"`, "udos-lib-editor", path)
		ed.Stdin, ed.Stdout, ed.Stderr = f.IO.In, f.IO.ErrOut, f.IO.ErrOut
		if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil && f.IO.IsStderrTTY() {
			defer tty.Close()
			ed.Stdin, ed.Stdout, ed.Stderr = tty, tty, tty
		}
		return ed.Run()
	}
	cmd := &cobra.Command{
		Use:     "config NAME (--show | --edit)",
		Example: "  udos-lib config grid-extensions --show\n  EDITOR=nano udos-lib config grid-extensions --edit",
		Short:   "Show or edit a library's JSON config",
		Long: `--show prints the config (the package defaults if it was never edited).
--edit opens a copy in $EDITOR (then $VISUAL, then vi); the result must be a
JSON object that matches the library's schema (lib/config.schema.json) or it
is refused and the old config kept.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || opts.Show == opts.Edit {
				return cmdutil.Usagef("config: usage: config NAME --show | --edit")
			}
			opts.Name = args[0]
			return cmdutil.Run(opts, runF, run)
		},
	}
	cmd.Flags().BoolVar(&opts.Show, "show", false, "print the config")
	cmd.Flags().BoolVar(&opts.Edit, "edit", false, "edit the config in $EDITOR")
	return cmd
}

func run(opts *Options) error {
	return cmdutil.WithClient(opts.Begin, func(c *library.Client) error { return config(opts, c) })
}

func config(opts *Options, c *library.Client) error {
	lc, err := c.Config(opts.Name)
	if err != nil {
		return err
	}
	if opts.Show {
		_, err := opts.IO.Out.Write(lc.Current)
		if err == nil && !bytes.HasSuffix(lc.Current, []byte("\n")) {
			_, err = opts.IO.Out.Write([]byte("\n"))
		}
		return err
	}
	editor := firstNonEmpty(opts.Getenv("EDITOR"), opts.Getenv("VISUAL"), "vi")
	tmp, err := os.CreateTemp("", lc.ID+"-config-*.json")
	if err != nil {
		return fmt.Errorf("preparing the edit: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(lc.Current); err != nil {
		tmp.Close()
		return fmt.Errorf("preparing the edit: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("preparing the edit: %w", err)
	}
	if err := opts.RunEditor(editor, tmp.Name()); err != nil {
		return fmt.Errorf("editor %q failed: %w; the config is unchanged", editor, err)
	}
	edited, err := os.ReadFile(tmp.Name())
	if err != nil {
		return fmt.Errorf("reading the edited config: %w", err)
	}
	if bytes.Equal(edited, lc.Current) && lc.Exists {
		fmt.Fprintf(opts.IO.ErrOut, "config of %s unchanged\n", lc.ID)
		return nil
	}
	if err := lc.Save(edited); err != nil {
		keep = true
		return fmt.Errorf("config of %s not saved: %w; the old config is kept and your edit is in %s", lc.ID, err, tmp.Name())
	}
	fmt.Fprintf(opts.IO.ErrOut, "saved the config of %s (%s)\n", lc.ID, lc.Path)
	return nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}
