// Small page behaviours the server cannot render: copy buttons, drawer tabs,
// closing the drawer/modal, and marking the row whose drawer is open.
(function () {
  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      event.preventDefault();
      event.stopPropagation();
      var source = copy.getAttribute("data-copy-from");
      var text = source ? document.getElementById(source).textContent : copy.getAttribute("data-copy");
      var done = function () {
        copy.classList.add("copied");
        var label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = label; copy.classList.remove("copied"); }, 1200);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, done);
      } else {
        var area = document.createElement("textarea");
        area.value = text; document.body.appendChild(area); area.select();
        try { document.execCommand("copy"); } catch (e) {}
        area.remove(); done();
      }
      return;
    }
    var tab = event.target.closest("[data-tab]");
    if (tab) {
      var box = tab.closest("[data-tabs]");
      box.querySelectorAll("[data-tab]").forEach(function (b) { b.classList.toggle("active", b === tab); });
      box.querySelectorAll("[data-panel]").forEach(function (p) {
        p.hidden = p.getAttribute("data-panel") !== tab.getAttribute("data-tab");
      });
      return;
    }
    if (event.target.closest("[data-close-drawer]")) { closeDrawer(); return; }
    if (event.target.closest("[data-close-modal]")) { document.getElementById("modal-root").innerHTML = ""; }
  });

  function closeDrawer() {
    var root = document.getElementById("drawer-root");
    if (root) root.innerHTML = "";
    document.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var modal = document.getElementById("modal-root");
    if (modal && modal.innerHTML.trim()) { modal.innerHTML = ""; return; }
    closeDrawer();
  });

  // Keep the open row highlighted, also after the table refreshes.
  function markSelected() {
    var drawer = document.querySelector(".drawer[data-request-id]");
    var id = drawer && drawer.getAttribute("data-request-id");
    document.querySelectorAll("tr[data-request-id]").forEach(function (r) {
      r.classList.toggle("selected", r.getAttribute("data-request-id") === id);
    });
  }
  document.addEventListener("htmx:afterSettle", markSelected);
})();
