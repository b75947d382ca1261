// A visible sign of life while the server computes (issue 21): a page whose figures are not computed yet
// (another period, another date, a simulation) takes seconds, and without this the browser shows nothing.
// After a short delay, a status banner says that the page is being computed; it goes when the page (or the
// htmx fragment) arrives. No inline script (the CSP forbids them).
(function () {
  var DELAY_MS = 400;
  var timer = null;

  function banner() { return document.getElementById("chargement"); }

  function show() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var el = banner();
      if (el) el.hidden = false;
    }, DELAY_MS);
  }

  function hide() {
    clearTimeout(timer);
    var el = banner();
    if (el) el.hidden = true;
  }

  function leavesForThisSite(link, event) {
    if (event.defaultPrevented || event.button !== 0) return false;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
    if (link.target && link.target !== "_self") return false;
    if (link.hasAttribute("download") || link.hasAttribute("hx-get") || link.hasAttribute("hx-post")) return false;
    var href = link.getAttribute("href") || "";
    if (!href || href.charAt(0) === "#" || link.origin !== window.location.origin) return false;
    return !/\.(csv|xlsx|pdf|png|zip)(\?|$)/i.test(link.pathname);  // a download leaves the page as it is
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (link && leavesForThisSite(link, event)) show();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("hx-get") || form.hasAttribute("hx-post")) return;
    if (form.hasAttribute("data-telechargement")) return;
    show();
  });
  document.addEventListener("htmx:beforeRequest", show);
  document.addEventListener("htmx:afterRequest", hide);
  window.addEventListener("pageshow", hide);  // back to a page kept by the browser: nothing is loading
})();
