// A form sent back with problems: the first field in error takes the focus, so that a keyboard
// or screen-reader user starts where the fix is (its error is tied to it by aria-describedby).
// Not when the address names a place on the page: that place wins.
(function () {
  if (location.hash) return;
  var first = document.querySelector("main [aria-invalid='true']");
  if (first && document.activeElement === document.body) first.focus();
})();
