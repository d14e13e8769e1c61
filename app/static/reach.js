// The Reach out page: snooze or dismiss someone through the API; they leave the list.
"use strict";

(() => {
  const DAY_MS = 24 * 60 * 60 * 1000;

  async function onClick(button) {
    const { api, act, toast } = window.Kith;
    const card = button.closest("[data-person]");
    if (!card) return;
    const id = card.dataset.person;
    const name = card.dataset.name;
    let done;
    if (button.dataset.reach === "snooze") {
      const until = new Date(Date.now() + Number(button.dataset.days || 14) * DAY_MS);
      done = await act(button, () =>
        api("POST", `/people/${id}/snooze`, { until: until.toISOString() }).then(() => true));
      if (done) {
        const date = until.toLocaleDateString(undefined, { day: "numeric", month: "long" });
        toast(`Snoozed: ${name} is not listed here before ${date}.`);
      }
    } else if (button.dataset.reach === "dismiss") {
      done = await act(button, () => api("POST", `/people/${id}/dismiss`).then(() => true));
      if (done) toast(`Dismissed: ${name} comes back here only after you are in touch again.`);
    }
    if (!done) return;
    card.remove();
    if (!document.querySelector("[data-drifts] > [data-person]")) {
      const empty = document.querySelector("[data-empty]");
      if (empty) empty.hidden = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.querySelector("[data-drifts]");
    if (!list) return;
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-reach]");
      if (button) onClick(button);
    });
  });
})();
