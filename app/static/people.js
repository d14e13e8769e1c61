// The People pages: weight controls (slider, pin, mute, back to autopilot) and merge
// suggestions. Every change is a call to the API (window.Kith, from reader.js).
"use strict";

(() => {
  const NOTE = "kith:people-note"; // a message to show after a reload

  const signed = (value) => (value === null || value === undefined
    ? "auto" : (value > 0 ? "+" : "") + String(value));
  const fixed = (value) => (value >= 0 ? "+" : "") + value.toFixed(2);

  // ---- weight: one [data-weight] box per person --------------------------------------
  function weightBox(box) {
    const id = box.dataset.person;
    const slider = box.querySelector("[data-slider]");
    const output = box.querySelector("[data-output]");
    const learned = box.querySelector("[data-learned]");
    const effective = box.querySelector("[data-effective]");
    const toggles = [...box.querySelectorAll("[data-toggle]")];
    const reset = box.querySelector("[data-reset]");

    // the setting the server last confirmed (the data attributes hold it)
    const state = () => ({
      manual: box.dataset.manual === "" ? null : Number(box.dataset.manual),
      pinned: box.dataset.pinned === "true",
      muted: box.dataset.muted === "true",
    });

    function showManual(manual) {
      slider.value = String(manual ?? 0);
      output.textContent = signed(manual);
      slider.setAttribute("aria-valuetext", manual === null ? "automatic" : signed(manual));
    }

    function show(weight) {
      box.dataset.manual = weight.manual === null ? "" : String(weight.manual);
      box.dataset.pinned = String(weight.pinned);
      box.dataset.muted = String(weight.muted);
      showManual(weight.manual);
      for (const button of toggles) {
        button.setAttribute("aria-pressed", String(Boolean(weight[button.dataset.toggle])));
      }
      if (learned && weight.learned !== null) {
        learned.textContent = fixed(weight.learned);
        learned.classList.toggle("up", weight.learned >= 0);
        learned.classList.toggle("down", weight.learned < 0);
      }
      if (effective) {
        effective.textContent = weight.muted ? "muted"
          : weight.effective === null ? "–" : fixed(weight.effective);
      }
      box.closest("[data-person-card]")?.classList.toggle("is-muted", weight.muted);
    }

    // PUT replaces the whole setting, so each call sends all of it; calls run one at a
    // time, each built from what the previous one left
    let queue = Promise.resolve();
    function send(control, change, describe) {
      queue = queue.then(async () => {
        const body = { ...state(), ...change(state()) };
        const person = await Kith.act(control, () => Kith.api("PUT", `/people/${id}/weight`, body));
        if (person) {
          show(person.weight);
          if (describe) Kith.toast(describe(person));
        } else {
          show(state()); // failed (a toast says why): back to what the server has
        }
      }).catch((err) => console.warn("kith:", err));
      return queue;
    }

    slider.addEventListener("input", () => { output.textContent = signed(Number(slider.value)); });
    // on release (or each arrow key), not on every pixel of a drag
    slider.addEventListener("change", () => {
      const manual = Number(slider.value);
      send(null, () => ({ manual }));
    });

    for (const button of toggles) {
      const key = button.dataset.toggle;
      button.addEventListener("click", () => send(button, (now) => ({ [key]: !now[key] }), (p) => {
        if (key === "pinned") return p.weight.pinned ? `${p.name} is pinned.` : `${p.name} is no longer pinned.`;
        return p.weight.muted ? `${p.name} is muted.` : `${p.name} is no longer muted.`;
      }));
    }

    reset?.addEventListener("click", () => {
      queue = queue.then(async () => {
        const person = await Kith.act(reset, () => Kith.api("DELETE", `/people/${id}/weight`));
        if (person) {
          show(person.weight);
          Kith.toast(`${person.name} is back on autopilot.`);
        }
      }).catch((err) => console.warn("kith:", err));
    });
  }

  // ---- merge suggestions ---------------------------------------------------------------
  function suggestion(card) {
    const pair = { a: Number(card.dataset.a), b: Number(card.dataset.b) };
    const run = (button, path, note) => {
      button.addEventListener("click", async () => {
        const done = await Kith.act(button, () =>
          Kith.api("POST", path, pair).then((answer) => answer || true));
        if (!done) return;
        // the list changes (one person fewer, another order): read it afresh
        try { sessionStorage.setItem(NOTE, note(done)); } catch { /* private mode */ }
        location.reload();
      });
    };
    run(card.querySelector("[data-accept]"), "/people/suggestions/accept",
      (person) => `Merged into ${person.name}.`);
    run(card.querySelector("[data-reject]"), "/people/suggestions/reject",
      () => "They will not be suggested again.");
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-weight]").forEach(weightBox);
    document.querySelectorAll("[data-suggestion]").forEach(suggestion);
    let note = null;
    try {
      note = sessionStorage.getItem(NOTE);
      sessionStorage.removeItem(NOTE);
    } catch { /* private mode */ }
    if (note) Kith.toast(note);
  });
})();
