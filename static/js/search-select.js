/* Search-as-you-type fields (matchpal/search.py SearchSelect).
 *
 * Typing in [data-search-text] asks the server for matches (htmx, from the input's hx-get) and
 * forgets the id chosen before; choosing a match (a button carrying data-value, data-label and
 * sometimes data-rate) puts its public id in the hidden [data-search-value], its name in the
 * box, and, for a filter ([data-search-submit]), sends the form. Without this script the typed
 * text is posted and the server resolves it.
 */
(function () {
  "use strict";

  function parts(el) {
    var root = el.closest("[data-search-select]");
    if (!root) return null;
    return {
      root: root,
      value: root.querySelector("[data-search-value]"),
      text: root.querySelector("[data-search-text]"),
      matches: root.querySelector("[data-search-matches]"),
    };
  }

  document.addEventListener("input", function (event) {
    if (!event.target.matches || !event.target.matches("[data-search-text]")) return;
    var p = parts(event.target);
    if (p && p.value.value) {
      p.value.value = "";
      delete p.value.dataset.rate;
      p.value.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  document.addEventListener("click", function (event) {
    var choice = event.target.closest && event.target.closest("[data-search-matches] [data-value]");
    if (!choice) return;
    event.preventDefault();
    var p = parts(choice);
    if (!p) return;
    p.value.value = choice.dataset.value;
    if (choice.dataset.rate !== undefined) p.value.dataset.rate = choice.dataset.rate;
    p.text.value = choice.dataset.label;
    p.matches.replaceChildren();
    p.value.dispatchEvent(new Event("change", { bubbles: true }));
    var form = p.root.closest("form");
    if (form && p.root.hasAttribute("data-search-submit")) {
      form.requestSubmit();
    } else {
      p.text.focus();
    }
  });
})();
