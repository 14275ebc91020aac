// Command testsvc is the health-serving service the Wizard lifecycle tests
// run in real containers: a static program (CGO_ENABLED=0) that fits in a
// FROM-scratch image. It answers GET <health path> with
// {"status": "healthy"} as the seed's Wizard does, and can be told to
// misbehave the ways a real service does: crash, hang, turn unhealthy,
// ignore SIGTERM, run out of memory, fail on a volume it cannot write or a
// config file that is missing.
//
//	testsvc [serve] [--addr :8080] [--health-path /api/health] [--state DIR]
//	        [--config FILE] [--mode MODE] [--exit-after D] [--exit-code N]
//	testsvc healthcheck [--url URL] [--timeout 2s]
//	testsvc fault URL crash|hang|unhealthy|healthy|ignore-sigterm|oom|break-state
//
// Faults can also be sent as POST /control/<fault> to the service port.
// --mode starts the service already in a fault (unhealthy, ignore-sigterm).
// --exit-after makes it a one-shot job that exits with --exit-code.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var code int
	switch cmd {
	case "serve":
		code = serve(args)
	case "healthcheck":
		code = healthcheck(args)
	case "fault":
		code = fault(args)
	default:
		fmt.Fprintf(os.Stderr, "testsvc: unknown command %q\n", cmd)
		code = 2
	}
	os.Exit(code)
}

type service struct {
	unhealthy     atomic.Bool
	ignoreSIGTERM atomic.Bool
	hang          chan struct{} // closed: every request blocks forever
	hangOnce      sync.Once
	ballast       [][]byte
	state         string
}

func logf(format string, args ...any) {
	fmt.Printf("%s testsvc: %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "listen address")
	healthPath := fs.String("health-path", "/api/health", "health endpoint")
	state := fs.String("state", "", "state folder: a boot record is appended at start")
	config := fs.String("config", "", "config file that must exist")
	mode := fs.String("mode", "", "start in a fault: unhealthy, ignore-sigterm")
	exitAfter := fs.Duration("exit-after", 0, "exit after this long (a one-shot job)")
	exitCode := fs.Int("exit-code", 0, "exit code for --exit-after")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s := &service{hang: make(chan struct{}), state: *state}
	for _, m := range strings.Split(*mode, ",") {
		switch m {
		case "":
		case "unhealthy":
			s.unhealthy.Store(true)
		case "ignore-sigterm":
			s.ignoreSIGTERM.Store(true)
		default:
			logf("unknown mode %q", m)
			return 2
		}
	}
	logf("starting (pid %d, uid %d)", os.Getpid(), os.Getuid())
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			logf("fatal: reading config: %v", err)
			return 1
		}
		logf("config %s: %d bytes", *config, len(b))
	}
	if *state != "" {
		f, err := os.OpenFile(filepath.Join(*state, "boot.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			logf("fatal: state folder: %v", err)
			return 1
		}
		fmt.Fprintf(f, "boot %s\n", time.Now().UTC().Format(time.RFC3339Nano))
		f.Close()
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	mux := http.NewServeMux()
	mux.HandleFunc(*healthPath, func(w http.ResponseWriter, r *http.Request) {
		s.maybeHang()
		w.Header().Set("Content-Type", "application/json")
		if s.unhealthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status": "unhealthy"}`)
			return
		}
		io.WriteString(w, `{"status": "healthy"}`)
	})
	mux.HandleFunc("/control/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		f := strings.TrimPrefix(r.URL.Path, "/control/")
		if err := s.apply(f, w); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logf("fatal: listen %s: %v", *addr, err)
		return 1
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	logf("listening on %s, health at %s", ln.Addr(), *healthPath)

	var deadline <-chan time.Time
	if *exitAfter > 0 {
		deadline = time.After(*exitAfter)
	}
	for {
		select {
		case <-deadline:
			logf("job done, exiting %d", *exitCode)
			return *exitCode
		case sig := <-sigs:
			if s.ignoreSIGTERM.Load() {
				logf("received %v, ignoring it", sig)
				continue
			}
			logf("received %v, shutting down", sig)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			srv.Shutdown(ctx)
			cancel()
			logf("stopped cleanly")
			return 0
		}
	}
}

func (s *service) maybeHang() {
	select {
	case <-s.hang:
		select {} // a hung service never answers
	default:
	}
}

func (s *service) apply(f string, w http.ResponseWriter) error {
	switch f {
	case "crash":
		logf("fault: crash")
		os.Exit(3)
	case "hang":
		logf("fault: hang")
		io.WriteString(w, "hanging\n")
		s.hangOnce.Do(func() { close(s.hang) })
	case "unhealthy":
		logf("fault: unhealthy")
		s.unhealthy.Store(true)
	case "healthy":
		s.unhealthy.Store(false)
	case "break-state":
		// The state folder turns read-only for its owner, as a volume
		// restored with the wrong owner would be; the service then dies,
		// and fails at every start after.
		logf("fault: state folder %s made read-only, crashing", s.state)
		if s.state == "" {
			return errors.New("no --state folder")
		}
		os.Chmod(filepath.Join(s.state, "boot.log"), 0o444)
		if err := os.Chmod(s.state, 0o555); err != nil {
			return err
		}
		os.Exit(3)
	case "ignore-sigterm":
		logf("fault: ignoring SIGTERM from now on")
		s.ignoreSIGTERM.Store(true)
	case "oom":
		logf("fault: allocating until out of memory")
		io.WriteString(w, "allocating\n")
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		go func() {
			for {
				b := make([]byte, 8<<20)
				for i := range b {
					b[i] = byte(i)
				}
				s.ballast = append(s.ballast, b)
			}
		}()
	default:
		return fmt.Errorf("unknown fault %q", f)
	}
	return nil
}

func healthcheck(args []string) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/api/health", "health URL")
	timeout := fs.Duration("timeout", 2*time.Second, "request timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := &http.Client{Timeout: *timeout}
	resp, err := c.Get(*url)
	if err != nil {
		fmt.Printf("probe %s: %v\n", *url, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var h struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		fmt.Printf("probe %s: HTTP %d, not JSON: %q\n", *url, resp.StatusCode, body)
		return 1
	}
	fmt.Printf("probe %s: HTTP %d %s\n", *url, resp.StatusCode, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK || h.Status != "healthy" {
		return 1
	}
	return 0
}

func fault(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testsvc fault URL FAULT")
		return 2
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Post(strings.TrimSuffix(args[0], "/")+"/control/"+args[1], "text/plain", nil)
	if err != nil {
		if errors.Is(err, io.EOF) || args[1] == "crash" {
			return 0 // the service died answering, as asked
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "HTTP %d\n", resp.StatusCode)
		return 1
	}
	return 0
}
