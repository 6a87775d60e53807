// The main menu on a phone, where it is one row that scrolls sideways: the current page's
// link is brought into view, and the row says on which side more links hide (data-more, which
// the stylesheet fades). Without this script the row still scrolls and fades on its right.
(function () {
  var nav = document.querySelector("nav.main-menu");
  if (!nav) return;

  function mark() {
    var room = nav.scrollWidth - nav.clientWidth;
    var left = nav.scrollLeft > 1, right = nav.scrollLeft < room - 1;
    nav.dataset.more = left && right ? "both" : left ? "left" : right ? "right" : "none";
  }

  // The row alone scrolls, never the page (scrollIntoView would also move the page, away
  // from a #fragment the address asked for): the link is put in the middle, clear of the fades.
  function centre(link) {
    if (nav.scrollWidth <= nav.clientWidth) return;
    var offset = link.getBoundingClientRect().left - nav.getBoundingClientRect().left;
    nav.scrollLeft += offset - (nav.clientWidth - link.offsetWidth) / 2;
  }

  var current = nav.querySelector("a[aria-current]");
  if (current) centre(current);
  mark();
  nav.addEventListener("scroll", mark, { passive: true });
  // A link reached with the keyboard comes into view whole, its focus ring not under a fade.
  nav.addEventListener("focusin", function (event) {
    if (event.target.tagName === "A") centre(event.target);
  });
  window.addEventListener("resize", mark);
})();
