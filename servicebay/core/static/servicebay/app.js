/* ServiceBay UI behaviour that CSS and htmx attributes cannot express. No inline script anywhere:
   the Content Security Policy is script-src 'self'. */
(function () {
  "use strict";

  var TOAST_MS = 6000;

  function dismiss(toast) {
    toast.classList.add("is-leaving");
    window.setTimeout(function () { toast.remove(); }, 200);
  }

  function armToasts(root) {
    (root || document).querySelectorAll(".toast:not([data-armed])").forEach(function (toast) {
      toast.setAttribute("data-armed", "1");
      if (!toast.classList.contains("toast--error")) {
        window.setTimeout(function () { dismiss(toast); }, TOAST_MS);
      }
    });
  }

  function showToast(text, level) {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast--" + (level || "error");
    toast.setAttribute("role", "alert");
    var span = document.createElement("span");
    span.className = "toast__text";
    span.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.setAttribute("data-dismiss", "toast");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    toast.appendChild(span);
    toast.appendChild(close);
    box.appendChild(toast);
    armToasts(box);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss='toast']");
    if (button) { dismiss(button.closest(".toast")); }
  });

  // Ask before destructive actions: <button data-confirm="Cancel this job card?">.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) ||
      event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }, true);

  document.addEventListener("DOMContentLoaded", function () { armToasts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { armToasts(event.target.ownerDocument); });

  // A tab chosen by keyboard keeps the focus once its panel is in. htmx moves the focus to the new
  // tab (same id) during the swap; a settle task or a late response elsewhere on the page can still
  // take it, so once the chosen tab's swap has settled the focus is put back on it.
  var focusedTabs = new WeakSet();
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id && elt.classList.contains("tabs__tab") && elt === document.activeElement) {
      focusedTabs.add(elt);
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var source = event.detail.elt;
    if (!source || !focusedTabs.has(source)) { return; }
    focusedTabs.delete(source);
    var tab = document.getElementById(source.id);
    if (tab && tab !== document.activeElement) { tab.focus({ preventScroll: true }); }
  });

  // A request htmx does not swap (403, 404, 500, network down) still tells the person something.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = status === 403 ? "You do not have permission to do that." :
      status === 404 ? "That record no longer exists." :
      status === 409 ? "That change is no longer possible; reload the page." :
      "Something went wrong (" + status + "). Please try again.";
    showToast(text, "error");
  });
  document.addEventListener("htmx:sendError", function () {
    showToast("The server could not be reached. Check the connection and try again.", "error");
  });
})();
