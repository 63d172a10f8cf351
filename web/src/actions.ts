// What each of the view's allowed actions looks like on the page: its words and the command it
// sends. The view decides which actions exist now; this table only names them.
import { Action, Phase, ReflectionKind, RepairKind, SignalKind, type CommandInput } from "@mend/client";

/** Actions whose command carries a text the person writes in the composer. */
export const kTextActions: readonly Action[] = [
  Action.SHARE,
  Action.REFLECT,
  Action.CORRECT,
  Action.STILL_NEED,
  Action.ASK,
  Action.ADVISE,
  Action.PROPOSE,
  Action.APPRECIATE,
  Action.PROMPT,
  Action.NOTE,
];

/** Actions that are one press, with no argument. */
export const kButtonActions: readonly Action[] = [
  Action.ACCEPT_INVITATION,
  Action.CONFIRM,
  Action.MORE,
  Action.NO_MORE,
  Action.PASS_FLOOR,
  Action.MOVE_ON,
  Action.ACCEPT_APOLOGY,
  Action.REQUEST_ADVICE,
  Action.FEEL_UNDERSTOOD,
  Action.UNDERSTOOD,
  Action.FINISH_PROBLEM_SOLVING,
  Action.FINISH,
  Action.READY,
  Action.RETURN,
  Action.JOIN,
];

type TextCase = "share" | "correct" | "stillNeed" | "ask" | "advise" | "propose" | "appreciate" | "prompt" | "note";
type PlainCase =
  | "acceptInvitation"
  | "confirm"
  | "more"
  | "noMore"
  | "passFloor"
  | "moveOn"
  | "acceptApology"
  | "requestAdvice"
  | "feelUnderstood"
  | "understood"
  | "finishProblemSolving"
  | "finish"
  | "ready"
  | "return"
  | "join"
  | "leave"
  | "endSession";

const kTextCase: Partial<Record<Action, TextCase>> = {
  [Action.SHARE]: "share",
  [Action.CORRECT]: "correct",
  [Action.STILL_NEED]: "stillNeed",
  [Action.ASK]: "ask",
  [Action.ADVISE]: "advise",
  [Action.PROPOSE]: "propose",
  [Action.APPRECIATE]: "appreciate",
  [Action.PROMPT]: "prompt",
  [Action.NOTE]: "note",
};

const kPlainCase: Partial<Record<Action, PlainCase>> = {
  [Action.ACCEPT_INVITATION]: "acceptInvitation",
  [Action.CONFIRM]: "confirm",
  [Action.MORE]: "more",
  [Action.NO_MORE]: "noMore",
  [Action.PASS_FLOOR]: "passFloor",
  [Action.MOVE_ON]: "moveOn",
  [Action.ACCEPT_APOLOGY]: "acceptApology",
  [Action.REQUEST_ADVICE]: "requestAdvice",
  [Action.FEEL_UNDERSTOOD]: "feelUnderstood",
  [Action.UNDERSTOOD]: "understood",
  [Action.FINISH_PROBLEM_SOLVING]: "finishProblemSolving",
  [Action.FINISH]: "finish",
  [Action.READY]: "ready",
  [Action.RETURN]: "return",
  [Action.JOIN]: "join",
  [Action.LEAVE]: "leave",
  [Action.END_SESSION]: "endSession",
};

/** The command a text action sends; REFLECT carries the reflection the view expects. */
export function textCommand(action: Action, text: string, expected: ReflectionKind): CommandInput {
  if (action === Action.REFLECT) return { body: { case: "reflect", value: { kind: expected, text } } };
  const textCase = kTextCase[action] ?? "share";
  return { body: { case: textCase, value: { text } } } as CommandInput;
}

/** The command of a one-press action. */
export function plainCommand(action: Action): CommandInput {
  const plain = kPlainCase[action];
  if (!plain) throw new Error(`action ${action} needs an argument`);
  return { body: { case: plain, value: {} } } as CommandInput;
}

const kReflectionLabel: Record<ReflectionKind, string> = {
  [ReflectionKind.REFLECTION_KIND_UNSPECIFIED]: "Say back what you heard",
  [ReflectionKind.MIRROR]: "Mirror what you heard",
  [ReflectionKind.SUMMARY]: "Sum up what you heard",
  [ReflectionKind.VALIDATION]: "Say what makes sense to you",
  [ReflectionKind.EMPATHY]: "Imagine how they feel",
};

const kLabels: Partial<Record<Action, string>> = {
  [Action.ACCEPT_INVITATION]: "Start now",
  [Action.SHARE]: "Share",
  [Action.CONFIRM]: "You got it",
  [Action.CORRECT]: "Not quite",
  [Action.MORE]: "There's more",
  [Action.NO_MORE]: "That's all for now",
  [Action.PASS_FLOOR]: "Pass the floor",
  [Action.ACCEPT_APOLOGY]: "I accept your apology",
  [Action.STILL_NEED]: "What I still need",
  [Action.ASK]: "Ask a question",
  [Action.REQUEST_ADVICE]: "I'd like your advice",
  [Action.ADVISE]: "Offer advice",
  [Action.MOVE_ON]: "I'm ready to move on",
  [Action.FEEL_UNDERSTOOD]: "I feel understood by you",
  [Action.UNDERSTOOD]: "I understand your point of view",
  [Action.PROPOSE]: "Propose something",
  [Action.FINISH_PROBLEM_SOLVING]: "We're done looking for solutions",
  [Action.APPRECIATE]: "Share an appreciation",
  [Action.FINISH]: "Finish",
  [Action.PAUSE]: "I need a minute",
  [Action.TIME_OUT]: "Take a time-out",
  [Action.RETURN]: "I'm back",
  [Action.EXTEND]: "I need longer",
  [Action.READY]: "I'm ready to continue",
  [Action.LEAVE]: "End the conversation",
  [Action.JOIN]: "Join the room",
  [Action.NOTE]: "Private note",
  [Action.PROMPT]: "Prompt both partners",
  [Action.CONSULT_BREAK]: "Call a consultation break",
  [Action.END_SESSION]: "End the session",
};

/** The words on an action's button or composer. */
export function actionLabel(action: Action, expected = ReflectionKind.REFLECTION_KIND_UNSPECIFIED, phase?: Phase): string {
  if (action === Action.REFLECT) return kReflectionLabel[expected];
  // While a mirror is owed, the listener's question asks the speaker for an example.
  if (action === Action.ASK && phase === Phase.MIRRORING) return "Ask for an example";
  return kLabels[action] ?? Action[action].toLowerCase().replace(/_/g, " ");
}

/** A hint inside the composer for what to write. */
export function placeholder(action: Action, phase?: Phase): string {
  if (action === Action.ASK && phase === Phase.MIRRORING) return "\"Can you give me an example?\"";
  switch (action) {
    case Action.SHARE:
      return "Speak for yourself: what you feel and need, a sentence or two";
    case Action.REFLECT:
      return "In your own words: \"If I got it, you said...\"";
    case Action.CORRECT:
      return "What did they miss?";
    case Action.NOTE:
      return "Only you will ever see this note";
    default:
      return "";
  }
}

export const kSignals: readonly [SignalKind, string][] = [
  [SignalKind.LISTENING, "I'm listening"],
  [SignalKind.FEELING_HEARD, "I feel heard"],
  [SignalKind.NEED_REASSURANCE, "I need reassurance"],
  [SignalKind.OVERWHELMED, "I'm overwhelmed"],
  [SignalKind.TAKE_YOUR_TIME, "Take your time"],
];

export const kRepairs: readonly [RepairKind, string][] = [
  [RepairKind.TAKE_THAT_BACK, "Can I take that back?"],
  [RepairKind.LET_ME_TRY_AGAIN, "Let me try again"],
  [RepairKind.SAY_IT_GENTLY, "Please say that more gently"],
  [RepairKind.AGREE_WITH_PART, "I agree with part of what you're saying"],
  [RepairKind.I_APPRECIATE, "I appreciate you staying with this"],
  [RepairKind.I_AM_SORRY, "I'm sorry"],
];

export function signalLabel(kind: SignalKind): string {
  return kSignals.find(([k]) => k === kind)?.[1] ?? "a signal";
}

export function repairLabel(kind: RepairKind): string {
  return kRepairs.find(([k]) => k === kind)?.[1] ?? "a repair";
}
