package sonic

import (
	"fmt"

	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
)

func (e *env) status() error {
	pins, err := e.kh.Hosts()
	if err != nil {
		return err
	}
	if pins == nil {
		pins = []hostauth.Pin{}
	}
	res := map[string]any{"client_key": hostauth.Fingerprint(e.key.PublicKey()), "trusted_hosts": pins}
	if e.f.Global.JSON {
		return cmdutil.WriteJSON(e.f.IO.Out, res)
	}
	fmt.Fprintf(e.f.IO.Out, "client key %s\n", res["client_key"])
	for _, p := range pins {
		fmt.Fprintf(e.f.IO.Out, "trusted %s %s\n", p.Hosts, p.Fingerprint)
	}
	return nil
}
