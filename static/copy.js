// Copy buttons for texts to paste elsewhere (the sending domain's DNS records).
// A button `data-copy="ID"` copies the text of the element with that id. The buttons come
// hidden and are shown only where the browser lets a page write to the clipboard; without
// them the text stays selectable (one click selects it all, see .dns-value in portal.css).
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) return;
  var SHOWN_FOR_MS = 2500;

  function tell(button, words) {
    // The status beside the button says it, for eyes and for screen readers (role="status").
    var status = button.parentNode.querySelector(".copy-status");
    if (!status) return;
    status.textContent = words;
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(function () { status.textContent = ""; }, SHOWN_FOR_MS);
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    var source = button && document.getElementById(button.dataset.copy);
    if (!source) return;
    navigator.clipboard.writeText(source.textContent).then(
      function () { tell(button, "Copied"); },
      function () {
        selectText(source);  // the browser refused: the text is selected for Ctrl+C instead
        tell(button, "Selected: press Ctrl+C (⌘C on a Mac) to copy");
      }
    );
  });

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
  });
})();
