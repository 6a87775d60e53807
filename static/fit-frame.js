// A frame marked data-fit grows to its document's height once loaded (and when the window's
// width changes it): the whole email shows, with no scrollbar inside the page. Without this
// script the frame keeps the stylesheet's height and scrolls inside itself.
(function () {
  "use strict";
  function fit(frame) {
    var doc = frame.contentDocument;
    if (!doc || !doc.documentElement) return;
    frame.style.height = "0";  // measure the content, not the frame it was last given
    frame.style.height = doc.documentElement.scrollHeight + 2 + "px";
  }
  document.querySelectorAll("iframe[data-fit]").forEach(function (frame) {
    frame.addEventListener("load", function () { fit(frame); });
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fit(frame);
    window.addEventListener("resize", function () { fit(frame); });
  });
})();
