// Small page behaviours the server cannot render: copy buttons, drawer tabs,
// closing the drawer/modal, marking the row whose drawer is open, confirmations,
// selects that submit their form, and table rows that act as links.
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
    if (event.target.matches(".modal-backdrop") || event.target.closest("button[data-close-modal]")) {
      document.getElementById("modal-root").innerHTML = "";
      return;
    }
    var exportLink = event.target.closest("[data-export]");
    if (exportLink) {
      // The filters may have changed in place since the page loaded; export what is on screen.
      exportLink.href = "/requests/export." + exportLink.getAttribute("data-export") + window.location.search;
      return;
    }
    var linkRow = event.target.closest("tr[data-row-link]");
    if (linkRow && !event.target.closest("a, button")) {
      var target = linkRow.querySelector("a");
      if (target) window.location = target.href;
      return;
    }
    var row = event.target.closest("tr[data-request-id]");
    if (row && !event.target.closest("a, button")) {
      var link = row.querySelector("a.row-link");
      if (link) link.click();
      return;
    }
    var run = event.target.closest("[data-replay-run]");
    if (run) { replay(run, "run"); return; }
    var curl = event.target.closest("[data-replay-curl]");
    if (curl) { replay(curl, "curl"); }
  });

  // Behaviours that were inline handlers: the Content-Security-Policy allows no inline script.
  document.addEventListener("submit", function (event) {
    // A button may ask on its own (a delete button inside an edit form).
    var asker = event.submitter && event.submitter.hasAttribute("data-confirm") ? event.submitter : event.target;
    var message = asker.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) { event.target.form.submit(); return; }
    if (event.target.matches("[data-replay-model]")) {
      var modal = event.target.closest("[data-replay-modal]");
      modal.querySelector("[data-replay-result]").innerHTML = "";
      var snippet = modal.querySelector("[data-replay-snippet]");
      snippet.hidden = true; snippet.textContent = "";
    }
  });

  // The replay model list: typing narrows it; the first match is chosen so Run uses what is shown.
  document.addEventListener("input", function (event) {
    if (!event.target.matches("[data-replay-search]")) return;
    var words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    var select = event.target.closest("[data-replay-modal]").querySelector("[data-replay-model]");
    var firstShown = null;
    select.querySelectorAll("optgroup").forEach(function (group) {
      var any = false;
      group.querySelectorAll("option").forEach(function (option) {
        var name = option.value.toLowerCase();
        var match = words.every(function (w) { return name.indexOf(w) !== -1; });
        option.hidden = !match; option.disabled = !match;
        if (match) { any = true; if (!firstShown) firstShown = option; }
      });
      group.hidden = !any;
    });
    if (firstShown && select.selectedOptions[0] && select.selectedOptions[0].hidden) {
      select.value = firstShown.value;
      select.dispatchEvent(new Event("change", {bubbles: true}));
    }
  });

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function escapeHtml(text) {
    var div = document.createElement("div"); div.textContent = text == null ? "" : String(text); return div.innerHTML;
  }

  function replay(button, kind) {
    var modal = button.closest("[data-replay-modal]");
    var model = modal.querySelector("[data-replay-model]").value;
    var url = modal.getAttribute(kind === "run" ? "data-run-url" : "data-snippet-url");
    var spinner = modal.querySelector("[data-replay-spinner]");
    var result = modal.querySelector("[data-replay-result]");
    spinner.style.display = "inline-block";
    button.disabled = true;
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify({model: model})
    }).then(function (r) { return r.json(); }).then(function (payload) {
      if (!payload.success) {
        result.innerHTML = '<div class="result-card"><div class="form-error" style="margin:0">' + escapeHtml(payload.error) + "</div></div>";
        return;
      }
      var d = payload.data;
      if (kind === "curl") {
        var snippet = modal.querySelector("[data-replay-snippet]");
        snippet.textContent = d.curl; snippet.hidden = false;
        if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(d.curl);
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy curl"; }, 1200);
        return;
      }
      var shown = d.display || {};
      result.innerHTML = '<div class="result-card" data-replay-card>' +
        '<div class="metrics" style="margin-bottom:10px">' +
        '<div><div class="ml">Latency</div><div class="mv">' + escapeHtml(shown.latency) + '</div></div>' +
        '<div><div class="ml">Tokens</div><div class="mv">' + escapeHtml(shown.tokens) + '</div><div class="faint" style="font-size:11px">' +
        escapeHtml(shown.prompt_tokens) + ' in · ' + escapeHtml(shown.completion_tokens) + ' out</div></div>' +
        '<div><div class="ml">Cost</div><div class="mv">' + escapeHtml(shown.cost) + '</div></div></div>' +
        '<div class="msg msg-assistant"><div class="msg-role">' + escapeHtml(d.model) + ' · ' + escapeHtml(d.status_code) + '</div>' +
        '<div class="msg-text">' + escapeHtml(d.output) + '</div></div>' +
        '<a href="/requests/' + escapeHtml(d.request_id) + '/">Open the logged replay →</a></div>';
    }).catch(function (err) {
      result.innerHTML = '<div class="result-card"><div class="form-error" style="margin:0">' + escapeHtml(err) + "</div></div>";
    }).finally(function () { spinner.style.display = ""; button.disabled = false; });
  }

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

  // Chart columns: a tooltip with the whole breakdown of the column under the pointer.
  // Without JavaScript the column's <title> shows the same text.
  function chartTip() { return document.getElementById("chart-tip"); }
  document.addEventListener("mouseover", function (event) {
    var col = event.target.closest && event.target.closest("[data-tip]");
    var tip = chartTip();
    if (!col || !tip) return;
    var title = col.querySelector("title");
    if (title) title.remove();
    var lines = col.getAttribute("data-tip").split("\n");
    tip.innerHTML = "<b>" + escapeHtml(lines[0]) + "</b>" + lines.slice(1).map(escapeHtml).join("\n");
    tip.hidden = false;
  });
  document.addEventListener("mousemove", function (event) {
    var tip = chartTip();
    if (!tip || tip.hidden) return;
    var x = event.clientX + 14, y = event.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth - 8) x = event.clientX - tip.offsetWidth - 14;
    if (y + tip.offsetHeight > window.innerHeight - 8) y = event.clientY - tip.offsetHeight - 14;
    tip.style.left = x + "px"; tip.style.top = y + "px";
  });
  document.addEventListener("mouseout", function (event) {
    var col = event.target.closest && event.target.closest("[data-tip]");
    var tip = chartTip();
    if (col && tip && !col.contains(event.relatedTarget)) tip.hidden = true;
  });
  // On a narrow screen the sections scroll sideways in the top bar: show the current one.
  document.addEventListener("DOMContentLoaded", function () {
    var active = document.querySelector(".nav a.active");
    var nav = active && active.parentElement;
    if (nav && nav.scrollWidth > nav.clientWidth) {
      nav.scrollLeft = active.offsetLeft - (nav.clientWidth - active.offsetWidth) / 2;
    }
  });
})();
