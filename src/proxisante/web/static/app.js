// Draws every Plotly figure of the page from its JSON (no inline script: the CSP forbids them),
// again after an htmx swap, and keeps the French separators of the layout.
(function () {
  function draw(root) {
    if (typeof Plotly === "undefined") return;
    root.querySelectorAll("figure.chart[data-figure-id]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var source = document.getElementById(el.dataset.figureId);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      el.dataset.drawn = "1";
      Plotly.newPlot(el, fig.data, fig.layout, {displaylogo: false, responsive: true, locale: "fr"});
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
