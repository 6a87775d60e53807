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

// The same forms keep what was sent in this tab until a page shows it saved: a save that ends
// on the login page (the session had ended) or on an error page loses nothing. Back on the
// form, if what it shows differs from what was sent, a notice offers to put the edits back.
// Passwords, files and hidden fields (a page's own stamps and tokens) are never kept. They are
// kept per user (the attribute's value) and forgotten at "Log out" or when another user signs
// in in that tab: on a shared computer, the next person is neither offered nor left them.
(function () {
  function forget(unless) {  // every user's kept edits but those of `unless`
    try {
      Object.keys(sessionStorage).forEach(function (key) {
        var theirs = unless && key.indexOf("portal:sent:" + unless + ":") === 0;
        if (key.indexOf("portal:sent:") === 0 && !theirs) sessionStorage.removeItem(key);
      });
    } catch (e) { /* storage unavailable: nothing kept */ }
  }
  document.querySelectorAll("form[data-forget-edits]").forEach(function (form) {
    form.addEventListener("submit", function () { forget(null); });
  });
  var user = document.body.getAttribute("data-user");
  if (user) forget(user);  // signed in: another user's edits are not kept in this tab
  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && !/^(hidden|password|file|submit|button|reset)$/.test(el.type);
    });
  }
  function read(form) {
    return fields(form).map(function (el) {
      return /^(checkbox|radio)$/.test(el.type) ? el.checked : el.value;
    });
  }
  function same(a, b) {  // as the server keeps them: spaces around a value go
    var plain = function (v) { return typeof v === "string" ? v.replace(/\r\n/g, "\n").trim() : v; };
    return JSON.stringify(a.map(plain)) === JSON.stringify(b.map(plain));
  }
  function write(form, values) {
    fields(form).forEach(function (el, i) {
      if (/^(checkbox|radio)$/.test(el.type)) el.checked = values[i]; else el.value = values[i];
      el.dispatchEvent(new Event("input", { bubbles: true }));  // previews follow, and leaving asks
    });
  }
  document.querySelectorAll("form[data-keep-edits]").forEach(function (form) {
    var key = "portal:sent:" + form.getAttribute("data-keep-edits") + ":" + form.getAttribute("action");
    form.addEventListener("submit", function () {
      try { sessionStorage.setItem(key, JSON.stringify(read(form))); } catch (e) { /* full */ }
    });
    var sent = null;
    try { sent = JSON.parse(sessionStorage.getItem(key)); } catch (e) { /* none */ }
    if (!sent || sent.length !== fields(form).length || document.querySelector(".flash-success")
        || same(sent, read(form))) {
      sessionStorage.removeItem(key);  // saved, or shown as sent (refused, with its values)
      return;
    }
    var notice = document.createElement("div");
    notice.className = "notice notice-warn kept-edits";
    notice.setAttribute("role", "status");
    notice.innerHTML = "<p>The changes you last sent from this page were not saved.</p>"
      + "<p><button type='button' class='primary'>Put them back</button> "
      + "<button type='button' class='secondary'>Discard them</button></p>";
    var buttons = notice.querySelectorAll("button");
    buttons[0].addEventListener("click", function () {
      write(form, sent);
      sessionStorage.removeItem(key);
      notice.remove();
    });
    buttons[1].addEventListener("click", function () {
      sessionStorage.removeItem(key);
      notice.remove();
    });
    form.insertBefore(notice, form.firstChild);  // inside: beside it, a grid would place it last
  });
})();
