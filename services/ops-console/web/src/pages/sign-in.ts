/** The sign-in page: a local account's form and/or the OpenID provider's button, and why a sign-in failed. */
import { ApiError, api } from "../api.js";
import { h, show } from "../dom.js";

/** What a failed sign-in's code means, as the page says it. */
const FAILURES: Record<string, string> = {
  CONSOLE_NO_ROLE:
    "Your account has no role in this console (CONSOLE_NO_ROLE). Ask for one: the console's log names the groups your identity provider sent.",
  CONSOLE_SIGN_IN_FAILED:
    "The sign-in did not succeed: it was cancelled, took too long or failed a check (CONSOLE_SIGN_IN_FAILED). Sign in again.",
};

interface Methods {
  local: boolean;
  oidc: { label: string; url: string } | null;
}

export async function renderSignIn(root: HTMLElement, onSignedIn: () => void): Promise<void> {
  const params = new URLSearchParams(location.search);
  // The code only: a message taken from the address would let any link put words on our page.
  const failure =
    FAILURES[params.get("error") ?? ""] ?? (params.has("error") ? FAILURES["CONSOLE_SIGN_IN_FAILED"] : null);
  if (params.has("error")) history.replaceState(null, "", location.pathname + location.hash);
  const methods = await api<Methods>("GET", "/auth/methods");
  const message = h("p", { class: "error", role: "alert", id: "sign-in-error" }, failure ?? "");
  const returnTo = location.hash || "#plants";
  const form = methods.local
    ? h(
        "form",
        { id: "sign-in-form", class: "card" },
        h("label", {}, "Name", h("input", { name: "name", autocomplete: "username", required: true })),
        h(
          "label",
          {},
          "Password",
          h("input", {
            name: "password",
            type: "password",
            autocomplete: "current-password",
            required: true,
          }),
        ),
        h("button", { type: "submit", id: "sign-in" }, "Sign in"),
      )
    : null;
  form?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    message.textContent = "";
    try {
      await api("POST", "/auth/local", { name: data.get("name"), password: data.get("password") });
      onSignedIn();
    } catch (err) {
      message.textContent = err instanceof ApiError ? err.message : String(err);
    }
  });
  show(
    root,
    h(
      "main",
      { class: "sign-in" },
      h("h1", {}, "Threadline console"),
      h("p", { class: "muted" }, "Plants, orders, dead letters and quality of the digital thread."),
      message,
      form,
      methods.oidc
        ? h(
            "a",
            {
              class: "button",
              id: "sign-in-oidc",
              href: `${methods.oidc.url}?returnTo=${encodeURIComponent(`/${returnTo}`)}`,
            },
            `Sign in with ${methods.oidc.label}`,
          )
        : null,
    ),
  );
}
