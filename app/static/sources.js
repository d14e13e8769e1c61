// The Sources page: add a source, import or export OPML, retry, pause, resume, remove.
// Every change goes through the API (Kith.api); then the list is read again from the
// server-rendered page, so it is rendered in one place only.
"use strict";

(() => {
  const CONFIRM_MS = 5000;

  // Read the list again: the page's own HTML, swapped in without a reload.
  async function refreshList(highlight) {
    const resp = await fetch("/sources", { credentials: "same-origin", headers: { Accept: "text/html" } });
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const fresh = doc.querySelector("[data-source-list]");
    const old = document.querySelector("[data-source-list]");
    if (!resp.ok || !fresh || !old) {
      window.location.reload(); // signed out meanwhile, or something else: the real page
      return;
    }
    old.replaceWith(document.importNode(fresh, true));
    if (highlight !== undefined) {
      const card = document.getElementById(`source-${highlight}`);
      if (card) {
        card.classList.add("new");
        card.scrollIntoView({ block: "nearest" });
      }
    }
  }

  // ---- one source's buttons -------------------------------------------------------
  function disarm(button) {
    clearTimeout(Number(button.dataset.timer));
    delete button.dataset.armed;
    delete button.dataset.timer;
    button.classList.remove("armed");
    button.textContent = "Remove";
  }

  async function onAction(button) {
    const { api, act, toast } = window.Kith;
    const card = button.closest("[data-source]");
    if (!card) return;
    const id = card.dataset.source;
    const name = card.dataset.name;
    const action = button.dataset.action;
    if (action === "remove" && !button.dataset.armed) {
      // no window.confirm: the button asks again, and calms down after a while
      button.dataset.armed = "1";
      button.classList.add("armed");
      button.textContent = "Really remove?";
      button.dataset.timer = String(setTimeout(() => disarm(button), CONFIRM_MS));
      return;
    }
    if (action === "remove") disarm(button);
    const calls = {
      refresh: () => api("POST", `/sources/${id}/refresh`),
      pause: () => api("PATCH", `/sources/${id}`, { paused: true }),
      resume: () => api("PATCH", `/sources/${id}`, { paused: false }),
      remove: () => api("DELETE", `/sources/${id}`),
    };
    const call = calls[action];
    if (!call) return;
    const done = await act(button, () => call().then(() => true));
    if (!done) return;
    const said = {
      refresh: `${name} will be checked at the next round, within a minute or so.`,
      pause: `${name} is paused: Kith will not check it until you resume it.`,
      resume: `${name} is checked again from now on.`,
      remove: `${name} is removed, with its items.`,
    };
    toast(said[action]);
    if (action === "remove") card.remove();
    await act(null, () => refreshList());
  }

  // ---- adding ---------------------------------------------------------------------
  function setupAdd() {
    const form = document.querySelector("form[data-add]");
    if (!form) return;
    const error = form.querySelector("[data-add-error]");
    const status = form.querySelector("[data-add-status]");
    const submit = form.querySelector("button[type=submit]");
    const fail = (message) => {
      error.textContent = message;
      error.hidden = false;
    };
    form.addEventListener("input", () => { error.hidden = true; });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const { api, toast } = window.Kith;
      error.hidden = true;
      let url = form.elements.url.value.trim();
      if (!url) {
        fail("Enter the address of a feed, or of a site with “Find the feed on this page”.");
        form.elements.url.focus();
        return;
      }
      // "blog.example.org" means https://blog.example.org
      if (!/^[a-z][a-z0-9+.-]*:/i.test(url) && /^[^\s/]+\.[^\s/]+/.test(url)) url = `https://${url}`;
      const body = { url, discover: form.elements.discover.checked };
      const folder = form.elements.folder.value.trim();
      if (folder) body.folder = folder;
      submit.disabled = true;
      status.textContent = body.discover ? "Looking for the feed…" : "Adding…";
      try {
        const source = await api("POST", "/sources", body);
        form.reset();
        toast(`Added ${source.title || source.url}. Kith checks it at the next round.`);
        await refreshList(source.id);
      } catch (err) {
        // an answer of the API (bad address, blocked destination, already followed)
        fail(`Could not add it: ${err.message || err}`);
        console.warn("kith:", err);
      } finally {
        submit.disabled = false;
        status.textContent = "";
      }
    });
  }

  // ---- OPML -----------------------------------------------------------------------
  function li(text) {
    const el = document.createElement("li");
    el.textContent = text;
    return el;
  }

  function setupOpml() {
    const form = document.querySelector("form[data-opml]");
    if (!form) return;
    const report = form.querySelector("[data-opml-report]");
    const submit = form.querySelector("button[type=submit]");
    const say = (text, kind, list) => {
      report.replaceChildren();
      const p = document.createElement("p");
      p.textContent = text;
      if (kind === "error") p.className = "error";
      report.append(p);
      if (list && list.length) {
        const ul = document.createElement("ul");
        ul.append(...list.map(li));
        report.append(ul);
      }
      report.hidden = false;
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const { api, toast } = window.Kith;
      const file = form.elements.file.files[0];
      if (!file) {
        say("Choose an OPML file first (your feed reader exports one).", "error");
        return;
      }
      submit.disabled = true;
      try {
        const result = await api("POST", "/sources/opml", await file.text());
        const added = result.added.length;
        const skipped = result.skipped.length;
        say(
          `Added ${added} source${added === 1 ? "" : "s"}; skipped ${skipped}.`,
          "info",
          result.skipped.map((s) => `${s.url}: ${s.message}`),
        );
        toast(`Imported ${added} source${added === 1 ? "" : "s"} from ${file.name}.`);
        form.reset();
        await refreshList();
      } catch (err) {
        say(`Could not import ${file.name}: ${err.message || err}`, "error");
        console.warn("kith:", err);
      } finally {
        submit.disabled = false;
      }
    });
  }

  function setupExport() {
    const button = document.querySelector("[data-export]");
    if (!button) return;
    button.addEventListener("click", () => window.Kith.act(button, async () => {
      const text = await window.Kith.api("GET", "/sources/opml");
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "text/x-opml" }));
      link.download = "kith-sources.opml";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.querySelector("[data-source-list]")) return;
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) onAction(button);
    });
    setupAdd();
    setupOpml();
    setupExport();
  });
})();
