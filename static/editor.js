// The email editor's small helpers; the page works without them.
// - A placeholder picked from a field's menu is inserted at that field's cursor (at its end
//   when the cursor was never put in it, as after Tab alone, or when all its text is selected,
//   as Tab leaves a one-line box).
// - The colour picker and the brand colour's text box stay in step.
// - htmx shows the answers that refuse a test email (400, 429, 503): they carry words to read.
// - A field edited after a refused save loses that save's mark (the preview says what is wrong).
(function () {
  "use strict";
  var HEX = /^#[0-9a-fA-F]{6}$/;
  document.documentElement.classList.add("js");  // hints that only hold with this script
  var SHOWN_ERRORS = [400, 429, 503];

  function changed(field) {
    // htmx refreshes the preview on the form's "input" events.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Fields whose cursor the person put somewhere: clicked or tapped, typed in, or moved with
  // the keys. Reached by Tab alone, a text box has its cursor at the very start, where a
  // placeholder is seldom meant to go; it then goes at the end, after a space.
  var visited = new WeakSet();
  function placed(event) {
    if (event.target.matches && event.target.matches("input, textarea")) {
      visited.add(event.target);
    }
  }
  document.addEventListener("pointerup", placed);
  document.addEventListener("input", placed);
  document.addEventListener("keyup", function (event) {
    if (event.key !== "Tab" && event.key !== "Shift") placed(event);
  });

  // The whole value selected is what Tab into a field does: a placeholder chosen then goes at
  // the end, never in place of everything typed (to replace it, delete it first).
  function wholeSelected(field) {
    return field.value !== "" && field.selectionStart === 0 &&
      field.selectionEnd === field.value.length;
  }

  function insert(field, text) {
    var start = field.value.length, end = start;
    if (visited.has(field) && field.selectionStart != null && !wholeSelected(field)) {
      start = field.selectionStart;
      end = field.selectionEnd == null ? start : field.selectionEnd;
    } else if (start && !/\s$/.test(field.value)) {
      text = " " + text;
    }
    field.setRangeText(text, start, end, "end");
    field.focus();
    changed(field);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-insert]");
    var field = button && document.getElementById(button.dataset.field);
    if (!field) return;
    insert(field, button.dataset.insert);
    var menu = button.closest("details");
    if (menu) menu.open = false;
  });

  function pairColour(picker) {
    var text = document.getElementById(picker.dataset.colorFor);
    if (!text) return;
    if (HEX.test(text.value)) picker.value = text.value.toLowerCase();
    picker.hidden = false;
    picker.addEventListener("input", function () {
      text.value = picker.value;
      changed(text);
    });
    text.addEventListener("input", function () {
      if (HEX.test(text.value)) picker.value = text.value.toLowerCase();
    });
  }

  document.querySelectorAll("input[data-color-for]").forEach(pairColour);

  // A refused save marks its fields; once one is edited its mark no longer describes it (the
  // preview lists what is wrong now), and with no mark left the "Nothing was saved" notice goes.
  document.addEventListener("input", function (event) {
    var box = event.target.closest && event.target.closest(".editor .field.has-error");
    if (!box) return;
    box.classList.remove("has-error");
    event.target.removeAttribute("aria-invalid");
    var errors = box.querySelector(".errors");
    if (errors) errors.remove();
    if (!document.querySelector(".editor .field.has-error")) {
      var notice = document.getElementById("save-failed");
      if (notice) notice.remove();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (SHOWN_ERRORS.indexOf(detail.xhr.status) >= 0 && detail.target.closest(".editor")) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });
})();
