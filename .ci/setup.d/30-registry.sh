# Registry site: the real Jekyll (as GitHub Pages builds the site) and a
# headless Chromium for the site tests (driven through chromedp); act runs the
# registry and publish-library workflows against the GitHub replica.
apt-get install -y -qq jekyll chromium >/dev/null
if ! command -v act >/dev/null 2>&1; then
  go install github.com/nektos/act@v0.2.89
fi
