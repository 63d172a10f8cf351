// Plain words for who did what: names of participants, phases and timeline entries.
import {
  ClosedReason,
  Phase,
  ReflectionKind,
  Role,
  type Actor,
  type Event,
  type RoomView,
  type Startup,
} from "@mend/client";
import { repairLabel, signalLabel } from "./actions";

/** The name a person sees for `actor` ("you" for the viewer). */
export function nameOf(actor: Actor | undefined, view: RoomView | undefined, you = true): string {
  if (!actor) return "Someone";
  if (you && view?.you && actor.role === view.you.role && actor.observer === view.you.observer) return "You";
  switch (actor.role) {
    case Role.PARTNER_A:
      return view?.partnerAName || "Partner A";
    case Role.PARTNER_B:
      return view?.partnerBName || "Partner B";
    case Role.OBSERVER:
      return actor.observer ? `${actor.observer} (counselor)` : "The counselor";
    case Role.SYSTEM:
      return "mend";
    default:
      return "Someone";
  }
}

/** Both partners' names as `view` tells them (for the charts' labels). */
export function namesOf(view: RoomView | undefined): { a: string; b: string } {
  return { a: roleName(Role.PARTNER_A, view, false), b: roleName(Role.PARTNER_B, view, false) };
}

export function roleName(role: Role, view: RoomView | undefined, you = true): string {
  return nameOf({ role, observer: "" } as Actor, view, you);
}

/** One line per partner who made a choice: "Ana is ready to move on", "You are ready to move on". */
export function choiceWords(view: RoomView, aChose: boolean, bChose: boolean, third: string, second: string): string[] {
  const lines: string[] = [];
  for (const [role, chose] of [[Role.PARTNER_A, aChose], [Role.PARTNER_B, bChose]] as const) {
    if (!chose) continue;
    lines.push(role === view.you?.role ? `You ${second}` : `${roleName(role, view)} ${third}`);
  }
  return lines;
}

const kPhaseWords: Partial<Record<Phase, string>> = {
  [Phase.INVITED]: "Waiting for both of you to start",
  [Phase.CONSENT]: "Agreeing on privacy",
  [Phase.OPENING]: "Opening the conversation",
  [Phase.SPEAKING]: "Speaking",
  [Phase.MIRRORING]: "Saying back what was heard",
  [Phase.CONFIRMING]: "Checking it was heard right",
  [Phase.MORE]: "Is there more?",
  [Phase.SUMMARY]: "Summing up",
  [Phase.VALIDATION]: "Validating",
  [Phase.EMPATHY]: "Empathy",
  [Phase.APOLOGY_RESPONSE]: "Answering the apology",
  [Phase.SOLUTION_GATE]: "Do you both feel understood?",
  [Phase.PROBLEM_SOLVING]: "Looking for solutions",
  [Phase.CLOSING]: "Closing with appreciation",
  [Phase.CLOSED]: "The conversation has ended",
  [Phase.PAUSED]: "A short pause",
  [Phase.CHECK_IN]: "Ready to continue?",
  [Phase.TIMED_OUT]: "A time-out",
  [Phase.SUSPENDED]: "Paused until you pick a new time",
  [Phase.CONSULT_BREAK]: "A consultation break",
};

export function phaseWords(phase: Phase): string {
  return kPhaseWords[phase] ?? "";
}

const kOverlays = new Set([Phase.PAUSED, Phase.TIMED_OUT, Phase.CONSULT_BREAK, Phase.CHECK_IN, Phase.SUSPENDED]);

/** A pause, time-out, check-in, suspension or break: the conversation itself rests. */
export function isOverlay(phase: Phase): boolean {
  return kOverlays.has(phase);
}

/**
 * Where a conversation is, for its counselor (third person: the counselor is not one of the
 * "you" the partners' words address): "Speaking", "A time-out (from: Speaking)", "Ended: ...".
 */
export function caseloadPhaseWords(phase: Phase, savedPhase: Phase, reason: ClosedReason): string {
  if (phase === Phase.INVITED) return "Invited, not started yet";
  if (phase === Phase.CLOSED) return `Ended: ${kCaseloadClosed[reason]}`;
  const words = phaseWords(phase) || "Under way";
  return isOverlay(phase) && savedPhase !== Phase.UNSPECIFIED ? `${words} (during: ${phaseWords(savedPhase)})` : words;
}

const kCaseloadClosed: Record<ClosedReason, string> = {
  [ClosedReason.CLOSED_REASON_UNSPECIFIED]: "the conversation has ended",
  [ClosedReason.COMPLETED]: "they finished the conversation together",
  [ClosedReason.PARTNER_LEFT]: "a partner ended the conversation",
  [ClosedReason.ENDED_BY_OBSERVER]: "a counselor ended the session",
  [ClosedReason.INVITATION_EXPIRED]: "the invitation ran out before it started",
};

/** "just now", "5 minutes ago", "2 hours ago", else the date: how long ago `atMs` was. */
export function agoWords(atMs: number, nowMs: number): string {
  if (atMs <= 0) return "not yet";
  const s = Math.max(0, Math.floor((nowMs - atMs) / 1000));
  if (s < 60) return "just now";
  const m = Math.floor(s / 60);
  if (m < 60) return m === 1 ? "a minute ago" : `${m} minutes ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return h === 1 ? "an hour ago" : `${h} hours ago`;
  return new Date(atMs).toLocaleDateString();
}

const kClosedWords: Record<ClosedReason, string> = {
  [ClosedReason.CLOSED_REASON_UNSPECIFIED]: "The conversation has ended.",
  [ClosedReason.COMPLETED]: "You finished the conversation together.",
  [ClosedReason.PARTNER_LEFT]: "A partner ended the conversation.",
  [ClosedReason.ENDED_BY_OBSERVER]: "The counselor ended the session.",
  [ClosedReason.INVITATION_EXPIRED]: "The invitation ran out before the conversation started.",
};

export function closedWords(reason: ClosedReason): string {
  return kClosedWords[reason];
}

const kReflectionKind: Record<ReflectionKind, string> = {
  [ReflectionKind.REFLECTION_KIND_UNSPECIFIED]: "reflection",
  [ReflectionKind.MIRROR]: "mirror",
  [ReflectionKind.SUMMARY]: "summary",
  [ReflectionKind.VALIDATION]: "validation",
  [ReflectionKind.EMPATHY]: "empathy",
};

/** A timeline entry: the kind of message and its text, or a line saying what happened. */
export interface Entry {
  kind: string;
  text?: string;
  /** Messages with text are content; the rest are quiet lines about the flow. */
  content: boolean;
  /** A flow line that is a whole sentence (not "<who> <kind>"). */
  sentence?: boolean;
  /** Further lines of a message (the opening's start-up lines). */
  lines?: string[];
}

/** The start-up form's lines as the opener wrote them: "I feel ...", "about ...", "and I need ...". */
export function startupLines(startup: Startup | undefined): string[] {
  if (!startup) return [];
  const lines: string[] = [];
  if (startup.feeling) lines.push(`I feel ${startup.feeling}`);
  if (startup.situation) lines.push(`about ${startup.situation}`);
  if (startup.need) lines.push(`and I need ${startup.need}`);
  return lines;
}

/** "has"/"have" and friends: flow lines read "Ben is back" and "You are back". */
function verb(view: RoomView | undefined, event: Event, third: string, second: string): string {
  const mine = !!view?.you && event.actor?.role === view.you.role && event.actor?.observer === view.you.observer;
  return mine ? second : third;
}

export function describeEvent(event: Event, view: RoomView | undefined): Entry | undefined {
  const b = event.body;
  switch (b.case) {
    case "conversationOpened":
      return {
        kind: "intention",
        text: [b.value.intention, b.value.topic && `Topic: ${b.value.topic}`].filter(Boolean).join(" — "),
        lines: startupLines(b.value.startup),
        content: true,
      };
    case "shared":
      return { kind: "shared", text: b.value.text, content: true };
    case "reflected":
      return { kind: kReflectionKind[b.value.kind], text: b.value.text, content: true };
    case "corrected":
      return { kind: "not quite", text: b.value.text, content: true };
    case "stillNeeded":
      return { kind: "still needs", text: b.value.text, content: true };
    case "asked":
      return { kind: "question", text: b.value.text, content: true };
    case "advised":
      return { kind: "advice", text: b.value.text, content: true };
    case "proposed":
      return { kind: "proposal", text: b.value.text, content: true };
    case "appreciated":
      return { kind: "appreciation", text: b.value.text, content: true };
    case "prompted":
      return { kind: "prompt", text: b.value.text, content: true };
    case "noteTaken":
      return { kind: "private note", text: b.value.text, content: true };
    case "confirmed":
      return { kind: `confirmed the ${kReflectionKind[b.value.kind]}: "you got it"`, content: false };
    case "moreAnswered":
      return {
        kind: b.value.more ? verb(view, event, "has more to say", "have more to say") : verb(view, event, "has said all for now", "have said all for now"),
        content: false,
      };
    case "floorPassed":
      return { kind: "passed the floor", content: false };
    case "moveOnChosen":
      return { kind: verb(view, event, "is ready to move on", "are ready to move on"), content: false };
    case "rolesSwitched":
      return {
        kind: b.value.speaker === view?.you?.role ? "You have the floor now" : `${roleName(b.value.speaker, view)} has the floor now`,
        content: false,
        sentence: true,
      };
    case "stageStarted":
      return { kind: "A new stage begins", content: false, sentence: true };
    case "signaled":
      return { kind: `signal: ${signalLabel(b.value.kind)}`, content: false };
    case "repaired":
      return { kind: `repair: ${repairLabel(b.value.kind)}`, content: false };
    case "paused":
      return { kind: "asked for a minute", content: false };
    case "timedOut":
      return { kind: "took a time-out", content: false };
    case "returned":
      return { kind: verb(view, event, "is back", "are back"), content: false };
    case "extended":
      return { kind: verb(view, event, "needs a little longer", "need a little longer"), content: false };
    case "resumed":
      return { kind: "The conversation continues", content: false, sentence: true };
    case "consultBreakStarted":
      return { kind: "called a consultation break", content: false };
    case "observerJoined":
      return { kind: "joined to observe", content: false };
    case "observerLeft":
      return { kind: "left", content: false };
    case "observerRevoked":
      return { kind: `withdrew consent for ${b.value.observer} to observe`, content: false };
    case "feltUnderstood":
      return { kind: verb(view, event, "feels understood", "feel understood"), content: false };
    case "understoodSent":
      return { kind: verb(view, event, "understands their partner's point of view", "understand your partner's point of view"), content: false };
    case "proposalAccepted":
      return { kind: "accepted a proposal", content: false };
    case "declined":
      return { kind: "declined a request", content: false };
    case "apologyAccepted":
      return { kind: "accepted the apology", content: false };
    case "finished":
      return { kind: verb(view, event, "is finished", "are finished"), content: false };
    case "conversationClosed":
      return { kind: closedWords(b.value.reason), content: false, sentence: true };
    default:
      return undefined;
  }
}

/** "m:ss" or "h:mm:ss" for a countdown. */
export function clockText(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

export function sameActorName(a: Actor | undefined, b: Actor | undefined): boolean {
  return !!a && !!b && a.role === b.role && a.observer === b.observer;
}
