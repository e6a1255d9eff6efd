// A refund form sends once: the button is disabled on submit (its idempotency key makes a
// second send harmless anyway).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.once === undefined) return;
  var button = form.querySelector("button[type=submit]");
  if (button) {
    button.disabled = true;
    button.textContent = "Working…";
  }
});
