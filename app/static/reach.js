// The Reach out page: reply on Mastodon from a small compose box, record "I reached out",
// snooze or dismiss someone, all through the API; they leave the list at once.
"use strict";

(() => {
  const DAY_MS = 24 * 60 * 60 * 1000;

  function leave(card) {
    card.remove();
    if (!document.querySelector("[data-drifts] > [data-person]")) {
      const empty = document.querySelector("[data-empty]");
      if (empty) empty.hidden = false;
    }
  }

  async function onClick(button) {
    const { api, act, toast } = window.Kith;
    const card = button.closest("[data-person]");
    if (!card) return;
    const id = card.dataset.person;
    const name = card.dataset.name;
    let done;
    if (button.dataset.reach === "reached") {
      done = await act(button, () =>
        api("POST", `/people/${id}/contacts`, { kind: "message", direction: "out" }).then(
          () => true,
        ));
      if (done) toast(`Noted: you reached out to ${name}.`);
    } else if (button.dataset.reach === "snooze") {
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
    if (done) leave(card);
  }

  function composeFor(button) {
    const opener = button.closest(".opener");
    return opener && opener.querySelector("form[data-compose]");
  }

  function openCompose(button) {
    const form = composeFor(button);
    if (!form) return;
    form.hidden = false;
    const text = form.querySelector("textarea");
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
  }

  async function postReply(form) {
    const { api, act, toast } = window.Kith;
    const card = form.closest("[data-person]");
    const text = form.querySelector("textarea").value;
    const submit = form.querySelector("button[type=submit]");
    const posted = await act(submit, () =>
      api("POST", `/items/${form.dataset.compose}/reply`, { text }));
    if (!posted) return;
    toast(`Replied to ${card ? card.dataset.name : "them"} on Mastodon.`);
    if (card) leave(card);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.querySelector("[data-drifts]");
    if (!list) return;
    list.addEventListener("click", (event) => {
      const open = event.target.closest("button[data-reply-open]");
      if (open) return openCompose(open);
      const cancel = event.target.closest("button[data-reply-cancel]");
      if (cancel) {
        cancel.closest("form").hidden = true;
        return undefined;
      }
      const button = event.target.closest("button[data-reach]");
      if (button) onClick(button);
      return undefined;
    });
    list.addEventListener("submit", (event) => {
      const form = event.target.closest("form[data-compose]");
      if (!form) return;
      event.preventDefault();
      postReply(form);
    });
  });
})();
