// The check-in form's duration buttons (templates/sessions_app/check_in.html): −10, −5, +5 and
// +10 minutes on the number field, within its min and max. Without this script the buttons
// stay hidden and the number field works alone.
(function () {
  "use strict";
  document.querySelectorAll("[data-adjust-for]").forEach(function (group) {
    var input = document.getElementById(group.getAttribute("data-adjust-for"));
    if (!input) { return; }
    group.hidden = false;
    group.querySelectorAll("button[data-adjust]").forEach(function (button) {
      button.addEventListener("click", function () {
        var value = parseInt(input.value, 10);
        if (isNaN(value)) { value = parseInt(input.defaultValue, 10) || 0; }
        value += parseInt(button.getAttribute("data-adjust"), 10);
        var min = parseInt(input.min, 10), max = parseInt(input.max, 10);
        if (!isNaN(min) && value < min) { value = min; }
        if (!isNaN(max) && value > max) { value = max; }
        input.value = String(value);
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  });
})();
