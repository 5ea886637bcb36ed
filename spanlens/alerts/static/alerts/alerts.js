// The rule form shows only the fields the chosen kind uses, with its unit and wording.
// Without script every field shows, and the server ignores the ones a kind does not use.
(function () {
  function sync(form) {
    var select = form.querySelector("select[name=kind]");
    var option = select.options[select.selectedIndex];
    var uses = (option.getAttribute("data-uses") || "").split(" ");
    form.querySelectorAll("[data-uses]").forEach(function (el) {
      if (el.tagName === "OPTION") return;
      var wanted = el.getAttribute("data-uses").split(" ");
      el.hidden = !wanted.some(function (w) { return uses.indexOf(w) !== -1; });
    });
    var unit = form.querySelector("[data-threshold-unit]");
    if (unit) unit.textContent = option.getAttribute("data-unit") || "";
    var comparison = form.querySelector("[data-threshold-label]");
    if (comparison) comparison.textContent = option.getAttribute("data-comparison") === "below" ? "Fires below" : "Fires above";
    var windowLabel = form.querySelector("[data-window-label]");
    if (windowLabel) windowLabel.textContent = option.getAttribute("data-window-label") || "Window";
    var help = form.querySelector("[data-kind-help]");
    if (help) help.textContent = option.getAttribute("data-description") || "";
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-rule-form] select[name=kind]")) sync(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-rule-form]").forEach(sync);
  });
})();
