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

  var current = nav.querySelector("a[aria-current]");
  if (current && nav.scrollWidth > nav.clientWidth) {
    // The row alone scrolls, never the page (scrollIntoView would also move the page, away
    // from a #fragment the address asked for).
    var offset = current.getBoundingClientRect().left - nav.getBoundingClientRect().left;
    nav.scrollLeft += offset - (nav.clientWidth - current.offsetWidth) / 2;
  }
  mark();
  nav.addEventListener("scroll", mark, { passive: true });
  window.addEventListener("resize", mark);
})();
