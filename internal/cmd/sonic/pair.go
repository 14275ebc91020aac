package sonic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/bridge/client"
	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
)

func newPair(f *factory.Factory) *cobra.Command {
	var comment string
	var timeout time.Duration
	c := envCmd(f, &cobra.Command{
		Use:   "pair HOST [--comment NAME]",
		Short: "Pair with a trusted host: both screens show a code, the host's operator confirms",
		Long: `Asks the host's open pairing window ('udos-lib bridge pair' on the host) to
authorize this Sonic's key. The host must be trusted first ('sonic trust
HOST'). This screen and the host's show the same 6-digit code, derived from
both keys and this SSH session: the host's operator confirms only when they
match. Waits for the verdict; exit code 0 once this Sonic is authorized.`,
		Args: cmdutil.ExactArgs(1, "give one HOST"),
	}, func(e *env, args []string) error {
		t, err := resolve(f.Ctx, args[0], timeout)
		if err != nil {
			return err
		}
		return e.pair(f.Ctx, t, comment)
	})
	c.Flags().StringVar(&comment, "comment", defaultComment(), "the `NAME` this Sonic pairs under (shown on the host, kept in its authorized keys)")
	timeoutFlag(c, &timeout)
	return c
}

func defaultComment() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "sonic"
	}
	return "sonic@" + h
}

func (e *env) pair(ctx context.Context, t *target, comment string) error {
	errOut := e.f.IO.ErrOut
	c, err := e.dial(ctx, t)
	var ue *hostauth.UnknownError
	switch {
	case errors.As(err, &ue):
		return fmt.Errorf("pairing needs the host trusted first: %w", err)
	case client.IsUnauthorized(err):
		return fmt.Errorf("host %s refused this Sonic's key: no pairing window is open there; run 'udos-lib bridge pair' on the host, then retry (%v)", t.Name, err)
	case err != nil:
		return err
	}
	defer c.Close()
	fmt.Fprintf(errOut, "pairing code: %s\nCheck that the host shows the same code and confirm there; waiting…\n", c.PairCode())
	already, err := c.Pair(ctx, comment)
	if err != nil {
		return fmt.Errorf("pairing with %s: %w", t.Name, err)
	}
	if already {
		fmt.Fprintf(errOut, "this Sonic was already authorized on %s\n", t.Name)
		return nil
	}
	// The pairing connection may only pair: prove that a fresh one is let
	// in as an authorized client.
	c2, err := e.dial(ctx, t)
	if err != nil {
		return fmt.Errorf("the host confirmed the pairing but refuses this Sonic on a new connection: %w", err)
	}
	c2.Close()
	fmt.Fprintf(errOut, "paired: this Sonic (%s) is authorized on %s\n", hostauth.Fingerprint(e.key.PublicKey()), t.Name)
	return nil
}
