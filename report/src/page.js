(function () {
  "use strict";
  var box = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.pkg"));
  var tables = Array.prototype.slice.call(document.querySelectorAll("table.packages"));
  if (!box) { return; }
  document.getElementById("filter-bar").hidden = false;
  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    rows.forEach(function (row) {
      var haystack = row.getAttribute("data-search") || "";
      var hit = words.every(function (w) { return haystack.indexOf(w) !== -1; });
      row.hidden = !hit;
      if (hit) { count += 1; }
    });
    tables.forEach(function (table) {
      var visible = table.querySelectorAll("tr.pkg:not([hidden])").length;
      var label = document.getElementById(table.getAttribute("data-count-id"));
      if (label) { label.textContent = String(visible); }
    });
    shown.textContent = String(count);
  }
  // `report.html#filter=WORDS` opens with the filter set, so a filtered view can be linked.
  var linked = /^#filter=(.*)$/.exec(window.location.hash);
  if (linked) {
    try { box.value = decodeURIComponent(linked[1]); } catch (e) { box.value = ""; }
  }
  box.addEventListener("input", apply);
  apply();
}());
