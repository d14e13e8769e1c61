// The person page's keep-in-touch parts: the contact log (log, edit, delete), the
// cadence goal and the dates to remember. Every change is a call to the API
// (window.Kith, from reader.js); the page is then read afresh.
"use strict";

(() => {
  const NOTE = "kith:people-note"; // people.js shows it after the reload

  function reloadWith(note) {
    try { sessionStorage.setItem(NOTE, note); } catch { /* private mode */ }
    location.reload();
  }

  // a date from <input type=date>: today means now; an earlier day, noon UTC of it
  function when(value) {
    const today = new Date().toISOString().slice(0, 10);
    return !value || value >= today ? null : `${value}T12:00:00Z`;
  }

  // ---- the contact log -------------------------------------------------------------------
  function contactLog(section) {
    const person = section.dataset.person;
    const form = section.querySelector("[data-log-form]");
    const submit = form.querySelector("[data-log-submit]");
    const cancel = form.querySelector("[data-log-cancel]");
    let editing = null; // the id of the contact being corrected

    function reset() {
      editing = null;
      form.reset();
      submit.textContent = "Log contact";
      cancel.hidden = true;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = {
        kind: data.get("kind"),
        direction: data.get("direction"),
        note: String(data.get("note") || "").trim() || null,
      };
      const at = when(String(data.get("date") || ""));
      if (at) body.at = at;
      const path = editing ? `/people/${person}/contacts/${editing}` : `/people/${person}/contacts`;
      const done = await Kith.act(submit, () => Kith.api(editing ? "PATCH" : "POST", path, body));
      if (done) reloadWith(editing ? "Contact corrected." : "Contact logged.");
    });
    cancel.addEventListener("click", reset);

    for (const row of section.querySelectorAll("[data-contact]")) {
      row.querySelector("[data-contact-edit]")?.addEventListener("click", () => {
        editing = row.dataset.contact;
        form.elements.kind.value = row.dataset.kind;
        form.elements.direction.value = row.dataset.direction;
        form.elements.date.value = row.dataset.date;
        form.elements.note.value = row.dataset.note;
        submit.textContent = "Save changes";
        cancel.hidden = false;
        form.elements.kind.focus();
      });
      const del = row.querySelector("[data-contact-delete]");
      del?.addEventListener("click", async () => {
        const done = await Kith.act(del, () =>
          Kith.api("DELETE", `/people/${person}/contacts/${row.dataset.contact}`).then(() => true));
        if (done) reloadWith("Contact deleted.");
      });
    }
  }

  // ---- the cadence goal --------------------------------------------------------------------
  function cadenceGoal(section) {
    const person = section.dataset.person;
    const form = section.querySelector("[data-cadence-form]");
    const clear = form.querySelector("[data-cadence-clear]");
    const save = (button, days, note) => Kith.act(button, () =>
      Kith.api("PATCH", `/people/${person}`, { cadence_days: days })).then((done) => {
      if (done) reloadWith(note);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const days = Number(form.elements.every.value) * Number(form.elements.unit.value);
      save(form.querySelector("button[type=submit]"), days, "Goal set.");
    });
    clear.addEventListener("click", () => save(clear, null, "Kith learns your rhythm again."));
  }

  // ---- dates ---------------------------------------------------------------------------------
  function dates(section) {
    const person = section.dataset.person;
    const form = section.querySelector("[data-date-form]");
    const kind = form.querySelector("[data-date-kind]");
    const label = form.querySelector("[data-date-label]");
    kind.addEventListener("change", () => {
      label.hidden = kind.value !== "custom";
      label.querySelector("input").required = kind.value === "custom";
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = {
        kind: data.get("kind"),
        label: String(data.get("label") || ""),
        month: Number(data.get("month")),
        day: Number(data.get("day")),
        remind_days: Number(data.get("remind_days") || 7),
      };
      if (data.get("year")) body.year = Number(data.get("year"));
      const done = await Kith.act(form.querySelector("button[type=submit]"),
        () => Kith.api("POST", `/people/${person}/dates`, body));
      if (done) reloadWith("Date saved.");
    });
    for (const row of section.querySelectorAll("[data-date-id]")) {
      const del = row.querySelector("[data-date-delete]");
      del.addEventListener("click", async () => {
        const done = await Kith.act(del, () =>
          Kith.api("DELETE", `/people/${person}/dates/${row.dataset.dateId}`).then(() => true));
        if (done) reloadWith("Date deleted.");
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-log]").forEach(contactLog);
    document.querySelectorAll("[data-cadence]").forEach(cadenceGoal);
    document.querySelectorAll("[data-dates]").forEach(dates);
  });
})();
