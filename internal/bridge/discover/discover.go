// Package discover finds and announces Wizard hosts over DNS-SD on
// multicast DNS (github.com/brutella/dnssd): the service type
// _udos-wizard._tcp, probed and announced as Bonjour does (a taken instance
// name is renamed "Name (2)"), with a TXT record carrying the uDOS version,
// the bridge protocol version and the host key's fingerprint, and a goodbye
// when the announcement ends.
package discover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/brutella/dnssd"
)

// ServiceType is the bridge's DNS-SD service type.
const ServiceType = "_udos-wizard._tcp"

// TXT keys.
const (
	KeyVersion     = "version"  // uDOS version of the host
	KeyProtocol    = "protocol" // bridge protocol version
	KeyFingerprint = "fp"       // SHA256 fingerprint of the host key
)

// Announcement is what a host announces.
type Announcement struct {
	Name        string
	Host        string // mDNS host name; default the system's
	Port        int
	Ifaces      []string // default: every up, multicast-capable interface
	Version     string
	Protocol    string
	Fingerprint string
}

// Announce probes for the instance name (renaming on conflict), announces
// the service and answers queries until ctx ends, then sends a goodbye.
// ready is called with the name finally announced.
func Announce(ctx context.Context, a Announcement, ready func(name string)) error {
	cfg := dnssd.Config{
		Name:   a.Name,
		Type:   ServiceType,
		Domain: "local",
		Host:   a.Host,
		Port:   a.Port,
		Ifaces: a.Ifaces,
		Text:   map[string]string{KeyVersion: a.Version, KeyProtocol: a.Protocol, KeyFingerprint: a.Fingerprint},
	}
	if len(a.Ifaces) > 0 {
		for _, n := range a.Ifaces {
			if _, err := net.InterfaceByName(n); err != nil {
				return fmt.Errorf("announcing on interface %q: %w", n, err)
			}
		}
	}
	// Ask before probing: a responder that already holds the name (avahi
	// among them) answers a query reliably, while its answer to a probe can
	// come too late under load. A name answered with another fingerprint is
	// taken, so take the next one as Bonjour names them; probing below
	// still settles races with hosts starting at the same moment.
	for i := 2; i < 100; i++ {
		fp, held := holder(ctx, cfg, 2*time.Second)
		if !held || fp == a.Fingerprint {
			break
		}
		cfg.Name = fmt.Sprintf("%s (%d)", a.Name, i)
	}
	if ctx.Err() != nil {
		return nil
	}
	srv, err := newService(cfg)
	if err != nil {
		return fmt.Errorf("announcing %q: %w", a.Name, err)
	}
	rp, err := dnssd.NewResponder()
	if err != nil {
		return fmt.Errorf("starting the mDNS responder: %w", err)
	}
	// Probe first for the name we will report; the responder probes again
	// when it starts (finding the name free unless someone took it since).
	probed, err := dnssd.ProbeService(ctx, srv)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("probing for %q on the network: %w", a.Name, err)
	}
	if _, err := rp.Add(probed); err != nil {
		return fmt.Errorf("announcing %q: %w", probed.Name, err)
	}
	res := make(chan error, 1)
	go func() { res <- rp.Respond(ctx) }()
	// Ready means answering: until our own browser resolves the name to our
	// fingerprint, a second host probing for the name would not be told it
	// is taken.
	if ready != nil {
		go func() {
			for ctx.Err() == nil {
				h, err := Lookup(ctx, probed.Name, time.Second)
				if err == nil && h.Fingerprint == a.Fingerprint {
					ready(probed.Name)
					return
				}
			}
		}()
	}
	err = <-res
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// newService is dnssd.NewService keeping the name as given: dnssd trims a
// " (N)" suffix, which undid the rename to "Wizard (2)" of a name found
// taken, so the announcer probed for the taken name again and, when the
// holder's answer to the probe came late, announced it (TestAvahiInterop
// failed 1 run in 3 for this).
func newService(cfg dnssd.Config) (dnssd.Service, error) {
	srv, err := dnssd.NewService(cfg)
	srv.Name = cfg.Name
	return srv, err
}

// holder asks who holds cfg's instance name: its SRV and TXT records,
// asked directly with the unicast-response bit, again every 500 ms until
// the timeout. A browse would first ask for the PTR records, which a
// responder that has just multicast them holds back for a second (RFC 6762
// §6), and then resolve; avahi's answer to that came after two seconds
// while a direct question is answered at once. held reports whether anyone
// answered, fp the fingerprint in its TXT record.
func holder(ctx context.Context, cfg dnssd.Config, timeout time.Duration) (fp string, held bool) {
	srv, err := newService(cfg)
	if err != nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for ctx.Err() == nil {
		try, stop := context.WithTimeout(ctx, 500*time.Millisecond)
		s, err := dnssd.LookupInstance(try, srv.EscapedServiceInstanceName())
		stop()
		if err == nil {
			return s.Text[KeyFingerprint], true
		}
	}
	return "", false
}

// Host is one discovered Wizard host.
type Host struct {
	Name        string   `json:"name"`
	Host        string   `json:"host"`
	Addresses   []string `json:"addresses"`
	Port        int      `json:"port"`
	Version     string   `json:"version"`
	Protocol    string   `json:"protocol"`
	Fingerprint string   `json:"fingerprint"`
	Interfaces  []string `json:"interfaces"`
}

// Browse collects the hosts that answer within timeout, resolved, sorted by
// name; a host seen on several interfaces is one entry with all addresses.
func Browse(ctx context.Context, timeout time.Duration) ([]Host, error) {
	return browse(ctx, timeout, nil)
}

// Lookup browses until an instance named name (case-insensitively, as DNS
// compares) is resolved with an address, or timeout.
func Lookup(ctx context.Context, name string, timeout time.Duration) (*Host, error) {
	hs, err := browse(ctx, timeout, func(h Host) bool { return strings.EqualFold(h.Name, name) && len(h.Addresses) > 0 })
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) && len(h.Addresses) > 0 {
			return &h, nil
		}
	}
	return nil, fmt.Errorf("no Wizard host named %q answered on the LAN within %s", name, timeout)
}

func browse(ctx context.Context, timeout time.Duration, stop func(Host) bool) ([]Host, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	found := map[string]*Host{}
	add := func(e dnssd.BrowseEntry) {
		mu.Lock()
		defer mu.Unlock()
		key := strings.ToLower(e.Name)
		h := found[key]
		if h == nil {
			h = &Host{Name: e.Name}
			found[key] = h
		}
		h.Host, h.Port = strings.TrimSuffix(e.Host, "."), e.Port
		h.Version, h.Protocol, h.Fingerprint = e.Text[KeyVersion], e.Text[KeyProtocol], e.Text[KeyFingerprint]
		for _, ip := range e.IPs {
			s := ip.String()
			if ip.IsLinkLocalUnicast() && ip.To4() == nil && e.IfaceName != "" {
				s += "%" + e.IfaceName
			}
			h.Addresses = appendNew(h.Addresses, s)
		}
		if e.IfaceName != "" {
			h.Interfaces = appendNew(h.Interfaces, e.IfaceName)
		}
		if stop != nil && stop(*h) {
			cancel()
		}
	}
	rmv := func(e dnssd.BrowseEntry) {
		mu.Lock()
		defer mu.Unlock()
		delete(found, strings.ToLower(e.Name))
	}
	err := dnssd.LookupType(ctx, ServiceType+".local.", add, rmv)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("browsing for %s: %w", ServiceType, err)
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([]Host, 0, len(found))
	for _, h := range found {
		sortAddrs(h.Addresses)
		sort.Strings(h.Interfaces)
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func appendNew(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// sortAddrs puts IPv4 first (the address a client should try first on a
// LAN), then IPv6, each in text order.
func sortAddrs(a []string) {
	sort.Slice(a, func(i, j int) bool {
		vi, vj := !strings.Contains(a[i], ":"), !strings.Contains(a[j], ":")
		if vi != vj {
			return vi
		}
		return a[i] < a[j]
	})
}
