/* On a phone the sections' row scrolls sideways: scroll it, not the page, so that the
   section the reader is in shows rather than lying cut off past the right edge. */
(function () {
  "use strict";
  var nav = document.querySelector(".mainnav");
  var current = nav && nav.querySelector("[aria-current=page]");
  if (!current || nav.scrollWidth <= nav.clientWidth) {
    return;
  }
  var offset = current.getBoundingClientRect().left - nav.getBoundingClientRect().left;
  nav.scrollLeft += offset - (nav.clientWidth - current.offsetWidth) / 2;
})();
