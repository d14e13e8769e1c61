// Kith's web reader: a little JavaScript on server-rendered pages. Changes go through the
// REST API itself (/api/v1), signed in by the reader's session cookie and its CSRF token.
"use strict";

(() => {
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // Call the API: a JSON body for plain objects, as-is for strings and files.
  async function api(method, path, body, { keepalive = false } = {}) {
    const headers = { "X-CSRF-Token": csrf(), Accept: "application/json" };
    let payload;
    if (body instanceof Blob || typeof body === "string") {
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const resp = await fetch("/api/v1" + path, {
      method,
      headers,
      body: payload,
      credentials: "same-origin",
      keepalive,
    });
    if (resp.status === 204) return null;
    const type = resp.headers.get("content-type") || "";
    const data = type.includes("json") ? await resp.json() : await resp.text();
    if (!resp.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(resp.status, error.code || "error", error.message || resp.statusText);
    }
    return data;
  }

  let toastTimer;
  function toast(message, kind = "info") {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.dataset.kind = kind;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 8000 : 3000);
  }

  // Run an API call for a button: busy while it runs, a toast when it fails.
  async function act(button, call) {
    if (button) button.disabled = true;
    try {
      return await call();
    } catch (err) {
      toast(err.message || String(err), "error");
      console.warn("kith:", err);
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  window.Kith = { api, act, toast, ApiError };

  // ---- the timeline ---------------------------------------------------------------
  function timeline() {
    const feed = document.querySelector("[data-feed]");
    if (!feed) return;
    const items = () => [...feed.querySelectorAll(":scope > .item")];
    let current = -1;

    function select(index) {
      const all = items();
      if (!all.length) return;
      current = Math.max(0, Math.min(index, all.length - 1));
      all.forEach((el, i) => el.classList.toggle("current", i === current));
      const el = all[current];
      el.focus({ preventScroll: true });
      el.scrollIntoView({ block: "nearest" });
    }

    const selected = () => items()[current];
    const idOf = (el) => el.dataset.item;

    async function feedback(el, action, button) {
      if (!el) return;
      const done = await act(button, () =>
        api("POST", `/items/${idOf(el)}/feedback`, { action }, { keepalive: true }).then(() => true));
      if (!done) return;
      const who = el.querySelector(".person")?.textContent.trim() || "them";
      if (action === "like") {
        const like = el.querySelector('[data-feedback="like"]');
        like?.setAttribute("aria-pressed", "true");
        el.classList.add("liked");
      } else if (action === "hide") {
        const at = items().indexOf(el);
        el.remove();
        toast("Hidden. Kith will show fewer like it.");
        const left = items().length;
        if (left) select(Math.min(at, left - 1));
        else current = -1;
      } else if (action === "more") {
        toast(`Kith will show you more from ${who} for a while.`);
      } else if (action === "less") {
        toast(`Kith will show you less from ${who} for a while.`);
      }
    }

    // ---- read state and saved items -------------------------------------------------
    const READ_ON_SCROLL = "kith:read-on-scroll"; // "off" when the reader turned it off
    const readOnScroll = () => {
      try { return localStorage.getItem(READ_ON_SCROLL) !== "off"; } catch { return true; }
    };

    function showRead(el, read) {
      el.dataset.read = String(read);
      el.classList.toggle("is-read", read);
      const toggle = el.querySelector("[data-read-toggle]");
      if (toggle) toggle.textContent = read ? "Mark unread" : "Mark read";
    }

    async function setRead(el, read, button) {
      if (!el) return;
      const done = await act(button, () =>
        api(read ? "POST" : "DELETE", `/items/${idOf(el)}/read`, undefined, { keepalive: true })
          .then(() => true));
      if (done) showRead(el, read);
    }

    async function toggleSave(el, button) {
      if (!el) return;
      const save = el.querySelector("[data-save]");
      const saved = save?.getAttribute("aria-pressed") === "true";
      const done = await act(button, () =>
        api(saved ? "DELETE" : "POST", `/items/${idOf(el)}/save`).then(() => true));
      if (!done || !save) return;
      save.setAttribute("aria-pressed", String(!saved));
      save.textContent = saved ? "Save" : "Saved";
      toast(saved ? "No longer saved." : "Saved for later.");
    }

    feed.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-feedback]");
      const el = event.target.closest(".item");
      if (event.target.closest("button[data-save]") && el) {
        current = items().indexOf(el);
        toggleSave(el, event.target.closest("button"));
      } else if (event.target.closest("button[data-read-toggle]") && el) {
        current = items().indexOf(el);
        setRead(el, el.dataset.read !== "true", event.target.closest("button"));
      } else if (button && el) {
        current = items().indexOf(el);
        feedback(el, button.dataset.feedback, button);
      } else if (event.target.closest("a[data-open]") && el) {
        // the link opens in a new tab; tell Kith it was opened
        api("POST", `/items/${idOf(el)}/feedback`, { action: "open" }, { keepalive: true })
          .then(() => showRead(el, true))
          .catch((err) => console.warn("kith:", err));
      }
    });

    function open(el) {
      if (!el || !el.dataset.url) return;
      window.open(el.dataset.url, "_blank", "noopener,noreferrer");
      api("POST", `/items/${idOf(el)}/feedback`, { action: "open" }, { keepalive: true })
        .then(() => showRead(el, true))
        .catch((err) => console.warn("kith:", err));
    }

    const help = document.getElementById("help");
    const showHelp = () => { if (help && !help.open) help.showModal(); };
    document.querySelector("[data-help]")?.addEventListener("click", showHelp);

    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (target.closest && target.closest("input, textarea, select, [contenteditable], dialog")) return;
      const keys = {
        j: () => select(current + 1),
        k: () => select(current - 1),
        o: () => open(selected()),
        l: () => feedback(selected(), "like"),
        h: () => feedback(selected(), "hide"),
        s: () => toggleSave(selected()),
        m: () => { const el = selected(); if (el) setRead(el, el.dataset.read !== "true"); },
        "+": () => feedback(selected(), "more"),
        "-": () => feedback(selected(), "less"),
        "?": showHelp,
      };
      const run = keys[event.key];
      if (!run) return;
      if (current < 0 && event.key !== "?" && event.key !== "j" && event.key !== "k") select(0);
      event.preventDefault();
      run();
    });

    // "seen": an item that was on screen and has been scrolled past (above the viewport)
    if ("IntersectionObserver" in window) {
      const shown = new Set();
      const watcher = new IntersectionObserver((entries) => {
        for (const entry of entries) {
          const el = entry.target;
          if (entry.isIntersecting) {
            shown.add(el);
          } else if (shown.has(el) && entry.boundingClientRect.bottom <= 0 && !el.dataset.seen) {
            el.dataset.seen = "1";
            watcher.unobserve(el);
            api("POST", `/items/${idOf(el)}/feedback`,
              { action: "seen", rank: Number(el.dataset.rank) }, { keepalive: true })
              .catch((err) => console.warn("kith:", err));
            if (readOnScroll() && el.dataset.read !== "true") {
              api("POST", `/items/${idOf(el)}/read`, undefined, { keepalive: true })
                .then(() => showRead(el, true))
                .catch((err) => console.warn("kith:", err));
            }
          }
        }
      }, { threshold: [0, 0.5] });
      items().forEach((el) => watcher.observe(el));
    }

    // the catch-up bar: new since the last visit, the scroll setting, mark all read
    const bar = document.querySelector("[data-reading]");
    if (!bar) return;
    const LAST_VISIT = "kith:last-visit";
    const since = (() => { try { return localStorage.getItem(LAST_VISIT); } catch { return null; } })();
    const newSince = bar.querySelector("[data-new-since]");
    if (since && newSince) {
      api("GET", `/timeline/counts?since=${encodeURIComponent(since)}`).then((counts) => {
        if (!counts || !counts.new_since) return;
        const n = counts.new_since;
        newSince.textContent = `${n} new since your last visit.`;
        newSince.hidden = false;
      }).catch((err) => console.warn("kith:", err));
    }
    try { localStorage.setItem(LAST_VISIT, new Date().toISOString()); } catch { /* private mode */ }

    const scrollBox = bar.querySelector("[data-read-on-scroll]");
    if (scrollBox) {
      scrollBox.checked = readOnScroll();
      scrollBox.addEventListener("change", () => {
        try { localStorage.setItem(READ_ON_SCROLL, scrollBox.checked ? "on" : "off"); } catch { /* private */ }
        toast(scrollBox.checked ? "Items you scroll past are marked read." : "Scrolling no longer marks items read.");
      });
    }
    const markAll = bar.querySelector("[data-mark-all-read]");
    markAll?.addEventListener("click", async () => {
      const answer = await act(markAll, () =>
        api("POST", "/timeline/mark-read", { before: Number(bar.dataset.newest) }));
      if (!answer) return;
      toast(`${answer.marked} marked read.`);
      items().forEach((el) => showRead(el, true));
      setTimeout(() => location.reload(), 600);
    });
  }

  document.addEventListener("DOMContentLoaded", timeline);
})();
