// The Digest page's "By e-mail" form: saves the choice through PUT /api/v1/me/digest-mail.
"use strict";

(() => {
  const form = document.getElementById("digest-mail-form");
  const status = document.getElementById("digest-mail-status");
  if (!form || !window.Kith) return;
  const { api, toast, ApiError } = window.Kith;

  function describe(mail) {
    if (mail.frequency === "off") return "The digest mail is off.";
    const when = mail.frequency === "daily" ? "every day" : "every Monday";
    const hour = String(mail.hour_utc).padStart(2, "0");
    const note = mail.mail_configured ? "" : " (this server has no KITH_SMTP_URL yet: nothing goes out)";
    return `Goes to ${mail.email} ${when} at ${hour}:00 UTC${note}.`;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      frequency: data.get("frequency"),
      email: (data.get("email") || "").trim() || null,
      hour_utc: Number(data.get("hour_utc")),
    };
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const mail = await api("PUT", "/me/digest-mail", body);
      status.textContent = describe(mail);
      toast("Saved");
    } catch (err) {
      // a refused address is the user's to fix: shown, not logged as an error
      status.textContent = err instanceof ApiError ? err.message : String(err);
      toast(status.textContent, "error");
    } finally {
      button.disabled = false;
    }
  });

  api("GET", "/me/digest-mail").then((mail) => { status.textContent = describe(mail); })
    .catch(() => {});
})();
