// Insyn: keeps the verification status page up to date without reloading it. The page works
// without this script (it has an "Update" link); this only saves the clicks. The text is
// announced through the page's status region only when it changes by a tenth or more, so a
// screen reader is not interrupted every two seconds.
(function () {
  "use strict";
  var section = document.getElementById("verification-running");
  if (!section || !window.fetch) {
    return;
  }
  var url = section.getAttribute("data-status-url");
  var run = section.getAttribute("data-run");
  var bar = document.getElementById("verification-progress");
  var text = document.getElementById("verification-progress-text");
  var lastDecile = -1;

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (s) {
        if (!s || String(s.run) !== run) {
          window.location.reload();
          return;
        }
        if (!s.running) {
          // Finished: the page itself shows the result.
          window.location.reload();
          return;
        }
        if (s.total !== null && bar) {
          bar.max = Math.max(s.total, 1);
          bar.value = s.checked;
          bar.textContent = s.percent + " %";
        }
        var decile = Math.floor(s.percent / 10);
        if (text && decile !== lastDecile) {
          lastDecile = decile;
          text.textContent = s.text;
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 1000);
})();
