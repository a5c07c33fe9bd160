/* The propose form shows the rates that will be saved before it is sent.
 *
 * #propose-rates carries data-defaults: {"provider": {value: default pay rate},
 * "service_type": {value: client rate}}, keyed by what each field posts (the provider's own
 * rate comes with the match chosen in its search field, data-rate). A blank rate field
 * takes that default, as the server does. Without this script "Show the rates" asks the
 * server for the same figures.
 */
(function () {
  "use strict";

  var box = document.getElementById("propose-rates");
  if (!box || !box.form && !box.closest("form")) return;
  var form = box.closest("form");
  var defaults = JSON.parse(box.dataset.defaults || "{}");
  var pairs = [
    ["provider_pay_rate", "provider"],
    ["client_rate", "service_type"],
  ];

  function figure(rateName, choiceName) {
    var typed = form.elements.namedItem(rateName);
    var choice = form.elements.namedItem(choiceName);
    if (typed && typed.value.trim() !== "") {
      var n = Number(typed.value);
      return isNaN(n) ? "—" : n.toFixed(2);
    }
    var table = defaults[choiceName] || {};
    if (!choice) return "—";
    if (table[choice.value] !== undefined) return table[choice.value];
    // A provider chosen in a search field carries its default rate from its match.
    return choice.value && choice.dataset.rate !== undefined ? choice.dataset.rate : "—";
  }

  function update() {
    pairs.forEach(function (pair) {
      var out = box.querySelector('[data-rate="' + pair[0] + '"]');
      if (out) out.textContent = figure(pair[0], pair[1]);
    });
  }

  pairs.forEach(function (pair) {
    pair.forEach(function (name) {
      var el = form.elements.namedItem(name);
      if (el) {
        el.addEventListener("input", update);
        el.addEventListener("change", update);
      }
    });
  });
  update();
})();
