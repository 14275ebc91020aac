package discover_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/bridge/discover"
	"github.com/fredbook/udos-dist/internal/bridge/nettest"
)

// The test binary doubles as the program run inside a namespace:
// DISCOVER_HELPER=announce NAME PORT FP, or browse TIMEOUT.
func TestMain(m *testing.M) {
	switch os.Getenv("DISCOVER_HELPER") {
	case "announce":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		port, _ := strconv.Atoi(os.Getenv("PORT"))
		err := discover.Announce(ctx, discover.Announcement{Name: os.Getenv("NAME"), Host: os.Getenv("HOSTNAME_MDNS"), Port: port,
			Version: "1.5.0", Protocol: "1", Fingerprint: os.Getenv("FP")}, func(n string) { fmt.Printf("ready %s\n", n) })
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("goodbye sent")
		os.Exit(0)
	case "browse":
		d, _ := time.ParseDuration(os.Getenv("TIMEOUT"))
		hs, err := discover.Browse(context.Background(), d)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(hs)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type announcer struct {
	cmd  *exec.Cmd
	name chan string
	out  *nettest.Buffer
}

func announce(t *testing.T, h *nettest.Host, name, fp, mdnsHost string) *announcer {
	t.Helper()
	c := h.Command(context.Background(), os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "DISCOVER_HELPER=announce", "NAME="+name, "PORT=7622", "FP="+fp, "HOSTNAME_MDNS="+mdnsHost)
	pr, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a := &announcer{cmd: c, name: make(chan string, 1), out: &nettest.Buffer{}}
	c.Stderr = a.out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			a.out.Write([]byte(sc.Text() + "\n"))
			if n, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				a.name <- n
			}
		}
	}()
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return a
}

func (a *announcer) ready(t *testing.T) string {
	t.Helper()
	select {
	case n := <-a.name:
		return n
	case <-time.After(20 * time.Second):
		t.Fatalf("announcer not ready: %s", a.out)
		return ""
	}
}

func (a *announcer) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	a.cmd.Wait()
	if !strings.Contains(a.out.String(), "goodbye sent") {
		t.Fatalf("announcer did not end cleanly: %s", a.out)
	}
}

func browse(t *testing.T, h *nettest.Host, timeout string) []discover.Host {
	t.Helper()
	c := h.Command(context.Background(), os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "DISCOVER_HELPER=browse", "TIMEOUT="+timeout)
	out, err := c.Output()
	if err != nil {
		t.Fatalf("browse: %v %s", err, out)
	}
	var hs []discover.Host
	if err := json.Unmarshal(out, &hs); err != nil {
		t.Fatal(err)
	}
	return hs
}

func find(hs []discover.Host, name string) *discover.Host {
	for i := range hs {
		if hs[i].Name == name {
			return &hs[i]
		}
	}
	return nil
}

// Our announcer and our browser on two hosts of a three-host bridge; a
// second announcer with the same name is renamed; a goodbye removes it.
func TestDiscoverAcrossHosts(t *testing.T) {
	t.Parallel()
	lab := nettest.New(t, 3)
	a := announce(t, lab.Hosts[0], "Wizard", "SHA256:one", "wiz-a")
	if n := a.ready(t); n != "Wizard" {
		t.Fatalf("first announcer renamed to %q", n)
	}
	b := announce(t, lab.Hosts[1], "Wizard", "SHA256:two", "wiz-b")
	if n := b.ready(t); n != "Wizard (2)" {
		t.Fatalf("conflicting announcer named %q, want \"Wizard (2)\"", n)
	}
	hs := browse(t, lab.Hosts[2], "3s")
	w, w2 := find(hs, "Wizard"), find(hs, "Wizard (2)")
	if w == nil || w2 == nil {
		t.Fatalf("browse found %+v", hs)
	}
	if w.Fingerprint != "SHA256:one" || w.Version != "1.5.0" || w.Protocol != "1" || w.Port != 7622 || len(w.Addresses) == 0 || w.Addresses[0] != lab.Hosts[0].IP {
		t.Fatalf("Wizard resolved as %+v (host ip %s)", w, lab.Hosts[0].IP)
	}
	if w2.Fingerprint != "SHA256:two" || w2.Addresses[0] != lab.Hosts[1].IP {
		t.Fatalf("Wizard (2) resolved as %+v", w2)
	}
	b.stop(t)
	if hs := browse(t, lab.Hosts[2], "2s"); find(hs, "Wizard (2)") != nil {
		t.Fatalf("a stopped announcer is still found: %+v", hs)
	}
}

// Interop with Debian's avahi: avahi-browse sees our service with its TXT
// record, our browser sees what avahi-publish announces, and a name avahi
// holds makes ours rename.
func TestAvahiInterop(t *testing.T) {
	t.Parallel()
	lab := nettest.New(t, 2)
	av := lab.Hosts[1].StartAvahi(t)
	a := announce(t, lab.Hosts[0], "uDOS Wizard", "SHA256:ours", "wiz-ours")
	a.ready(t)
	var out []byte
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, _ = av.Command(context.Background(), "avahi-browse", "-rtp", "_udos-wizard._tcp").Output()
		if strings.Contains(string(out), "=;") && strings.Contains(string(out), `"fp=SHA256:ours"`) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	line := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "=;") && strings.Contains(l, "uDOS\\032Wizard") {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, lab.Hosts[0].IP+";7622;") || !strings.Contains(line, `"version=1.5.0"`) || !strings.Contains(line, `"protocol=1"`) {
		t.Fatalf("avahi-browse did not resolve our service:\n%s", out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	pub := av.Command(ctx, "avahi-publish", "-s", "Avahi Wizard", "_udos-wizard._tcp", "7623", "fp=SHA256:avahi", "version=1.4.6", "protocol=1")
	pubOut := &nettest.Buffer{}
	pub.Stdout, pub.Stderr = pubOut, pubOut
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); pub.Wait() })
	for i := 0; i < 400 && !strings.Contains(pubOut.String(), "Established"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	hs := browse(t, lab.Hosts[0], "3s")
	h := find(hs, "Avahi Wizard")
	if h == nil || h.Fingerprint != "SHA256:avahi" || h.Port != 7623 || len(h.Addresses) == 0 || h.Addresses[0] != lab.Hosts[1].IP {
		t.Fatalf("our browser saw %+v (avahi-publish: %s)", hs, pubOut)
	}
	// Avahi holds "Avahi Wizard": ours, asking for it, is renamed.
	c := announce(t, lab.Hosts[0], "Avahi Wizard", "SHA256:late", "wiz-late")
	if n := c.ready(t); n != "Avahi Wizard (2)" {
		t.Fatalf("announcer under avahi's name became %q\n%s", n, c.out)
	}
}
