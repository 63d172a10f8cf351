// Start: pick a template, a topic, both names and optionally a counselor; then one invite
// link per person, each with a copy button and a QR code.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { Role, type CreateRoomResponse, type TemplateSummary } from "@mend/client";
import { http } from "../server";
import { inviteLink, kDashboardHash } from "../invite";
import { Notice } from "../components/Notice";
import { QrCode } from "../components/QrCode";
import { errorWords } from "../errors";

export function Start() {
  const templates = useSignal<TemplateSummary[] | undefined>(undefined);
  const error = useSignal("");
  const created = useSignal<{ room: CreateRoomResponse; names: string[] } | undefined>(undefined);

  useEffect(() => {
    http
      .listTemplates()
      .then((list) => {
        templates.value = list.templates;
        // For tools/web-budgets.mjs: the first screen is on the page from the next frame on.
        requestAnimationFrame(() => performance.mark("mend:first-screen"));
      })
      .catch((e: unknown) => (error.value = errorWords(e)));
  }, []);

  if (created.value) return <Invites room={created.value.room} names={created.value.names} />;
  return (
    <main class="screen">
      <h1>Start a conversation</h1>
      <p class="lead">
        mend holds a calm space for two people: one speaks, the other listens and says back what they heard. Pick a
        way to talk, then send each person their own link.
      </p>
      {error.value && <Notice tone="error">{error.value}</Notice>}
      <p class="muted">
        Counselor? <a href={kDashboardHash}>See your caseload</a>.
      </p>
      {templates.value ? (
        <StartForm
          templates={templates.value}
          onCreated={(room, names) => (created.value = { room, names })}
          onError={(message) => (error.value = message)}
        />
      ) : (
        !error.value && <p aria-live="polite">Loading the ways to talk...</p>
      )}
    </main>
  );
}

function StartForm(props: {
  templates: TemplateSummary[];
  onCreated: (room: CreateRoomResponse, names: string[]) => void;
  onError: (message: string) => void;
}) {
  const template = useSignal(props.templates[0]?.name ?? "");
  const busy = useSignal(false);

  async function submit(e: SubmitEvent) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const text = (name: string) => String(form.get(name) ?? "").trim();
    const counselor = text("counselor");
    busy.value = true;
    try {
      const room = await http.createRoom({
        template: template.value,
        topic: text("topic"),
        partnerAName: text("partnerA"),
        partnerBName: text("partnerB"),
        observers: counselor ? [counselor] : [],
      });
      props.onCreated(room, [text("partnerA"), text("partnerB"), counselor]);
    } catch (err) {
      props.onError(errorWords(err));
    } finally {
      busy.value = false;
    }
  }

  return (
    <form class="stack" onSubmit={submit}>
      <fieldset class="templates">
        <legend>How would you like to talk?</legend>
        {props.templates.map((t) => (
          <label class="template" key={t.name}>
            <input
              type="radio"
              name="template"
              value={t.name}
              checked={template.value === t.name}
              onChange={() => (template.value = t.name)}
            />
            <span>
              <strong>{t.title}</strong>
              <span class="muted">{t.description}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <label>
        What would you like to talk about? <span class="muted">(optional: it can be named when you open)</span>
        <input name="topic" maxLength={200} autoComplete="off" />
      </label>
      <div class="pair">
        <label>
          Your name
          <input name="partnerA" required maxLength={64} autoComplete="given-name" />
        </label>
        <label>
          Your partner's name
          <input name="partnerB" required maxLength={64} autoComplete="off" />
        </label>
      </div>
      <label>
        A counselor to observe <span class="muted">(optional; only with both of your consent)</span>
        <input name="counselor" maxLength={64} pattern="[A-Za-z0-9 ._\-]{1,64}" autoComplete="off" />
      </label>
      <button type="submit" class="primary" disabled={busy.value}>
        {busy.value ? "Creating..." : "Create the invitations"}
      </button>
    </form>
  );
}

function Invites({ room, names }: { room: CreateRoomResponse; names: string[] }) {
  const copied = useSignal("");
  const who = (role: Role) =>
    role === Role.PARTNER_A ? `${names[0]} (you)` : role === Role.PARTNER_B ? (names[1] ?? "") : `${names[2] || "Counselor"} (counselor)`;
  async function copy(link: string, name: string) {
    try {
      await navigator.clipboard.writeText(link);
      copied.value = `Copied the link for ${name}.`;
    } catch {
      copied.value = "Copying is not allowed here: select the link and copy it by hand.";
    }
  }
  return (
    <main class="screen">
      <h1>Your invitations are ready</h1>
      <p class="lead">
        Each person gets their own private link. Send it the way you usually talk (a message, or show the code to a
        phone). Anyone with a link can join as that person, so share each one only with them.
      </p>
      <p class="sr-only" role="status">
        {copied.value}
      </p>
      <ul class="invites">
        {room.invites.map((invite) => {
          const link = inviteLink(invite.token);
          const name = who(invite.participant?.role ?? Role.ROLE_UNSPECIFIED) ?? "";
          return (
            <li class="invite card" key={invite.token}>
              <h2>{name}</h2>
              <QrCode text={link} label={`QR code of the link for ${name}`} />
              <label>
                Link for {name}
                <input readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
              </label>
              <div class="row">
                <button type="button" onClick={() => copy(link, name)}>
                  Copy the link for {name}
                </button>
                {invite.participant?.role === Role.PARTNER_A && (
                  <a class="button primary" href={link}>
                    Open my conversation
                  </a>
                )}
              </div>
            </li>
          );
        })}
      </ul>
      {copied.value && <p class="muted">{copied.value}</p>}
    </main>
  );
}
