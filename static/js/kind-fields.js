/* Fields that apply to one kind of session only, such as a revision's review time.
 *
 * An input with data-kind-only="revision" is shown only while the form's kind select
 * (name="kind") says "revision". Without this script the field stays visible and its help text
 * says when it applies; the server ignores it for the other kinds.
 */
(function () {
  "use strict";

  document.querySelectorAll("[data-kind-only]").forEach(function (input) {
    var kind = input.form && input.form.elements.namedItem("kind");
    var field = input.closest(".field") || input;
    if (!kind) return;
    function toggle() {
      field.hidden = kind.value !== input.dataset.kindOnly;
    }
    kind.addEventListener("change", toggle);
    toggle();
  });
})();
