// Prompt pages: the editor's live variable highlighting and detection, the
// text/chat switch, and confirmations before label moves and other changes.
(function () {
  var VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}/g;

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function refresh(editor) {
    var chat = editor.querySelector("input[data-kind][value=chat]").checked;
    editor.querySelectorAll("[data-kind-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-kind-panel") !== (chat ? "chat" : "text");
    });
    var parts = [];
    if (chat) {
      editor.querySelectorAll(".msg-slot").forEach(function (slot) {
        var text = slot.querySelector("textarea").value;
        if (text.trim()) parts.push("[" + slot.querySelector("select").value + "]\n" + text);
      });
    } else {
      parts.push(editor.querySelector("textarea[name=template]").value);
    }
    var text = parts.join("\n");
    var names = [];
    var html = escapeHtml(text).replace(VARIABLE, function (whole, name) {
      if (names.indexOf(name) < 0) names.push(name);
      return '<mark class="var">' + whole + "</mark>";
    });
    editor.querySelector("[data-var-preview]").innerHTML = html;
    var body = editor.querySelector("[data-var-table] tbody");
    body.querySelectorAll("tr[data-var-row]").forEach(function (row) {
      row.hidden = names.indexOf(row.getAttribute("data-var-row")) < 0;
      row.querySelectorAll("input").forEach(function (input) { input.disabled = row.hidden; });
    });
    names.forEach(function (name) {
      if (body.querySelector('tr[data-var-row="' + CSS.escape(name) + '"]')) return;
      var row = document.createElement("tr");
      row.setAttribute("data-var-row", name);
      row.innerHTML = '<td class="mono"><mark class="var"></mark></td>' +
        '<td><input type="text" placeholder="What goes here"></td><td><input type="checkbox" checked></td>';
      row.querySelector("mark").textContent = name;
      row.querySelector("input[type=text]").name = "vardesc_" + name;
      row.querySelector("input[type=checkbox]").name = "varreq_" + name;
      body.appendChild(row);
    });
    editor.querySelector("[data-var-empty]").hidden = names.length > 0;
  }

  function init() {
    document.querySelectorAll("[data-editor]").forEach(function (editor) {
      editor.addEventListener("input", function () { refresh(editor); });
      editor.addEventListener("change", function () { refresh(editor); });
      refresh(editor);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    if (form.hasAttribute("data-confirm-label")) {
      var to = form.querySelector("select[name=version]").value;
      var from = form.getAttribute("data-confirm-from");
      if (to === from) { event.preventDefault(); return; }
      message = "Move " + form.getAttribute("data-confirm-label") + " from v" + from + " to v" + to +
        "? Apps fetching it get v" + to + " within a minute.";
    }
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
    if (event.target.matches("[data-pg-version]")) {
      // Another version has other variables: reload the tab for it.
      window.location = "?tab=playground&version=" + encodeURIComponent(event.target.value);
    }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
