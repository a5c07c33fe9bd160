/* Live length counter for a notes box with a required minimum.
 *
 * Any <textarea data-min-length="N"> gets a polite live line under it: "12 / 150 characters
 * (138 more needed)", or just "12 characters" when N is 0. Counts trimmed characters, as the
 * server does. The server still checks the rule; this only saves a round trip.
 */
(function () {
  "use strict";

  function attach(notes) {
    var min = parseInt(notes.dataset.minLength || "0", 10) || 0;
    var out = document.createElement("div");
    out.className = "form-text";
    out.id = notes.id + "-count";
    out.setAttribute("aria-live", "polite");
    out.dataset.notesCount = "";
    notes.insertAdjacentElement("afterend", out);
    var described = notes.getAttribute("aria-describedby");
    notes.setAttribute("aria-describedby", described ? described + " " + out.id : out.id);

    function show() {
      var n = notes.value.trim().length;
      if (!min) {
        out.textContent = n + " characters";
      } else if (n < min) {
        out.textContent = n + " / " + min + " characters (" + (min - n) + " more needed)";
      } else {
        out.textContent = n + " / " + min + " characters ✓";
      }
    }
    notes.addEventListener("input", show);
    show();
  }

  document.querySelectorAll("textarea[data-min-length]").forEach(attach);
})();
