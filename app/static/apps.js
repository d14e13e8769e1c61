// The Apps page: create an app password (shown this once, with the user name and the
// server addresses to type into the app), revoke one. Every change goes through the API
// (Kith.api); then the list is read again from the server-rendered page, so it is
// rendered in one place only.
"use strict";

(() => {
  const CONFIRM_MS = 5000;

  // Read the list again: the page's own HTML, swapped in without a reload.
  async function refreshList(highlight) {
    const resp = await fetch("/apps", { credentials: "same-origin", headers: { Accept: "text/html" } });
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const fresh = doc.querySelector("[data-app-list]");
    const old = document.querySelector("[data-app-list]");
    if (!resp.ok || !fresh || !old) {
      window.location.reload(); // signed out meanwhile, or something else: the real page
      return;
    }
    old.replaceWith(document.importNode(fresh, true));
    if (highlight !== undefined) {
      const card = document.getElementById(`app-password-${highlight}`);
      if (card) card.classList.add("new");
    }
  }

  // ---- revoking -------------------------------------------------------------------
  function disarm(button) {
    clearTimeout(Number(button.dataset.timer));
    delete button.dataset.armed;
    delete button.dataset.timer;
    button.classList.remove("armed");
    button.textContent = "Revoke";
  }

  async function onRevoke(button) {
    const { api, act, toast } = window.Kith;
    const card = button.closest("[data-app-password]");
    if (!card) return;
    if (!button.dataset.armed) {
      // no window.confirm: the button asks again, and calms down after a while
      button.dataset.armed = "1";
      button.classList.add("armed");
      button.textContent = "Really revoke?";
      button.dataset.timer = String(setTimeout(() => disarm(button), CONFIRM_MS));
      return;
    }
    disarm(button);
    const id = card.dataset.appPassword;
    const done = await act(button, () => api("DELETE", `/app-passwords/${id}`).then(() => true));
    if (!done) return;
    toast(`${card.dataset.name} is signed out: its app password no longer works.`);
    await act(null, () => refreshList());
  }

  // ---- creating -------------------------------------------------------------------
  function setupCreate() {
    const form = document.querySelector("form[data-create]");
    const shown = document.querySelector("[data-created]");
    if (!form || !shown) return;
    const error = form.querySelector("[data-create-error]");
    const status = form.querySelector("[data-create-status]");
    const submit = form.querySelector("button[type=submit]");
    const fail = (message) => {
      error.textContent = message;
      error.hidden = false;
    };
    const forget = () => {
      // the password leaves the page: nothing keeps it once it is typed in
      shown.querySelector("[data-created-password]").textContent = "";
      shown.hidden = true;
    };
    form.addEventListener("input", () => { error.hidden = true; });
    shown.querySelector("[data-dismiss]").addEventListener("click", forget);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const { api, toast } = window.Kith;
      error.hidden = true;
      const name = form.elements.name.value.trim();
      if (!name) {
        fail("Name the app first (like “Reeder on my phone”), so you can tell it apart later.");
        form.elements.name.focus();
        return;
      }
      forget();
      submit.disabled = true;
      status.textContent = "Creating…";
      try {
        const created = await api("POST", "/app-passwords", { name });
        form.reset();
        shown.querySelector("[data-created-name]").textContent = created.name;
        shown.querySelector("[data-created-user]").textContent = created.user_name;
        shown.querySelector("[data-created-password]").textContent = created.password;
        shown.hidden = false;
        shown.scrollIntoView({ block: "nearest" });
        toast(`Created an app password for ${created.name}.`);
        await refreshList(created.id);
      } catch (err) {
        // an answer of the API (too many live ones, too many created this hour)
        fail(`Could not create it: ${err.message || err}`);
        console.warn("kith:", err);
      } finally {
        submit.disabled = false;
        status.textContent = "";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.querySelector("[data-app-list]")) return;
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action=revoke]");
      if (button) onRevoke(button);
    });
    setupCreate();
  });
})();
