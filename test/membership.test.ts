// Membership by consent (issue 11) over GraphQL, with the real server, its in-process mailer and
// a real SMTP server: every reproduction of the issue now fails (invitation hijack, squatting,
// membership without consent, deleting a stranger's account, both enumerations), beside the
// legitimate flow that still works; verification, reset and invitation links are single-use,
// expire, and exist only in the mail (no table holds a token).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server.ts";
import { graphql } from "./helpers/http-server.ts";
import { startMailCatcher, type CaughtMail, type MailCatcher } from "./helpers/mail-catcher.ts";
import { createOwnDatabase, type OwnDatabase } from "./helpers/membership-database.ts";
import { startServerFor } from "./helpers/server-for-database.ts";

let own: OwnDatabase;
let catcher: MailCatcher;
let server: RunningServer;
const PASSWORD = "correct-horse-battery-42";
const PUBLIC_URL = "https://app.prospectflow.test";
/** Every token seen in a mail: none may be readable in any table. */
const tokensSeen = new Set<string>();

beforeAll(async () => {
  own = await createOwnDatabase("membership");
  catcher = await startMailCatcher();
  server = await startServerFor(own.database.urls, {
    MAILER: "in-process",
    SMTP_URL: catcher.url,
    MAIL_POLL_INTERVAL_MS: "50",
    PUBLIC_URL,
  });
});

afterAll(async () => {
  await server?.close();
  await catcher?.close();
  await own?.drop();
});

const uniqueEmail = (label: string) => `${label}.${randomBytes(4).toString("hex")}@example.test`;
type Response = Awaited<ReturnType<typeof graphql>>;
const codeOf = (response: Response) => response.body.errors?.[0]?.extensions?.code;
const call = (query: string, variables: Record<string, unknown> = {}, token?: string) =>
  graphql(server, query, { variables, ...(token ? { token } : {}) });

async function mailTo(email: string, kind: string, after = 0): Promise<CaughtMail> {
  const mail = await catcher.waitFor((m) => m.to === email && m.kind === kind && catcher.messages.indexOf(m) >= after);
  if (mail.token) tokensSeen.add(mail.token);
  return mail;
}

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { message session { token userId organisationId } } }`;
const LOGIN = `mutation($email: String!, $password: String!, $organisation: String) {
  login(input: { email: $email, password: $password, organisation: $organisation }) { token userId organisationId } }`;
const VERIFY = `mutation($token: String!) { verifyEmail(input: { token: $token }) { message } }`;
const INVITE = `mutation($email: String!, $role: String!) {
  inviteMember(input: { email: $email, role: $role }) { result { id email role status expiresAt invitedByUserId } } }`;
const ACCEPT = `mutation($token: String!) { acceptInvitation(input: { token: $token }) { result { organisationId userId role status } } }`;
const SWITCH = `mutation($id: UUID!) { switchOrganisation(input: { organisationId: $id }) { token organisationId } }`;

interface Account {
  email: string;
  token: string;
  userId: string;
  organisationId: string;
}

/** Signs up the way a new user does: register, the link from the mail, then login. */
async function signUp(email = uniqueEmail("owner"), organisationName = "Signed Up Org"): Promise<Account> {
  const mark = catcher.messages.length;
  const registered = await call(REGISTER, { input: { email, password: PASSWORD, organisationName } });
  expect(registered.body.errors, JSON.stringify(registered.body.errors)).toBeUndefined();
  const mail = await mailTo(email, "email_verification", mark);
  expect((await call(VERIFY, { token: mail.token })).body.errors).toBeUndefined();
  const login = await call(LOGIN, { email, password: PASSWORD });
  expect(login.body.errors, JSON.stringify(login.body.errors)).toBeUndefined();
  return { email, ...login.body.data!.login };
}

async function invite(inviter: Account, email: string, role = "member") {
  const mark = catcher.messages.length;
  const response = await call(INVITE, { email, role }, inviter.token);
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  const mail = await mailTo(email, "invitation", mark);
  return { invitation: response.body.data!.inviteMember.result, mail };
}

async function membershipOf(organisationId: string, userId: string) {
  const { rows } = await own.owner.query(
    "select role, status from iam.organisation_users where organisation_id = $1 and user_id = $2",
    [organisationId, userId],
  );
  return rows[0] as { role: string; status: string } | undefined;
}

async function userIdOf(email: string): Promise<string | undefined> {
  const { rows } = await own.owner.query("select id from iam.users where email = $1::citext", [email]);
  return rows[0]?.id;
}

describe("sign-up and verified email", () => {
  it("register answers a taken email exactly like a new one, and mails the owner a notice instead of a link", async () => {
    const email = uniqueEmail("taken");
    const mark = catcher.messages.length;
    const first = await call(REGISTER, { input: { email, password: PASSWORD, organisationName: "First" } });
    const again = await call(REGISTER, {
      input: { email: email.toUpperCase(), password: "another-password-99", organisationName: "Squat" },
    });
    const fresh = await call(REGISTER, {
      input: { email: uniqueEmail("fresh"), password: PASSWORD, organisationName: "Fresh" },
    });
    expect(first.body).toEqual({
      data: { register: { message: expect.stringMatching(/check your mailbox/i), session: null } },
    });
    expect(again.body).toEqual(first.body);
    expect(fresh.body).toEqual(first.body);
    expect(again.status).toBe(first.status);
    await mailTo(email, "email_verification", mark);
    const notice = await mailTo(email, "account_exists", mark);
    expect(notice.token).toBeUndefined();
    expect(notice.subject).toMatch(/already have/i);
    // Again and again: the same answer, but at most one notice an hour (no mail bomb).
    const third = await call(REGISTER, { input: { email, password: "third-password-99", organisationName: "Again" } });
    expect(third.body).toEqual(first.body);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(catcher.messages.filter((m) => m.to === email && m.kind === "account_exists")).toHaveLength(1);
    // Nothing about the existing account changed: one organisation, the first password.
    const { rows } = await own.owner.query(
      "select count(*)::int as n from iam.organisation_users m join iam.users u on u.id = m.user_id where u.email = $1::citext",
      [email],
    );
    expect(rows[0].n).toBe(1);
  });

  it("an unverified account cannot sign in (the same answer as a wrong password); once verified it can", async () => {
    const email = uniqueEmail("unverified");
    const mark = catcher.messages.length;
    await call(REGISTER, { input: { email, password: PASSWORD, organisationName: "Unverified" } });
    const refused = await call(LOGIN, { email, password: PASSWORD });
    const wrong = await call(LOGIN, { email, password: "wrong-password-42" });
    const unknown = await call(LOGIN, { email: uniqueEmail("nobody"), password: PASSWORD });
    expect(codeOf(refused)).toBe("INVALID_CREDENTIALS");
    expect(refused.body.errors).toEqual(wrong.body.errors);
    expect(refused.body.errors).toEqual(unknown.body.errors);
    const mail = await mailTo(email, "email_verification", mark);
    expect(mail.link).toBe(`${PUBLIC_URL}/verify-email?token=${mail.token}`);
    expect(mail.html).toContain(mail.token);
    expect((await call(VERIFY, { token: mail.token })).body.data?.verifyEmail.message).toMatch(/confirmed/);
    expect(codeOf(await call(LOGIN, { email, password: PASSWORD }))).toBeUndefined();
  });

  it("a verification link works once and expires", async () => {
    const email = uniqueEmail("once");
    const mark = catcher.messages.length;
    await call(REGISTER, { input: { email, password: PASSWORD, organisationName: "Once" } });
    const mail = await mailTo(email, "email_verification", mark);
    expect(codeOf(await call(VERIFY, { token: mail.token }))).toBeUndefined();
    expect(codeOf(await call(VERIFY, { token: mail.token }))).toBe("TOKEN_INVALID");
    expect(codeOf(await call(VERIFY, { token: "made-up-token" }))).toBe("TOKEN_INVALID");

    const late = uniqueEmail("late");
    const lateMark = catcher.messages.length;
    await call(REGISTER, { input: { email: late, password: PASSWORD, organisationName: "Late" } });
    const lateMail = await mailTo(late, "email_verification", lateMark);
    await own.owner.query(
      "update app_private.tokens set expires_at = now() - interval '1 second', created_at = now() - interval '3 days' where user_id = (select id from iam.users where email = $1::citext)",
      [late],
    );
    expect(codeOf(await call(VERIFY, { token: lateMail.token }))).toBe("TOKEN_EXPIRED");
    expect(codeOf(await call(LOGIN, { email: late, password: PASSWORD }))).toBe("INVALID_CREDENTIALS");
  });

  it("refuses passwords longer than bcrypt's 72 bytes with WEAK_PASSWORD; 72 bytes are accepted", async () => {
    const tooLong = `${"é".repeat(33)}-1234567`; // 66 + 8 = 74 bytes, 41 characters
    const response = await call(REGISTER, {
      input: { email: uniqueEmail("long"), password: tooLong, organisationName: "Long" },
    });
    expect(codeOf(response)).toBe("WEAK_PASSWORD");
    expect(response.body.errors?.[0]?.message).toMatch(/72 bytes/);
    const exactly72 = `${"a".repeat(70)}-1`;
    const email = uniqueEmail("seventytwo");
    const mark = catcher.messages.length;
    expect(
      codeOf(await call(REGISTER, { input: { email, password: exactly72, organisationName: "Exact" } })),
    ).toBeUndefined();
    const mail = await mailTo(email, "email_verification", mark);
    await call(VERIFY, { token: mail.token });
    expect(codeOf(await call(LOGIN, { email, password: exactly72 }))).toBeUndefined();
    // Nor can a reset set one.
    const mark2 = catcher.messages.length;
    await call(`mutation($e: String!) { requestPasswordReset(input: { email: $e }) { message } }`, { e: email });
    const reset = await mailTo(email, "password_reset", mark2);
    const refused = await call(
      `mutation($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) { message } }`,
      { t: reset.token, p: `${exactly72}x` },
    );
    expect(codeOf(refused)).toBe("WEAK_PASSWORD");
  });

  it("concurrent sign-ups with one organisation name all succeed, with slugs that do not count", async () => {
    const name = `Same Name ${randomBytes(3).toString("hex")}`;
    const responses = await Promise.all(
      Array.from({ length: 6 }, () =>
        call(REGISTER, { input: { email: uniqueEmail("race"), password: PASSWORD, organisationName: name } }),
      ),
    );
    for (const response of responses) expect(response.body.errors).toBeUndefined();
    const { rows } = await own.owner.query<{ slug: string }>("select slug from iam.organisations where name = $1", [
      name,
    ]);
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map((r) => r.slug)).size).toBe(6);
    const base = name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
    for (const { slug } of rows) expect(slug).toMatch(new RegExp(`^${base}(-[0-9a-f]{6})?$`));
    expect(rows.some((r) => /-[2-6]$/.test(r.slug))).toBe(false);
  });
});

describe("invitations by secret link", () => {
  it("the hijack fails: registering the invited address without the link gives no membership; the link does", async () => {
    const acme = await signUp(uniqueEmail("acme-owner"), "Acme Hijack");
    const invitee = uniqueEmail("new.hire");
    const { invitation, mail } = await invite(acme, invitee, "admin");
    expect(invitation).toMatchObject({ email: invitee, role: "admin", status: "pending" });
    expect(mail.link).toBe(`${PUBLIC_URL}/invitations/accept?token=${mail.token}`);

    // The attacker registers the invited address with an organisation of their own.
    const attack = await call(REGISTER, {
      input: { email: invitee, password: "attacker-password-1", organisationName: "Attacker Ltd" },
    });
    expect(attack.body.data?.register.session).toBeNull();
    expect(codeOf(await call(LOGIN, { email: invitee, password: "attacker-password-1" }))).toBe("INVALID_CREDENTIALS");
    const attackerId = (await userIdOf(invitee))!;
    expect(await membershipOf(acme.organisationId, attackerId)).toBeUndefined();

    // The real invitee signs up with the link: it proves the mailbox, so the unverified squat
    // account (which never signed in) becomes theirs, with their password, verified, in acme.
    const joined = await call(REGISTER, { input: { email: invitee, password: PASSWORD, invitationToken: mail.token } });
    expect(joined.body.errors).toBeUndefined();
    expect(joined.body.data?.register.session.organisationId).toBe(acme.organisationId);
    expect(await membershipOf(acme.organisationId, attackerId)).toEqual({ role: "admin", status: "active" });
    expect(codeOf(await call(LOGIN, { email: invitee, password: "attacker-password-1" }))).toBe("INVALID_CREDENTIALS");
    expect(codeOf(await call(LOGIN, { email: invitee, password: PASSWORD, organisation: "no-such-org" }))).toBe(
      "UNKNOWN_ORGANISATION",
    );
    // The link worked once.
    expect(
      codeOf(await call(REGISTER, { input: { email: invitee, password: PASSWORD, invitationToken: mail.token } })),
    ).toBe("INVITATION_INVALID");
  });

  it("a new colleague signs up through the link: verified, a member with the invited role, signed in", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Welcome");
    const email = uniqueEmail("colleague");
    const { mail } = await invite(acme, email, "viewer");
    const joined = await call(REGISTER, { input: { email, password: PASSWORD, invitationToken: mail.token } });
    expect(joined.body.errors, JSON.stringify(joined.body.errors)).toBeUndefined();
    const session = joined.body.data!.register.session;
    expect(session.organisationId).toBe(acme.organisationId);
    expect(await membershipOf(acme.organisationId, session.userId)).toEqual({ role: "viewer", status: "active" });
    expect((await call("{ people { totalCount } }", {}, session.token)).body.errors).toBeUndefined();
    // A viewer reads, and cannot write.
    expect(
      codeOf(
        await call(
          'mutation { createCompany(input: { company: { name: "Nope" } }) { company { id } } }',
          {},
          session.token,
        ),
      ),
    ).toBe("FORBIDDEN");
    // Verified: they can sign in with their password from now on.
    expect(codeOf(await call(LOGIN, { email, password: PASSWORD }))).toBeUndefined();
    // Signing up through an invitation to another address is refused.
    const other = await invite(acme, uniqueEmail("other"), "member");
    expect(
      codeOf(
        await call(REGISTER, {
          input: { email: uniqueEmail("wrong"), password: PASSWORD, invitationToken: other.mail.token },
        }),
      ),
    ).toBe("INVITATION_INVALID");
  });

  it("a verified account is joined through the link only with its own password", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Existing");
    const person = await signUp(uniqueEmail("person"), "Person's own");
    const { mail } = await invite(acme, person.email, "member");
    const wrong = await call(REGISTER, {
      input: { email: person.email, password: "not-their-password-1", invitationToken: mail.token },
    });
    expect(codeOf(wrong)).toBe("ALREADY_EXISTS");
    expect(await membershipOf(acme.organisationId, person.userId)).toBeUndefined();
    const right = await call(REGISTER, {
      input: { email: person.email, password: PASSWORD, invitationToken: mail.token },
    });
    expect(right.body.data?.register.session).toMatchObject({
      userId: person.userId,
      organisationId: acme.organisationId,
    });
    // Their own organisation and password are untouched.
    expect(await membershipOf(person.organisationId, person.userId)).toEqual({ role: "owner", status: "active" });
  });

  it("one link, used twice at once: exactly one sign-up joins", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Race");
    const email = uniqueEmail("racer");
    const { mail } = await invite(acme, email, "member");
    const attempts = await Promise.all(
      [1, 2, 3].map(() => call(REGISTER, { input: { email, password: PASSWORD, invitationToken: mail.token } })),
    );
    expect(attempts.filter((a) => a.body.data?.register?.session).length).toBe(1);
    expect(attempts.map(codeOf).filter(Boolean).sort()).toEqual(["INVITATION_INVALID", "INVITATION_INVALID"]);
  });

  it("squatting fails: an address registered first is not a member when invited, and the invitation looks the same", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Squat");
    const squatted = uniqueEmail("future.colleague");
    await call(REGISTER, { input: { email: squatted, password: "squatter-password-1", organisationName: "Squat" } });
    const existing = await signUp(uniqueEmail("existing"), "Existing person's org");
    await own.owner.query("update iam.users set first_name = 'Secret', last_name = 'Stranger' where id = $1", [
      existing.userId,
    ]);
    const unknown = uniqueEmail("nobody-yet");
    const answers = [];
    for (const email of [squatted, existing.email, unknown]) answers.push((await invite(acme, email)).invitation);
    const shape = (a: Record<string, unknown>) => ({ ...a, id: "id", email: "email", expiresAt: "date" });
    expect(shape(answers[0])).toEqual(shape(answers[2]));
    expect(shape(answers[1])).toEqual(shape(answers[2]));
    expect(answers.every((a) => a.status === "pending")).toBe(true);
    expect(JSON.stringify(answers)).not.toMatch(/Secret|Stranger/);
    expect(await membershipOf(acme.organisationId, (await userIdOf(squatted))!)).toBeUndefined();
    expect(await membershipOf(acme.organisationId, existing.userId)).toBeUndefined();
  });

  it("membership needs consent: an existing account joins only by accepting with the link, signed in as the invited address", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Consent");
    const person = await signUp(uniqueEmail("person"), "Person's org");
    const bystander = await signUp(uniqueEmail("bystander"), "Bystander's org");
    const { mail } = await invite(acme, person.email, "admin");
    expect(await membershipOf(acme.organisationId, person.userId)).toBeUndefined();
    // Somebody else holding the link cannot use it for their own account.
    expect(codeOf(await call(ACCEPT, { token: mail.token }, bystander.token))).toBe("INVITATION_INVALID");
    expect(codeOf(await call(ACCEPT, { token: "no-such-token" }, person.token))).toBe("INVITATION_INVALID");
    const accepted = await call(ACCEPT, { token: mail.token }, person.token);
    expect(accepted.body.errors).toBeUndefined();
    expect(accepted.body.data?.acceptInvitation.result).toEqual({
      organisationId: acme.organisationId,
      userId: person.userId,
      role: "admin",
      status: "active",
    });
    const switched = await call(SWITCH, { id: acme.organisationId }, person.token);
    expect(switched.body.data?.switchOrganisation.organisationId).toBe(acme.organisationId);
    expect(codeOf(await call(ACCEPT, { token: mail.token }, person.token))).toBe("INVITATION_INVALID");
  });

  it("an unverified address cannot accept, and an owner must verify before inviting", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Verify");
    const person = await signUp(uniqueEmail("person"), "Person's org");
    const { mail } = await invite(acme, person.email);
    await own.owner.query("update iam.users set email_verified_at = null where id = $1", [person.userId]);
    expect(codeOf(await call(ACCEPT, { token: mail.token }, person.token))).toBe("EMAIL_NOT_VERIFIED");
    expect(codeOf(await call(INVITE, { email: uniqueEmail("x"), role: "member" }, person.token))).toBe(
      "EMAIL_NOT_VERIFIED",
    );
    await own.owner.query("update iam.users set email_verified_at = now() where id = $1", [person.userId]);
    expect(codeOf(await call(ACCEPT, { token: mail.token }, person.token))).toBeUndefined();
  });

  it("invitations are listed, resent (a new link; the old one stops working) and revoked by members.manage, and expire", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Manage");
    const email = uniqueEmail("managed");
    const first = await invite(acme, email);
    const list = await call("{ invitations { nodes { id email role status invitedByUserId } } }", {}, acme.token);
    expect(list.body.data?.invitations.nodes).toEqual([
      { id: first.invitation.id, email, role: "member", status: "pending", invitedByUserId: acme.userId },
    ]);
    const mark = catcher.messages.length;
    const resent = await call(
      "mutation($id: UUID!) { resendInvitation(input: { invitationId: $id }) { result { id status } } }",
      { id: first.invitation.id },
      acme.token,
    );
    expect(resent.body.data?.resendInvitation.result).toEqual({ id: first.invitation.id, status: "pending" });
    const second = await mailTo(email, "invitation", mark);
    expect(second.token).not.toBe(first.mail.token);
    expect(second.messageId).not.toBe(first.mail.messageId);
    // A viewer (no members.manage) sees no invitation list.
    const viewerEmail = uniqueEmail("viewer");
    const viewerInvite = await invite(acme, viewerEmail, "viewer");
    const viewer = (
      await call(REGISTER, {
        input: { email: viewerEmail, password: PASSWORD, invitationToken: viewerInvite.mail.token },
      })
    ).body.data!.register.session;
    expect(codeOf(await call("{ invitations { totalCount } }", {}, viewer.token))).toBe("FORBIDDEN");
    expect(
      codeOf(
        await call(
          "mutation($id: UUID!) { revokeInvitation(input: { invitationId: $id }) { result { id } } }",
          { id: first.invitation.id },
          viewer.token,
        ),
      ),
    ).toBe("FORBIDDEN");
    // Only the latest link works; revoking ends it.
    const joinWith = (token: string | undefined) =>
      call(REGISTER, { input: { email, password: PASSWORD, invitationToken: token } });
    expect(codeOf(await joinWith(first.mail.token))).toBe("INVITATION_INVALID");
    const revoked = await call(
      "mutation($id: UUID!) { revokeInvitation(input: { invitationId: $id }) { result { status } } }",
      { id: first.invitation.id },
      acme.token,
    );
    expect(revoked.body.data?.revokeInvitation.result.status).toBe("revoked");
    expect(codeOf(await joinWith(second.token))).toBe("INVITATION_INVALID");

    // Expiry: 7 days by default; an expired link is refused with its own code.
    const late = uniqueEmail("late");
    const lateInvite = await invite(acme, late);
    expect(new Date(lateInvite.invitation.expiresAt).getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    await own.owner.query("update iam.invitations set expires_at = now() - interval '1 second' where id = $1", [
      lateInvite.invitation.id,
    ]);
    expect(
      codeOf(
        await call(REGISTER, { input: { email: late, password: PASSWORD, invitationToken: lateInvite.mail.token } }),
      ),
    ).toBe("INVITATION_EXPIRED");
  });

  it("mail is in French for an organisation in France, in English otherwise", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Paris");
    await call(
      'mutation($id: UUID!) { updateOrganisation(input: { id: $id, patch: { countryCode: "FR" } }) { organisation { id } } }',
      { id: acme.organisationId },
      acme.token,
    );
    const { mail } = await invite(acme, uniqueEmail("collegue"), "admin");
    expect(mail.subject).toBe("Invitation à rejoindre Acme Paris sur ProspectFlow");
    expect(mail.text).toContain("en tant que administrateur");
    expect(mail.html).toContain("Accepter l&#39;invitation");
  });
});

describe("password reset", () => {
  const REQUEST = `mutation($e: String!) { requestPasswordReset(input: { email: $e }) { message } }`;
  const RESET = `mutation($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) { message } }`;

  it("answers the same for any address, mails a single-use link, ends every session and mails a notice", async () => {
    const account = await signUp(uniqueEmail("forgetful"), "Forgetful");
    const mark = catcher.messages.length;
    const known = await call(REQUEST, { e: account.email });
    // Asked twice within a minute: one mail (the first link is on its way).
    expect((await call(REQUEST, { e: account.email })).body).toEqual(known.body);
    const unknownAddress = uniqueEmail("nobody");
    const unknown = await call(REQUEST, { e: unknownAddress });
    expect(unknown.body).toEqual(known.body);
    const mail = await mailTo(account.email, "password_reset", mark);
    expect(mail.link).toBe(`${PUBLIC_URL}/reset-password?token=${mail.token}`);
    expect(codeOf(await call(RESET, { t: mail.token, p: "short" }))).toBe("WEAK_PASSWORD");
    // A refused password does not use the link up.
    expect(codeOf(await call(RESET, { t: mail.token, p: "brand-new-password-7" }))).toBeUndefined();
    expect(codeOf(await call(RESET, { t: mail.token, p: "another-new-password-8" }))).toBe("TOKEN_INVALID");
    expect(codeOf(await call("{ people { totalCount } }", {}, account.token))).toBe("SESSION_REVOKED");
    expect(codeOf(await call(LOGIN, { email: account.email, password: PASSWORD }))).toBe("INVALID_CREDENTIALS");
    expect(codeOf(await call(LOGIN, { email: account.email, password: "brand-new-password-7" }))).toBeUndefined();
    await mailTo(account.email, "password_changed", mark);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(
      catcher.messages.filter((m, i) => i >= mark && m.to === account.email && m.kind === "password_reset"),
    ).toHaveLength(1);
    expect(catcher.messages.filter((m) => m.to === unknownAddress)).toEqual([]);
  });

  it("a reset link expires", async () => {
    const account = await signUp(uniqueEmail("slow"), "Slow");
    const mark = catcher.messages.length;
    await call(REQUEST, { e: account.email });
    const mail = await mailTo(account.email, "password_reset", mark);
    const { rows } = await own.owner.query(
      "select extract(epoch from expires_at - now())::int as seconds from app_private.tokens where user_id = $1 and purpose = 'reset_password'",
      [account.userId],
    );
    expect(rows[0].seconds).toBeGreaterThan(25 * 60);
    expect(rows[0].seconds).toBeLessThanOrEqual(30 * 60);
    await own.owner.query(
      "update app_private.tokens set expires_at = now() - interval '1 second' where user_id = $1 and purpose = 'reset_password'",
      [account.userId],
    );
    expect(codeOf(await call(RESET, { t: mail.token, p: "brand-new-password-7" }))).toBe("TOKEN_EXPIRED");
    expect(codeOf(await call(LOGIN, { email: account.email, password: PASSWORD }))).toBeUndefined();
  });
});

describe("ownership by consent", () => {
  const TRANSFER = `mutation($u: UUID!) { transferOwnership(input: { userId: $u }) { result { fromUserId toUserId acceptedAt } } }`;
  const ACCEPT_OWNERSHIP = `mutation { acceptOwnership(input: {}) { result { userId role } } }`;

  it("offering changes nothing until the member accepts; nobody else can accept", async () => {
    const acme = await signUp(uniqueEmail("acme"), "Acme Ownership");
    const email = uniqueEmail("heir");
    const { mail } = await invite(acme, email, "member");
    const heir = (await call(REGISTER, { input: { email, password: PASSWORD, invitationToken: mail.token } })).body
      .data!.register.session;
    const otherEmail = uniqueEmail("other");
    const otherInvite = await invite(acme, otherEmail, "admin");
    const other = (
      await call(REGISTER, {
        input: { email: otherEmail, password: PASSWORD, invitationToken: otherInvite.mail.token },
      })
    ).body.data!.register.session;

    const mark = catcher.messages.length;
    const offered = await call(TRANSFER, { u: heir.userId }, acme.token);
    expect(offered.body.data?.transferOwnership.result).toEqual({
      fromUserId: acme.userId,
      toUserId: heir.userId,
      acceptedAt: null,
    });
    const offerMail = await mailTo(email, "ownership_offer", mark);
    expect(offerMail.subject).toMatch(/offers you ownership of Acme Ownership/);
    expect(await membershipOf(acme.organisationId, acme.userId)).toEqual({ role: "owner", status: "active" });
    expect(await membershipOf(acme.organisationId, heir.userId)).toEqual({ role: "member", status: "active" });
    // A member cannot offer; another member cannot accept an offer made to someone else.
    expect(codeOf(await call(TRANSFER, { u: other.userId }, heir.token))).toBe("FORBIDDEN");
    expect(codeOf(await call(ACCEPT_OWNERSHIP, {}, other.token))).toBe("NOT_FOUND");
    const accepted = await call(ACCEPT_OWNERSHIP, {}, heir.token);
    expect(accepted.body.data?.acceptOwnership.result).toEqual({ userId: heir.userId, role: "owner" });
    expect(await membershipOf(acme.organisationId, acme.userId)).toEqual({ role: "admin", status: "active" });
    expect(codeOf(await call(ACCEPT_OWNERSHIP, {}, heir.token))).toBe("NOT_FOUND");
  });
});

describe("deleting an organisation deletes only what it owns", () => {
  const DELETE = `mutation($slug: String!) { deleteCurrentOrganisation(input: { confirmationSlug: $slug }) { result } }`;

  it("a stranger's account survives; accounts created for the organisation go; the record says which", async () => {
    const evil = await signUp(uniqueEmail("evil"), "Evil Corp");
    const stranger = await signUp(uniqueEmail("stranger"), "Stranger's own");
    // The stranger consents to join Evil, then leaves their own organisation's membership behind:
    // before, an account with no other membership was deleted with whichever organisation it was in.
    const strangerInvite = await invite(evil, stranger.email);
    await call(ACCEPT, { token: strangerInvite.mail.token }, stranger.token);
    await own.owner.query("delete from iam.organisation_users where organisation_id = $1 and user_id = $2", [
      stranger.organisationId,
      stranger.userId,
    ]);
    const hireEmail = uniqueEmail("hire");
    const hireInvite = await invite(evil, hireEmail);
    const hire = (
      await call(REGISTER, { input: { email: hireEmail, password: PASSWORD, invitationToken: hireInvite.mail.token } })
    ).body.data!.register.session;

    const { rows: slug } = await own.owner.query("select slug from iam.organisations where id = $1", [
      evil.organisationId,
    ]);
    const response = await call(DELETE, { slug: slug[0].slug }, evil.token);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.deleteCurrentOrganisation.result).toMatchObject({
      accountsDeleted: 2,
      accountsKept: 1,
    });
    const { rows: users } = await own.owner.query("select id from iam.users where id = any($1) order by id", [
      [evil.userId, stranger.userId, hire.userId],
    ]);
    expect(users).toEqual([{ id: stranger.userId }]);
    const { rows: records } = await own.owner.query(
      "select accounts_deleted, accounts_kept, rows_removed from app_private.organisation_deletions where organisation_id = $1",
      [evil.organisationId],
    );
    expect(records[0].accounts_deleted.sort()).toEqual([evil.userId, hire.userId].sort());
    expect(records[0].accounts_kept).toEqual([stranger.userId]);
    expect(records[0].rows_removed["iam.users"]).toBe(2);
    // The stranger's email is not free for anyone to register: it still has its account.
    const mark = catcher.messages.length;
    await call(REGISTER, { input: { email: stranger.email, password: PASSWORD, organisationName: "Taker" } });
    await mailTo(stranger.email, "account_exists", mark);
  });
});

describe("secrets", () => {
  it("no token of any mailed link is readable in any table; only SHA-256 hashes are stored", async () => {
    expect(tokensSeen.size).toBeGreaterThan(10);
    const { rows: tables } = await own.owner.query<{ name: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`,
    );
    const tokens = [...tokensSeen];
    for (const { name } of tables) {
      const { rows } = await own.owner.query(
        `select count(*)::int as n from ${name} t where exists (select 1 from unnest($1::text[]) tok where t::text like '%' || tok || '%')`,
        [tokens],
      );
      expect(rows[0].n, name).toBe(0);
    }
    const { rows } = await own.owner.query(
      "select count(*)::int as n from app_private.tokens where token_hash = any(select extensions.digest(tok, 'sha256') from unnest($1::text[]) tok)",
      [tokens],
    );
    expect(rows[0].n).toBeGreaterThan(0);
  });
});
