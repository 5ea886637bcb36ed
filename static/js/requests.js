// The /requests page: filter controls that follow the URL (Back, Forward, sort links),
// keyboard shortcuts, and the live tail over the /ws/requests/ socket.
(function () {
  // htmx re-runs the page's scripts when it restores a page from history: set up once.
  if (window.spanlensRequestsPage) return;
  window.spanlensRequestsPage = true;
  var LIVE_KEY = "spanlens.liveTail";
  var cursorId = null;

  function form() { return document.getElementById("filters"); }

  // --- filter controls always show the URL's filters ------------------------
  // htmx restores a page from a snapshot of its HTML, which keeps the controls'
  // values as first rendered: after Back they would show other filters than the rows.
  var HIDDEN_DEFAULTS = {sortBy: "created_at", sortDir: "desc"};

  function syncFilters(onlyHidden) {
    var f = form();
    if (!f) return;
    var params = new URLSearchParams(window.location.search);
    f.querySelectorAll("input[name], select[name]").forEach(function (el) {
      var value = params.get(el.name);
      if (el.type === "hidden") {
        if (el.name in HIDDEN_DEFAULTS) el.value = value || HIDDEN_DEFAULTS[el.name];
      } else if (onlyHidden) {
        return;
      } else if (el.type === "radio") {
        el.checked = el.value === (value || "all");
      } else if (el.type === "datetime-local") {
        // The URL holds 2024-01-31T23:59:59Z; the control takes 2024-01-31T23:59.
        el.value = value ? value.replace("Z", "").slice(0, 16) : "";
      } else {
        // A select without the parameter shows its default (the project chosen in the switcher).
        el.value = value !== null ? value : (el.getAttribute("data-default") || "");
      }
    });
  }
  document.addEventListener("htmx:historyRestore", function () { syncFilters(false); live.restart(); });
  window.addEventListener("popstate", function () { setTimeout(function () { syncFilters(false); }, 0); });
  window.addEventListener("pageshow", function () { syncFilters(false); });
  // Sort links and page links change the URL but not the form: keep its hidden fields in step.
  document.addEventListener("htmx:pushedIntoHistory", function () { syncFilters(true); live.restart(); });

  // --- keyboard shortcuts ---------------------------------------------------
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#request-table tbody tr[data-request-id]")); }
  function drawerOpen() { return !!document.querySelector("#drawer-root .drawer"); }
  function cursorRow() { return document.querySelector("#request-table tbody tr.cursor"); }

  function moveCursor(step) {
    if (drawerOpen()) {
      var nav = document.querySelector(".drawer [data-nav=" + (step > 0 ? "next" : "prev") + "]");
      if (nav && !nav.disabled) nav.click();
      return;
    }
    var all = rows();
    if (!all.length) return;
    var current = cursorRow();
    var index = current ? all.indexOf(current) + step : (step > 0 ? 0 : all.length - 1);
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (r) { r.classList.remove("cursor"); });
    all[index].classList.add("cursor");
    cursorId = all[index].getAttribute("data-request-id");
    all[index].scrollIntoView({block: "nearest"});
  }

  function help(show) {
    var box = document.getElementById("shortcut-help");
    if (!box) return;
    box.hidden = show === undefined ? !box.hidden : !show;
  }

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable=true]");
  }

  document.addEventListener("keydown", function (event) {
    if (!form() || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") { help(false); if (typing(event.target)) event.target.blur(); return; }
    if (typing(event.target)) return;
    if (document.getElementById("modal-root").innerHTML.trim()) return;
    switch (event.key) {
      case "j": moveCursor(1); break;
      case "k": moveCursor(-1); break;
      case "Enter":
        var row = cursorRow();
        if (!row || drawerOpen()) return;
        var link = row.querySelector("a.row-link");
        if (link) link.click();
        break;
      case "/":
        var search = form().querySelector("input[type=search]");
        if (search) { search.focus(); search.select(); }
        break;
      case "?": help(); break;
      default: return;
    }
    event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcuts-open]")) { help(true); return; }
    if (event.target.closest("[data-shortcuts-close]") || event.target.id === "shortcut-help") help(false);
  });
  // The drawer's row becomes the cursor, so j/k continue from the row last opened; a
  // refreshed list keeps the cursor where it was.
  document.addEventListener("htmx:afterSettle", function () {
    var drawer = document.querySelector(".drawer[data-request-id]");
    if (drawer) cursorId = drawer.getAttribute("data-request-id");
    rows().forEach(function (r) { r.classList.toggle("cursor", r.getAttribute("data-request-id") === cursorId); });
  });

  // --- live tail --------------------------------------------------------------
  var live = {
    socket: null,
    retry: 1000,
    button: function () { return document.querySelector("[data-live-tail]"); },
    wanted: function () { try { return localStorage.getItem(LIVE_KEY) === "on"; } catch (e) { return false; } },
    // Only the newest-first first page grows at the top; elsewhere the 10 s refresh stays.
    applies: function () {
      var p = new URLSearchParams(window.location.search);
      return (p.get("sortBy") || "created_at") === "created_at" && (p.get("sortDir") || "desc") === "desc" &&
        (p.get("page") || "1") === "1";
    },
    on: function () { return !!(this.socket && this.socket.readyState <= 1); },
    show: function (state) {
      var b = this.button();
      if (!b) return;
      b.setAttribute("aria-pressed", this.wanted() ? "true" : "false");
      b.setAttribute("data-state", state);
      b.title = {
        live: "Live: new calls appear as they are logged. Click to go back to the 10 s refresh.",
        connecting: "Connecting…",
        off: "Show new calls as they are logged",
        paused: "Live tail follows the newest calls: sort by age, newest first, on page 1",
        lost: "Connection lost; retrying"
      }[state] || "";
    },
    start: function () {
      var self = this;
      if (!this.wanted()) { this.show("off"); return; }
      if (!this.applies()) { this.stop(); this.show("paused"); return; }
      if (this.on()) return;
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + window.location.host + "/ws/requests/" + window.location.search);
      this.socket = socket;
      this.show("connecting");
      socket.onmessage = function (message) {
        var data;
        try { data = JSON.parse(message.data); } catch (e) { return; }
        if (data.type === "ready") { self.retry = 1000; self.show("live"); document.body.setAttribute("data-live", "on"); }
        if (data.type === "rows") self.insert(data);
      };
      socket.onclose = function (event) {
        if (self.socket !== socket) return;
        self.socket = null;
        document.body.removeAttribute("data-live");
        if (event.code === 4401) { window.location.reload(); return; }
        if (!self.wanted() || event.code === 4403) { self.show("off"); return; }
        self.show("lost");
        setTimeout(function () { self.start(); }, self.retry);
        self.retry = Math.min(self.retry * 2, 30000);
      };
    },
    stop: function () {
      var socket = this.socket;
      this.socket = null;
      document.body.removeAttribute("data-live");
      if (socket) socket.close();
    },
    restart: function () { this.stop(); this.start(); },
    insert: function (data) {
      var body = document.querySelector("#request-table tbody");
      if (!body) return;
      var template = document.createElement("template");
      template.innerHTML = data.html;
      var added = Array.prototype.slice.call(template.content.querySelectorAll("tr[data-request-id]")).filter(function (tr) {
        return !body.querySelector("tr[data-request-id='" + tr.getAttribute("data-request-id") + "']");
      });
      if (!added.length) return;
      var empty = body.querySelector("tr.empty-row");
      if (empty) empty.remove();
      // Rows already shown move down by as many positions as arrived above them.
      rows().forEach(function (tr) {
        var pos = parseInt(tr.getAttribute("data-pos"), 10) + added.length;
        tr.setAttribute("data-pos", pos);
        tr.querySelectorAll("a[hx-get]").forEach(function (a) {
          a.setAttribute("hx-get", a.getAttribute("hx-get").replace(/([?&])pos=\d+/, "$1pos=" + pos));
        });
      });
      var first = body.firstChild;
      added.forEach(function (tr) { tr.classList.add("arrived"); body.insertBefore(tr, first); });
      var limit = parseInt(new URLSearchParams(window.location.search).get("limit") || "50", 10);
      var all = rows();
      all.slice(limit).forEach(function (tr) { tr.remove(); });
      if (window.htmx) window.htmx.process(body);
      var range = document.querySelector("#request-list [data-range]");
      if (range) range.textContent = "1–" + Math.min(all.length, limit) + " of " + data.total_text;
    }
  };

  // While live, the list's own 10 s refresh would only repeat what the socket sent.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (live.on() && elt && elt.id === "request-list") {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var b = event.target.closest("[data-live-tail]");
    if (!b) return;
    var next = !live.wanted();
    try { localStorage.setItem(LIVE_KEY, next ? "on" : "off"); } catch (e) {}
    if (next) live.start(); else { live.stop(); live.show("off"); }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { live.start(); });
  else live.start();
})();
