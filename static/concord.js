// Progressive enhancement only: every page works without this file.
// Copy buttons: shown only where the clipboard API exists.
document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
  if (!navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    });
  });
});

// Deal registration: warn while typing when the customer may already be registered (by another partner or as a
// direct account). The server checks again on submit; this only saves a round trip.
(function () {
  var form = document.getElementById("deal-form");
  if (!form || !window.fetch || !window.URLSearchParams) return;
  var warning = document.getElementById("conflict-warning");
  var justification = document.getElementById("justification-field");
  var fields = form.elements;
  var timer;
  function check() {
    var params = new URLSearchParams({
      customer_name: fields["customer_name"].value,
      website: fields["website"].value,
      contact_email: fields["contact_email"].value
    });
    fetch("/portal/deals/check?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        warning.hidden = !answer.possible_conflict;
        if (answer.possible_conflict) {
          justification.hidden = false;
          // The partner has seen the warning, so one submit registers.
          if (!fields["acknowledged"]) {
            var seen = document.createElement("input");
            seen.type = "hidden";
            seen.name = "acknowledged";
            seen.value = "1";
            form.appendChild(seen);
          }
        }
      })
      .catch(function () {});
  }
  ["customer_name", "website", "contact_email"].forEach(function (name) {
    fields[name].addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 400);
    });
  });
})();
