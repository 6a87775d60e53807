// A frame marked data-fit grows to its document's height once loaded (and again when the
// window's width changes): the whole email shows, with no scrollbar inside the page. Frames
// that htmx swaps in later are fitted too (their load events reach the document's capture
// listener). The height is also set as --frame-h, which the editor's scaled frames use to give
// back the room their scaling frees. Without this script a frame keeps the stylesheet's height
// and scrolls inside itself.
(function () {
  "use strict";
  var FRAMES = "iframe[data-fit]";
  function fit(frame) {
    var doc = frame.contentDocument;
    if (!doc || !doc.documentElement) return;
    frame.style.height = "0";  // measure the content, not the frame it was last given
    var height = doc.documentElement.scrollHeight + 2 + "px";
    frame.style.setProperty("--frame-h", height);
    frame.style.height = height;
  }
  function fitAll() { document.querySelectorAll(FRAMES).forEach(fit); }
  document.addEventListener("load", function (event) {
    if (event.target.matches && event.target.matches(FRAMES)) fit(event.target);
  }, true);
  document.querySelectorAll(FRAMES).forEach(function (frame) {
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fit(frame);
  });
  window.addEventListener("resize", fitAll);
})();
