package sonic

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/bridge/discover"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
)

func init() {
	lookup = func(ctx context.Context, name string, timeout time.Duration) (*target, error) {
		h, err := discover.Lookup(ctx, name, timeout)
		if err != nil {
			return nil, err
		}
		return &target{Name: h.Name, Host: h.Addresses[0], Port: h.Port, Fingerprint: h.Fingerprint}, nil
	}
}

func newDiscover(f *factory.Factory) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "discover [--timeout 3s] [--json]",
		Short: "Find Wizard hosts on the LAN (DNS-SD _udos-wizard._tcp over mDNS)",
		Args:  cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			hs, err := discover.Browse(f.Ctx, timeout)
			if err != nil {
				return err
			}
			if f.Ctx.Err() != nil {
				return f.Ctx.Err()
			}
			if f.Global.JSON {
				return cmdutil.WriteJSON(f.IO.Out, map[string]any{"hosts": hs})
			}
			if len(hs) == 0 {
				fmt.Fprintf(f.IO.ErrOut, "no Wizard host answered within %s (is 'udos-lib bridge serve' running on the same LAN? multicast does not cross routers or Docker's bridge)\n", timeout)
				return nil
			}
			for _, h := range hs {
				fmt.Fprintf(f.IO.Out, "%s\t%s\tport %d\tuDOS %s\tprotocol %s\t%s\n", h.Name, strings.Join(h.Addresses, ","), h.Port, h.Version, h.Protocol, h.Fingerprint)
			}
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to listen for answers")
	return c
}
