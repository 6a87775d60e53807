// A form sent back with problems: the first field in error takes the focus, so that a keyboard
// or screen-reader user starts where the fix is (its error is tied to it by aria-describedby).
// Not when the address names a place on the page: that place wins.
(function () {
  if (location.hash) return;
  var first = document.querySelector("main [aria-invalid='true']");
  if (first && document.activeElement === document.body) first.focus();
})();

// A form marked data-keep-edits with edits not yet saved: leaving the page (a link, another
// form's button, closing the tab) asks first. Submitting that form carries the edits, so it
// does not ask.
(function () {
  var unsaved = false;
  document.querySelectorAll("form[data-keep-edits]").forEach(function (form) {
    form.addEventListener("input", function () { unsaved = true; });
    form.addEventListener("submit", function () { unsaved = false; });
  });
  window.addEventListener("beforeunload", function (event) {
    if (!unsaved) return;
    event.preventDefault();
    event.returnValue = "";  // older browsers want a value to show their own question
  });
})();
