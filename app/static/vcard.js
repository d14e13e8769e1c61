// The People page's address-book import: the chosen vCard file goes as the body of
// POST /api/v1/people/vcard (window.Kith, from reader.js); the answer is listed below.
"use strict";

(() => {
  const MAX_BYTES = 5 * 1024 * 1024; // the server's cap: refuse before uploading

  const MONTH = new Intl.DateTimeFormat("en", { month: "long", day: "numeric", timeZone: "UTC" });
  function dateText(d) {
    const day = MONTH.format(new Date(Date.UTC(2000, d.month - 1, d.day)));
    const what = d.kind === "custom" ? d.label : d.kind;
    return `${what} ${day}${d.year ? " " + d.year : ""}`;
  }

  function element(tag, text, attrs = {}) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    return node;
  }

  function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

  function stored(title, cards, kind) {
    const section = element("div", undefined, { "data-vcard-list": kind });
    section.append(element("h3", title));
    const list = element("ul");
    for (const c of cards) {
      const item = element("li", undefined, { "data-vcard-card": String(c.card) });
      item.append(element("a", c.person.name, { href: `/people/${c.person.id}`, class: "person" }));
      const extra = [...c.dates.map(dateText), ...c.relationships];
      if (extra.length) item.append(document.createTextNode(" · " + extra.join(", ")));
      for (const note of c.notes) item.append(element("p", note, { class: "muted small" }));
      list.append(item);
    }
    section.append(list);
    return section;
  }

  function show(box, answer) {
    const { created, updated, skipped } = answer.counts;
    box.replaceChildren(element("p", `${plural(created, "person", "people")} added, `
      + `${updated} updated, ${skipped} skipped.`, { "data-vcard-summary": "" }));
    if (answer.created.length) box.append(stored("Added", answer.created, "created"));
    if (answer.updated.length) box.append(stored("Updated", answer.updated, "updated"));
    if (answer.skipped.length) {
      const section = element("div", undefined, { "data-vcard-list": "skipped" });
      section.append(element("h3", "Skipped"));
      const list = element("ul");
      for (const s of answer.skipped) list.append(element("li", s.message, { class: "error" }));
      section.append(list);
      box.append(section);
    }
    if (created || updated) box.append(element("a", "Show the updated list", { href: "/people" }));
    box.hidden = false;
  }

  function importForm(form) {
    const input = form.querySelector("[data-vcard-file]");
    const button = form.querySelector("[data-vcard-submit]");
    const box = form.parentElement.querySelector("[data-vcard-result]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = input.files && input.files[0];
      if (!file) {
        Kith.toast("Choose a vCard file first.", "error");
        return;
      }
      if (file.size > MAX_BYTES) {
        Kith.toast(`${file.name} is over 5 MB; export fewer contacts at a time.`, "error");
        return;
      }
      const answer = await Kith.act(button, () => Kith.api("POST", "/people/vcard", file));
      if (!answer) return;
      show(box, answer);
      Kith.toast(`Imported ${file.name}.`);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-vcard-form]").forEach(importForm);
  });
})();
