package site

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// PagesHandler serves a built site (the `jekyll build` output) the way
// GitHub Pages does, for tests and local previews: under baseURL ("" or
// "/repo"), "/dir/" answers dir/index.html, "/dir" redirects to "/dir/",
// every file carries a strong ETag (conditional requests answer 304), and
// a missing page answers 404 with the site's 404.html when it has one.
func PagesHandler(dir, baseURL string) http.Handler {
	base := strings.TrimSuffix(baseURL, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		if base != "" {
			if p == base {
				http.Redirect(w, r, base+"/", http.StatusMovedPermanently)
				return
			}
			if !strings.HasPrefix(p, base+"/") {
				notFound(w, dir)
				return
			}
			p = strings.TrimPrefix(p, base)
		}
		clean := path.Clean("/" + p)
		name := filepath.Join(dir, filepath.FromSlash(clean))
		fi, err := os.Stat(name)
		if err == nil && fi.IsDir() {
			if !strings.HasSuffix(p, "/") {
				http.Redirect(w, r, base+clean+"/", http.StatusMovedPermanently)
				return
			}
			name = filepath.Join(name, "index.html")
			fi, err = os.Stat(name)
		}
		if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
			notFound(w, dir)
			return
		}
		if err != nil {
			http.Error(w, "server error", http.StatusInternalServerError)
			return
		}
		data, err := os.ReadFile(name)
		if err != nil {
			http.Error(w, "server error", http.StatusInternalServerError)
			return
		}
		sum := sha256.Sum256(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
		w.Header().Set("Cache-Control", "max-age=600")
		http.ServeContent(w, r, name, fi.ModTime(), strings.NewReader(string(data)))
	})
}

func notFound(w http.ResponseWriter, dir string) {
	if page, err := os.ReadFile(filepath.Join(dir, "404.html")); err == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(page)
		return
	}
	http.NotFound(w, nil)
}
