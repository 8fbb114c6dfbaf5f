// Draw every plotly figure of an analysis page from its JSON block (CSP: no inline script).
(function () {
  "use strict";
  function draw() {
    if (typeof window.Plotly === "undefined") { return; }
    document.querySelectorAll("[data-figure]").forEach(function (target) {
      var source = document.getElementById(target.getAttribute("data-figure"));
      if (!source || target.getAttribute("data-drawn")) { return; }
      var spec = JSON.parse(source.textContent);
      window.Plotly.newPlot(target, spec.data || [], spec.layout || {}, { responsive: true, displaylogo: false });
      target.setAttribute("data-drawn", "1");
    });
  }
  // A figure that arrives later (the planner's simulation check, swapped in by htmx).
  document.addEventListener("htmx:afterSettle", draw);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
