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
// Posts: the page shows "more than 50" at once; the exact total (up to 10,000) is counted afterwards.
document.addEventListener("DOMContentLoaded", function () {
  var line = document.getElementById("post-count");
  var url = line && line.getAttribute("data-count-url");
  if (!url || !window.fetch) return;
  fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
    if (!d || typeof d.total !== "number") return;
    var text = line.querySelector(".count-text");
    var strong = document.createElement("strong");
    strong.textContent = d.total.toLocaleString("en");
    text.textContent = "";
    if (d.capped) text.appendChild(document.createTextNode("More than "));
    text.appendChild(strong);
    text.appendChild(document.createTextNode(d.capped || d.total !== 1 ? " posts match" : " post matches"));
    line.setAttribute("data-counted", "1");
  }).catch(function () {});
});
