package site

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
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
		`<td><span class="v">1.2.2</span> <em class="yanked-badge">(yanked)</em></td>`,
		`<dt>Size</dt><dd><span class="size" title="2098 bytes">2.0 KiB</span></dd>`,
		`<dd class="downloads">1305 (all versions)</dd>`,
		`<td class="downloads">1200</td>`,
		// The README, rendered: relative links go to the repository, and
		// Liquid in it stays text.
		`<section class="readme" id="readme" aria-labelledby="readme-heading">`,
		`<h2>Usage</h2>`,
		`<a href="https://github.com/fredbook/udos-grid-extensions/blob/v1.2.3/docs/USAGE.md">the usage guide</a>`,
		`print(&quot;{{ site.title }} {% raw %}&quot;)`,
		`href="https://github.com/fredbook/udos-grid-extensions/releases/download/v1.2.3/lib-grid-extensions-v1.2.3.udos-package.asc"`,
	} {
		if !strings.Contains(string(lib), want) {
			t.Errorf("grid-extensions page lacks %q", want)
		}
	}
	pf, _ := os.ReadFile(filepath.Join(dst, "libraries", "lib-pathfinding", "index.html"))
	for _, want := range []string{
		`<li><a href="/registry/libraries/lib-grid-extensions/">Grid Extensions</a> requires <code>^1.0.0</code></li>`,
		`The package has no <code>docs/README.md</code>.`,
	} {
		if !strings.Contains(string(pf), want) {
			t.Errorf("pathfinding page lacks %q", want)
		}
	}
	// Every version of home-assistant is yanked: its page and its entry say so.
	ha0, _ := os.ReadFile(filepath.Join(dst, "libraries", "lib-home-assistant", "index.html"))
	if !strings.Contains(string(ha0), `<span class="version">0.3.0</span> <em class="yanked-badge" title="every version is yanked">(yanked)</em></h1>`) {
		t.Error("home-assistant page does not mark its current version yanked")
	}
	if !regexp.MustCompile(`lib-home-assistant/">Home Assistant Bridge</a>\s*<span class="version">0.3.0</span> <em class="yanked-badge">\(yanked\)</em>`).MatchString(page) {
		t.Error("index.html does not mark home-assistant yanked")
	}
	if strings.Contains(string(lib), `<span class="version">1.2.3</span> <em class="yanked-badge"`) {
		t.Error("grid-extensions is marked yanked (only 1.2.2 is)")
	}
	for page, want := range map[string]string{"lib-nethack": "3.4 MiB", "lib-home-assistant": "812 B"} {
		data, _ := os.ReadFile(filepath.Join(dst, "libraries", page, "index.html"))
		if !strings.Contains(string(data), `">`+want+`</span>`) {
			t.Errorf("%s page does not give its size as %q", page, want)
		}
	}
	for _, want := range []string{
		`<code class="fingerprint">E81975D7ADFA1F75566FB97F65D75F099ADB9F31</code>`,
		`curl -fsSL <span class="registry-url" data-base="/registry">/registry</span>/keys.asc -o ~/.config/udos-lib/trusted.asc`,
		`export UDOS_REGISTRY=<span class="registry-url" data-base="/registry">/registry</span>`,
		`<link rel="icon" type="image/svg+xml" href="/registry/assets/favicon.svg">`,
		`<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self';`,
		`<span class="downloads">1305 downloads</span>`,
		`<a href="/registry/keys.asc">keys</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// A relative catalog URL resolves against the catalog at the site root.
	ha, _ := os.ReadFile(filepath.Join(dst, "libraries", "lib-home-assistant", "index.html"))
	if !strings.Contains(string(ha), `href="/registry/packages/lib-home-assistant-v0.3.0.udos-package"`) {
		t.Error("home-assistant page: relative package URL not under the base URL")
	}
	for _, f := range []string{"catalog.json", "catalog.json.asc", "index/lib-nethack.json", "keys.asc", "assets/favicon.svg"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("built site lacks %s: %v", f, err)
		}
	}
	cat, _ := os.ReadFile(filepath.Join(dst, "catalog.json"))
	if string(cat) != string(readCatalog(t)) {
		t.Error("Jekyll changed catalog.json: its signature would no longer verify")
	}
}

// TestJekyllHostileReadme: a README full of raw HTML, script and dangerous
// links (testdata/readmes/lib-nethack.md) comes out of the real Jekyll
// build inert: no element or attribute of its own, only http(s), mailto and
// fragment links.
func TestJekyllHostileReadme(t *testing.T) {
	t.Parallel()
	dst, _ := buildSite(t)
	data, err := os.ReadFile(filepath.Join(dst, "libraries", "lib-nethack", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	start, end := strings.Index(page, `<section class="readme"`), strings.Index(page, "</section>")
	if start < 0 || end < start {
		t.Fatalf("no README section on the page:\n%s", page)
	}
	readme := page[start:end]
	for _, bad := range []string{"<script", "<iframe", "<style", "<img src=x", "onerror", "onmouseover", "<b ", "javascript:alert(2)\"", `href="javascript`, `href="data`, `href="vbscript`, `href="file`, `src="javascript`, `src="data`} {
		if strings.Contains(strings.ToLower(readme), bad) {
			t.Errorf("README section carries %q:\n%s", bad, readme)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the library page runs a script (it has none of its own)")
	}
	links := regexp.MustCompile(`(?i)(href|src)="([^"]*)"`).FindAllStringSubmatch(readme, -1)
	for _, l := range links {
		u := strings.ToLower(l[2])
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "mailto:") && !strings.HasPrefix(u, "#") {
			t.Errorf("README link %s=%q", l[1], l[2])
		}
	}
	// The text survives, the markup does not; Liquid in it is not run.
	for _, want := range []string{"md javascript", "bold", "{% include head.html %} {{ site.data.catalog.serial }}"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README section lost its text %q:\n%s", want, readme)
		}
	}
}

// TestChromiumSearchAndLibraryPage does what a person does in a real
// headless Chromium: open the catalog, search, filter by tag, open a library
// page and read its install command.
func TestChromiumSearchAndLibraryPage(t *testing.T) {
	t.Parallel()
	chromium := need(t, "chromium", "chromium-browser", "google-chrome")
	_, url := buildSite(t)

	ctx := newBrowser(t, chromium)
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

// newBrowser starts a headless Chromium with the flags TESTING.md gives
// (nothing reaches the closed network) and a 90-second budget.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
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
	t.Cleanup(cancelA)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(cancelC)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)
	return ctx
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

// TestChromiumReadmeAndSetup reads the home page's setup commands as a
// person would copy them (the registry URL filled in from where the site is
// served), fetches the key they name, and opens the library page with the
// hostile README: nothing of it runs in a real browser.
func TestChromiumReadmeAndSetup(t *testing.T) {
	t.Parallel()
	chromium := need(t, "chromium", "chromium-browser", "google-chrome")
	_, url := buildSite(t)
	ctx := newBrowser(t, chromium)
	var mu sync.Mutex
	var dialogs []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			mu.Lock()
			dialogs = append(dialogs, d.Message)
			mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("setup-commands"))); err != nil {
		t.Fatal(err)
	}
	setup, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("setup-commands")))
	if err != nil {
		t.Fatal(err)
	}
	registry := strings.TrimSuffix(url, "/")
	for _, want := range []string{
		"curl -fsSL " + registry + "/keys.asc -o ~/.config/udos-lib/trusted.asc",
		"export UDOS_REGISTRY=" + registry + "\n",
		"export UDOS_KEYRING=~/.config/udos-lib/trusted.asc",
	} {
		if !strings.Contains(setup, want) {
			t.Errorf("setup commands lack %q:\n%s", want, setup)
		}
	}
	key, _ := os.ReadFile(demoKey)
	for path, want := range map[string]string{"/keys.asc": string(key), "/assets/favicon.svg": "<svg"} {
		resp, err := http.Get(registry + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), want) {
			t.Errorf("GET %s: %d %.60q", path, resp.StatusCode, body)
		}
	}
	icon, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('link[rel="icon"]').href`))
	if err != nil || icon != registry+"/assets/favicon.svg" {
		t.Errorf("favicon link %q, %v", icon, err)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(url+"libraries/lib-nethack/"), chromedp.WaitVisible(chromedp.ID("readme"))); err != nil {
		t.Fatal(err)
	}
	type report struct {
		Title    string   `json:"title"`
		Elements int      `json:"elements"`
		Handlers int      `json:"handlers"`
		URLs     []string `json:"urls"`
		Text     string   `json:"text"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[report](`(() => {
		const r = document.getElementById("readme");
		const all = Array.from(r.querySelectorAll("*"));
		return {
			title: document.title,
			elements: r.querySelectorAll("script, iframe, style, object, embed, form, input:not([type=checkbox]), link, meta, base").length,
			handlers: all.filter(e => Array.from(e.attributes).some(a => a.name.startsWith("on"))).length,
			urls: Array.from(r.querySelectorAll("a[href], img[src]")).map(e => e.href || e.src),
			text: r.innerText,
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Title, "NetHack") || got.Elements != 0 || got.Handlers != 0 {
		t.Errorf("hostile README: title %q, %d active elements, %d event handlers", got.Title, got.Elements, got.Handlers)
	}
	for _, u := range got.URLs {
		if !strings.HasPrefix(u, "https:") && !strings.HasPrefix(u, "http:") && !strings.HasPrefix(u, "mailto:") {
			t.Errorf("hostile README links to %q", u)
		}
	}
	if !strings.Contains(got.Text, "md javascript") {
		t.Errorf("hostile README lost its text: %q", got.Text)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "hostile-readme.png", shot)
	mu.Lock()
	defer mu.Unlock()
	if len(dialogs) > 0 {
		t.Errorf("the README opened dialogs: %q", dialogs)
	}
}
