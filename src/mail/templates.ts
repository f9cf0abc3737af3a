// The mail templates: one small text + HTML message per kind of outbox row, in English and French.
// Parameters come from the outbox (names, role, dates; never a secret); the link comes from the
// mailer, which holds the token only while it sends.

export type MailKind =
  "email_verification" | "account_exists" | "password_reset" | "password_changed" | "invitation" | "ownership_offer";
export type Locale = "en" | "fr";

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /** The link the message carries (also in text and HTML). */
  link: string;
}

type Params = Record<string, unknown>;

/** Where each kind's link points, under PUBLIC_URL; `token` is absent for notices. */
export function linkFor(kind: MailKind, publicUrl: string, token: string | null, params: Params): string {
  const withToken = (path: string) => `${publicUrl}${path}${token ? `?token=${encodeURIComponent(token)}` : ""}`;
  switch (kind) {
    case "email_verification":
      return withToken("/verify-email");
    case "invitation":
      return withToken("/invitations/accept");
    case "password_reset":
      return withToken("/reset-password");
    case "account_exists":
    case "password_changed":
      return `${publicUrl}/forgot-password`;
    case "ownership_offer":
      return `${publicUrl}/organisations/${encodeURIComponent(String(params.organisationSlug ?? ""))}/ownership`;
  }
}

const ROLE_NAMES: Record<Locale, Record<string, string>> = {
  en: { admin: "an admin", member: "a member", viewer: "a viewer" },
  fr: { admin: "administrateur", member: "membre", viewer: "lecteur" },
};

function date(value: unknown, locale: Locale): string {
  const parsed = new Date(String(value));
  if (Number.isNaN(parsed.getTime())) return "";
  return parsed.toLocaleDateString(locale === "fr" ? "fr-FR" : "en-GB", {
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
}

interface Copy {
  subject: string;
  lines: string[];
  action: string;
}

function copyFor(kind: MailKind, locale: Locale, p: Params): Copy {
  const organisation = String(p.organisationName ?? "");
  const fr = locale === "fr";
  switch (kind) {
    case "email_verification":
      return fr
        ? {
            subject: "Confirmez votre adresse e-mail",
            lines: [
              `Bienvenue sur ProspectFlow ! Confirmez votre adresse pour activer votre compte et l'organisation « ${organisation} ».`,
              "Ce lien fonctionne une fois, pendant 2 jours. Si vous n'avez rien demandé, ignorez ce message.",
            ],
            action: "Confirmer mon adresse",
          }
        : {
            subject: "Confirm your email address",
            lines: [
              `Welcome to ProspectFlow! Confirm your address to activate your account and the organisation "${organisation}".`,
              "This link works once, for 2 days. If you did not sign up, ignore this message.",
            ],
            action: "Confirm my address",
          };
    case "account_exists":
      return fr
        ? {
            subject: "Vous avez déjà un compte ProspectFlow",
            lines: [
              "Quelqu'un (peut-être vous) a voulu créer un compte ProspectFlow avec cette adresse, qui en a déjà un. Rien n'a changé.",
              "Connectez-vous avec votre mot de passe ; s'il est oublié, demandez-en un nouveau. Si ce n'était pas vous, ignorez ce message.",
            ],
            action: "Mot de passe oublié",
          }
        : {
            subject: "You already have a ProspectFlow account",
            lines: [
              "Someone (maybe you) tried to create a ProspectFlow account with this address, which already has one. Nothing changed.",
              "Sign in with your password; if you forgot it, ask for a new one. If it was not you, ignore this message.",
            ],
            action: "Forgot my password",
          };
    case "password_reset":
      return fr
        ? {
            subject: "Choisissez un nouveau mot de passe",
            lines: [
              "Vous avez demandé à changer votre mot de passe ProspectFlow.",
              "Ce lien fonctionne une fois, pendant 30 minutes. Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste le même.",
            ],
            action: "Choisir un mot de passe",
          }
        : {
            subject: "Choose a new password",
            lines: [
              "You asked to change your ProspectFlow password.",
              "This link works once, for 30 minutes. If you did not ask, ignore this message: your password stays the same.",
            ],
            action: "Choose a password",
          };
    case "password_changed":
      return fr
        ? {
            subject: "Votre mot de passe a été changé",
            lines: [
              "Le mot de passe de votre compte ProspectFlow vient d'être changé et toutes vos sessions ont été fermées.",
              "Si ce n'était pas vous, demandez immédiatement un nouveau mot de passe.",
            ],
            action: "Mot de passe oublié",
          }
        : {
            subject: "Your password was changed",
            lines: [
              "The password of your ProspectFlow account was just changed, and every session was signed out.",
              "If it was not you, ask for a new password at once.",
            ],
            action: "Forgot my password",
          };
    case "invitation": {
      const role = ROLE_NAMES[locale][String(p.role)] ?? String(p.role);
      const inviter = String(p.inviterName ?? (fr ? "Un membre" : "A member"));
      return fr
        ? {
            subject: `Invitation à rejoindre ${organisation} sur ProspectFlow`,
            lines: [
              `${inviter} vous invite à rejoindre « ${organisation} » en tant que ${role}.`,
              `Avec ce lien, connectez-vous si vous avez un compte, ou créez-en un. Il est valable jusqu'au ${date(p.expiresAt, locale)}.`,
            ],
            action: "Accepter l'invitation",
          }
        : {
            subject: `Invitation to join ${organisation} on ProspectFlow`,
            lines: [
              `${inviter} invites you to join "${organisation}" as ${role}.`,
              `With this link, sign in if you have an account, or create one. It is valid until ${date(p.expiresAt, locale)}.`,
            ],
            action: "Accept the invitation",
          };
    }
    case "ownership_offer": {
      const offeredBy = String(p.offeredBy ?? "");
      return fr
        ? {
            subject: `${offeredBy} vous propose la propriété de ${organisation}`,
            lines: [
              `${offeredBy} vous propose de devenir propriétaire de « ${organisation} » sur ProspectFlow.`,
              `Rien ne change tant que vous n'acceptez pas (acceptOwnership, connecté à ${organisation}), au plus tard le ${date(p.expiresAt, locale)}.`,
            ],
            action: "Voir la proposition",
          }
        : {
            subject: `${offeredBy} offers you ownership of ${organisation}`,
            lines: [
              `${offeredBy} offers to make you the owner of "${organisation}" on ProspectFlow.`,
              `Nothing changes until you accept (acceptOwnership, signed in to ${organisation}), by ${date(p.expiresAt, locale)}.`,
            ],
            action: "See the offer",
          };
    }
  }
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

export function renderMail(kind: MailKind, locale: Locale, params: Params, link: string): RenderedMail {
  const copy = copyFor(kind, locale === "fr" ? "fr" : "en", params);
  const text = `${copy.lines.join("\n\n")}\n\n${copy.action}: ${link}\n\n-- \nProspectFlow\n`;
  const html =
    `<!doctype html><html lang="${locale}"><body style="font-family:sans-serif;line-height:1.5">` +
    copy.lines.map((line) => `<p>${escapeHtml(line)}</p>`).join("") +
    `<p><a href="${escapeHtml(link)}">${escapeHtml(copy.action)}</a></p>` +
    `<p style="color:#666;font-size:small">${escapeHtml(link)}</p>` +
    `<p style="color:#666">ProspectFlow</p></body></html>`;
  return { subject: copy.subject, text, html, link };
}
