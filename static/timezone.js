// Sign-up: the browser's time zone, so that a new account's times are the merchant's own from
// the first page (without JavaScript the account starts in UTC, changeable in Settings).
document.querySelectorAll("input[name=timezone]").forEach(function (input) {
  try {
    input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    input.value = "";
  }
});
