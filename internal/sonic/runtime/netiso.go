package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FetchISO downloads the ISO a network install names (sonic.iso) to dst
// and checks its sha256 against want before anything uses it: a mismatch
// removes the file and fails. tftp:// goes through busybox's tftp applet
// (the firmware has already spoken TFTP to that server); http(s):// is read
// with client. The file is written to dst+".part" and renamed, so dst
// exists only once it verified. progress, when not nil, is told the bytes
// received every few seconds (a silent TFTP transfer of a large ISO looks
// like a hung machine otherwise).
func FetchISO(ctx context.Context, rawURL, want, dst string, run Runner, client *http.Client, progress func(int64)) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("sonic.iso %q: %w", rawURL, err)
	}
	part := dst + ".part"
	defer os.Remove(part)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if progress != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					if fi, err := os.Stat(part); err == nil {
						progress(fi.Size())
					}
				}
			}
		}()
	}
	switch u.Scheme {
	case "tftp":
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "69"
		}
		// 1468 bytes a block fits an Ethernet frame; the default 512
		// would take three times the round trips.
		out, err := run(ctx, "busybox", "tftp", "-g", "-b", "1468", "-r", strings.TrimPrefix(u.Path, "/"), "-l", part, net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("fetching %s by TFTP: %v: %s", rawURL, err, strings.TrimSpace(string(out)))
		}
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("fetching %s: %w", rawURL, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("fetching %s: HTTP %s", rawURL, resp.Status)
		}
		f, err := os.Create(part)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("fetching %s: %w", rawURL, err)
		}
	default:
		return fmt.Errorf("sonic.iso %q: only tftp and http(s) are fetched", rawURL)
	}
	f, err := os.Open(part)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading the fetched ISO: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("the ISO fetched from %s has sha256 %s, the boot script expects %s: not installing it", rawURL, got, want)
	}
	return os.Rename(part, dst)
}
