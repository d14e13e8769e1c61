// The search page's "More": the next page comes from /api/v1/search (window.Kith.api)
// and is appended; snippets are built from snippet_text and marks with text nodes, so
// no HTML from the API is ever parsed.
(() => {
  "use strict";
  const list = document.querySelector("[data-results]");
  const more = document.querySelector("[data-more]");
  if (!list || !more || !window.Kith) return;

  function initials(name) {
    const words = (name || "").replace(/\./g, " ").split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
    return words.slice(0, 2).map((w) => w[0]).join("").toUpperCase() || "?";
  }

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(item) {
    const li = el("li", { class: "item", "data-item": String(item.id) });
    const meta = el("div", { class: "meta" });
    meta.append(el("span", { class: "avatar", "aria-hidden": "true" }, initials(item.person?.name)));
    meta.append(item.person
      ? el("a", { class: "person", href: `/people/${item.person.id}` }, item.person.name)
      : el("span", { class: "person" }, "Unknown"));
    meta.append(el("span", { class: "source" }, item.source.title || ""));
    meta.append(el("time", { datetime: item.published }, new Date(item.published).toLocaleDateString()));
    li.append(meta);
    const title = el("h2", { class: "title" });
    const label = item.title || "(untitled)";
    if (item.url && /^https?:\/\//i.test(item.url)) {
      title.append(el("a", { href: item.url, rel: "noopener noreferrer", target: "_blank" }, label));
    } else {
      title.textContent = label;
    }
    li.append(title);
    const snippet = el("p", { class: "snippet" });
    // the offsets count code points (Python's str), not UTF-16 units
    const chars = Array.from(item.snippet_text);
    const text = (from, to) => chars.slice(from, to).join("");
    let at = 0;
    for (const [start, end] of item.marks) {
      snippet.append(document.createTextNode(text(at, start)));
      snippet.append(el("mark", {}, text(start, end)));
      at = end;
    }
    snippet.append(document.createTextNode(text(at)));
    li.append(snippet);
    return li;
  }

  more.addEventListener("click", async (event) => {
    event.preventDefault();
    const params = new URLSearchParams({ q: list.dataset.q, cursor: more.dataset.cursor, limit: list.dataset.limit || "20" });
    const page = await window.Kith.act(more, () => window.Kith.api("GET", `/search?${params}`));
    if (!page) return;
    for (const item of page.items) list.append(card(item));
    if (page.next_cursor) {
      more.dataset.cursor = page.next_cursor;
      more.href = `/search?${new URLSearchParams({ q: list.dataset.q, limit: list.dataset.limit || "20", cursor: page.next_cursor })}`;
    } else {
      more.closest(".more").remove();
    }
  });
})();
