// Invite links: the token travels in the URL fragment (`#invite=...`), which browsers never
// send to a server, so it reaches no server log, proxy or Referer header (DESIGN 3).

const kInviteKey = "invite";

/** The invite token of a location hash such as `#invite=abc`, or undefined. */
export function tokenFromHash(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get(kInviteKey)?.trim();
  return token ? token : undefined;
}

/** The link a person opens to join with `token`, on the page's own origin. */
export function inviteLink(token: string, origin: string = location.origin): string {
  return `${origin}/#${kInviteKey}=${encodeURIComponent(token)}`;
}

/** The counselor dashboard's address: `#counselor`. */
export const kDashboardHash = "#counselor";

export function isDashboard(hash: string): boolean {
  return hash === kDashboardHash;
}
