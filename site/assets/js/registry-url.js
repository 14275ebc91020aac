// The registry's URL in the setup commands of the home page. Jekyll knows it
// when the site is built with a url (GitHub Pages sets one); otherwise the
// page knows where it was served from: the registry is the site root, where
// catalog.json is.
(function () {
  "use strict";
  var spans = document.querySelectorAll(".registry-url");
  for (var i = 0; i < spans.length; i++) {
    var s = spans[i];
    if (/^https?:\/\//.test(s.textContent)) { continue; }
    s.textContent = new URL(s.dataset.base.replace(/\/?$/, "/"), location.href).href.replace(/\/$/, "");
  }
})();
