// Client-side search and tag filter for the library list. The list itself is
// plain HTML rendered by Jekyll; this script only hides entries that do not
// match, so the page works (unfiltered) without JavaScript.
(function () {
  "use strict";
  var form = document.getElementById("catalog-search");
  var list = document.getElementById("library-list");
  if (!form || !list) { return; }
  var input = document.getElementById("q");
  var count = document.getElementById("result-count");
  var none = document.getElementById("no-results");
  var items = Array.prototype.slice.call(list.querySelectorAll("li.library"));
  var buttons = Array.prototype.slice.call(form.querySelectorAll("button.tag-filter"));
  var active = {};

  function selectedTags() {
    return Object.keys(active).filter(function (t) { return active[t]; });
  }

  // Every word of the query must occur somewhere in the entry, and the entry
  // must carry every selected tag.
  function apply() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var tags = selectedTags();
    var shown = 0;
    items.forEach(function (li) {
      var text = li.getAttribute("data-search") || "";
      var have = (li.getAttribute("data-tags") || "").split(" ");
      var ok = words.every(function (w) { return text.indexOf(w) !== -1; }) &&
        tags.every(function (t) { return have.indexOf(t) !== -1; });
      li.hidden = !ok;
      if (ok) { shown++; }
    });
    count.textContent = shown + " of " + items.length + " libraries";
    none.hidden = shown !== 0;
    var params = new URLSearchParams();
    if (input.value) { params.set("q", input.value); }
    tags.forEach(function (t) { params.append("tag", t); });
    var qs = params.toString();
    history.replaceState(null, "", qs ? "?" + qs : location.pathname);
  }

  function setTag(tag, on) {
    active[tag] = on;
    buttons.forEach(function (b) {
      if (b.getAttribute("data-tag") === tag) { b.setAttribute("aria-pressed", on ? "true" : "false"); }
    });
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      var tag = b.getAttribute("data-tag");
      setTag(tag, !active[tag]);
      apply();
    });
  });
  input.addEventListener("input", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });

  // Links such as "?tag=grid" (from a library page) and "?q=word" preselect.
  var start = new URLSearchParams(location.search);
  input.value = start.get("q") || "";
  start.getAll("tag").forEach(function (t) { setTag(t, true); });
  form.hidden = false;
  apply();
}());
