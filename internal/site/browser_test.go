package site

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/fredbook/udos-dist/internal/testenv"
)

// need finds the first of names on PATH: none there, the test skips, or
// fails in CI (testenv).
func need(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	testenv.Missing(t, strings.Join(names, " or ")+" not found on PATH")
	return ""
}

const baseURL = "/registry"

// buildSite generates the test catalog's site, builds it with the real
// Jekyll under a project-pages base URL, and serves the output the way
// GitHub Pages does (a static file server under /registry/).
func buildSite(t *testing.T) (dir, url string) {
	t.Helper()
	jekyll := testenv.Tool(t, "jekyll")
	src := generate(t)
	dst := filepath.Join(t.TempDir(), "_site")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Build(ctx, jekyll, src, dst, baseURL); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(PagesHandler(dst, baseURL))
	t.Cleanup(srv.Close)
	return dst, srv.URL + baseURL + "/"
}

// TestJekyllSiteWithoutJavaScript reads the built HTML as a browser without
// JavaScript would get it.
func TestJekyllSiteWithoutJavaScript(t *testing.T) {
	t.Parallel()
	dst, _ := buildSite(t)
	index, err := os.ReadFile(filepath.Join(dst, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(index)
	for _, want := range []string{
		`<a href="/registry/libraries/lib-grid-extensions/">Grid Extensions</a>`,
		`<a href="/registry/libraries/lib-pathfinding/">Pathfinding</a>`,
		`<a href="/registry/libraries/lib-nethack/">NetHack</a>`,
		`udos-lib install home-assistant`,
		`&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends`,
		`<form id="catalog-search" class="search" role="search" hidden>`,
		`data-tag="iot"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("index.html carries the description's markup unescaped")
	}
	lib, err := os.ReadFile(filepath.Join(dst, "libraries", "lib-grid-extensions", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<pre class="install" id="install-command"><code>udos-lib install grid-extensions</code></pre>`,
		`udos-lib install grid-extensions@1.2.3`,
		`<a href="/registry/libraries/lib-pathfinding/">Pathfinding</a>`,
		`<td>1.2.2 <em>(yanked)</em></td>`,
		`href="https://github.com/fredbook/udos-grid-extensions/releases/download/v1.2.3/lib-grid-extensions-v1.2.3.udos-package.asc"`,
	} {
		if !strings.Contains(string(lib), want) {
			t.Errorf("grid-extensions page lacks %q", want)
		}
	}
	// A relative catalog URL resolves against the catalog at the site root.
	ha, _ := os.ReadFile(filepath.Join(dst, "libraries", "lib-home-assistant", "index.html"))
	if !strings.Contains(string(ha), `href="/registry/packages/lib-home-assistant-v0.3.0.udos-package"`) {
		t.Error("home-assistant page: relative package URL not under the base URL")
	}
	for _, f := range []string{"catalog.json", "catalog.json.asc", "index/lib-nethack.json"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("built site lacks %s: %v", f, err)
		}
	}
	cat, _ := os.ReadFile(filepath.Join(dst, "catalog.json"))
	if string(cat) != string(readCatalog(t)) {
		t.Error("Jekyll changed catalog.json: its signature would no longer verify")
	}
}

// TestChromiumSearchAndLibraryPage does what a person does in a real
// headless Chromium: open the catalog, search, filter by tag, open a library
// page and read its install command.
func TestChromiumSearchAndLibraryPage(t *testing.T) {
	t.Parallel()
	chromium := need(t, "chromium", "chromium-browser", "google-chrome")
	_, url := buildSite(t)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	visible := func() []string {
		t.Helper()
		ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#library-list li.library")).filter(li => !li.hidden).map(li => li.dataset.id)`))
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: visible %v, want %v", what, got, want)
		}
	}

	do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("q")))
	check("no query", visible(), "lib-grid-extensions", "lib-home-assistant", "lib-nethack", "lib-pathfinding")
	do(chromedp.SendKeys(chromedp.ID("q"), "path"))
	check(`search "path"`, visible(), "lib-pathfinding")
	do(chromedp.SendKeys(chromedp.ID("q"), "\b\b\b\b"))
	check("search cleared", visible(), "lib-grid-extensions", "lib-home-assistant", "lib-nethack", "lib-pathfinding")
	do(chromedp.Click(chromedp.CSS(`button.tag-filter[data-tag="tui"]`)))
	check(`tag "tui"`, visible(), "lib-grid-extensions", "lib-nethack")
	do(chromedp.SendKeys(chromedp.ID("q"), "roguelike"))
	check(`tag "tui" + "roguelike"`, visible(), "lib-nethack")
	countText, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("result-count")))
	if err != nil {
		t.Fatal(err)
	}
	if countText != "1 of 4 libraries" {
		t.Errorf("result count %q", countText)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "search.png", shot)

	// Open the library page by its link, as a reader would.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`a[href$="/libraries/lib-nethack/"]`))); err != nil {
		t.Fatal(err)
	}
	do(chromedp.WaitVisible(chromedp.ID("install-command")))
	install, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("install-command")))
	if err != nil {
		t.Fatal(err)
	}
	title, _ := chromedp.Run(ctx, chromedp.Title())
	pageURL, _ := chromedp.Run(ctx, chromedp.Location())
	libShot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "library.png", libShot)
	// The same catalog with JavaScript switched off: the full list, no
	// search form (it would not work).
	noJS, cancelNoJS := chromedp.NewContext(ctx)
	defer cancelNoJS()
	do2 := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(noJS, steps...); err != nil {
			t.Fatal(err)
		}
	}
	do2(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("library-list")), chromedp.WaitNotVisible(chromedp.ID("catalog-search")))
	listText, err := chromedp.Run(noJS, chromedp.Text(chromedp.ID("library-list")))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Grid Extensions", "Home Assistant Bridge", "NetHack", "Pathfinding", "udos-lib install grid-extensions"} {
		if !strings.Contains(listText, name) {
			t.Errorf("without JavaScript the list lacks %q:\n%s", name, listText)
		}
	}
	noJSShot, err := chromedp.Run(noJS, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "nojs.png", noJSShot)

	if strings.TrimSpace(install) != "udos-lib install nethack" {
		t.Errorf("install command %q, want %q", install, "udos-lib install nethack")
	}
	if !strings.HasPrefix(title, "NetHack") || !strings.HasSuffix(pageURL, "/registry/libraries/lib-nethack/") {
		t.Errorf("library page: title %q at %s", title, pageURL)
	}
}

// saveShot keeps screenshots in UDOS_SCREENSHOT_DIR when set (to look at
// them), else in the test's temporary folder.
func saveShot(t *testing.T, name string, png []byte) {
	t.Helper()
	dir := os.Getenv("UDOS_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Error(err)
	}
}
