// Sorting of every table of a page (progressive enhancement: without JavaScript the table is as served).
// A header becomes a button; a click sorts the rows by that column, a second click reverses. Cells are read
// the French way: "12 345", "61,2 %", "34,7 pour 100", "−3", "31/12/2025", "janv. 2025"; a cell may give its
// own key in data-sort. Empty, masked ("s") and "n.s." cells go last; rows marked class="total" stay last. A table
// sorted by the server (links in its headers) or holding a form, or marked data-sortable="non", is left alone.
(function () {
  var MONTHS = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];
  var MISSING = ["", "s", "n.s.", "—", "-", "< 10", "secret"];

  function key(cell) {
    if (!cell) return null;
    var text = (cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent).trim();
    if (MISSING.indexOf(text) >= 0) return null;
    var date = /^(\d{2})\/(\d{2})\/(\d{4})/.exec(text);
    if (date) return Number(date[3] + date[2] + date[1]);
    var month = /^(\S+) (\d{4})$/.exec(text);
    if (month && MONTHS.indexOf(month[1]) >= 0) return Number(month[2]) * 100 + MONTHS.indexOf(month[1]) + 1;
    var plain = text.replace(/[\s\u202f\u00a0]/g, "").replace("\u2212", "-").replace(/(%|pour100|pt)$/, "");
    if (/^\[/.test(plain)) plain = plain.slice(1).split(";")[0].replace(/(%|pour100)$/, "");
    if (/^[+-]?\d+(,\d+)?$/.test(plain)) return Number(plain.replace(",", "."));
    return text.toLocaleLowerCase("fr");
  }

  function compare(a, b) {
    if (a === null && b === null) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), "fr", {numeric: true});
  }

  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var fixed = rows.filter(function (r) { return r.classList.contains("total"); });
    var moving = rows.filter(function (r) { return !r.classList.contains("total"); });
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    moving.sort(function (r1, r2) {
      var a = key(r1.cells[index]), b = key(r2.cells[index]);
      if (a === null || b === null) return compare(a, b);  // missing values last either way
      return ascending ? compare(a, b) : compare(b, a);
    });
    table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    moving.concat(fixed).forEach(function (r) { body.appendChild(r); });
  }

  function enhance(root) {
    root.querySelectorAll("table").forEach(function (table) {
      if (table.dataset.sortable === "non" || table.dataset.sortReady || !table.tHead || !table.tBodies.length) return;
      if (table.tBodies[0].rows.length < 2) return;
      // A table the server sorts itself (links in its headers: a paged list) or a form (fields in its rows) is left as is.
      if (table.tHead.querySelector("a, button, input, select") || table.tBodies[0].querySelector("input, select, textarea")) return;
      var headers = table.tHead.rows[0].cells;
      Array.prototype.forEach.call(headers, function (th, index) {
        if (th.colSpan > 1) return;
        var button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        while (th.firstChild) button.appendChild(th.firstChild);
        button.setAttribute("title", "Trier par cette colonne");
        th.appendChild(button);
        button.addEventListener("click", function () { sortBy(table, index, th); });
      });
      table.dataset.sortReady = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSwap", function (event) { enhance(event.target); });
})();
