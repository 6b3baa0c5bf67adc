// voxpop dashboard: progressive enhancement only; every page and action works without this file.
// Forms marked data-confirm ask before they submit (merge, split, resolve, mute).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
// Filter forms: leave empty fields out of the URL so bookmarked views stay short.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.classList || !form.classList.contains("filters") || event.defaultPrevented) return;
  Array.prototype.forEach.call(form.elements, function (el) {
    if (el.name && !el.value) el.disabled = true;
  });
});
