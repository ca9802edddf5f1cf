// Small enhancements shared by all pages; every page works without them.
(function () {
  "use strict";

  // Export selected practices: collect the ticked ids into the export links' ids= parameter.
  function selectedIds() {
    var boxes = document.querySelectorAll("input.pick:checked");
    return Array.prototype.map.call(boxes, function (b) { return b.value; });
  }
  function refreshExport() {
    var ids = selectedIds();
    var bar = document.querySelector("[data-export-selected]");
    if (!bar) return;
    bar.hidden = ids.length === 0;
    var count = bar.querySelector("[data-count]");
    if (count) count.textContent = ids.length;
    bar.querySelectorAll("a[data-format]").forEach(function (a) {
      a.href = "/api/export?format=" + a.dataset.format + "&ids=" + ids.join(",");
    });
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.id === "pick-all") {
      document.querySelectorAll("input.pick").forEach(function (b) { b.checked = t.checked; });
    }
    if (t && (t.classList.contains("pick") || t.id === "pick-all")) refreshExport();
  });
  refreshExport();

  // "相似做法" on a result: load the server-rendered fragment the first time the box is opened.
  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (!d || d.tagName !== "DETAILS" || !d.open || !d.dataset.fragment || d.dataset.loaded) return;
    d.dataset.loaded = "1";
    var box = d.querySelector(".similar-body");
    var xhr = new XMLHttpRequest();
    xhr.open("GET", d.dataset.fragment);
    xhr.onload = function () {
      box.innerHTML = xhr.status === 200 ? xhr.responseText : "<p class=\"muted\">暂时无法加载相似做法。</p>";
    };
    xhr.onerror = function () { box.textContent = "暂时无法加载相似做法。"; };
    xhr.send();
  }, true);

  // Confirm destructive actions (delete subscription, remove tag) named by data-confirm.
  document.addEventListener("submit", function (e) {
    var msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
})();
