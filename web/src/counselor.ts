// What the counselor dashboard keeps in the tab: the API key and the counselor's own invite
// links of the conversations opened from it. Both are bearer credentials, so they live only in
// this tab's sessionStorage (gone when the tab closes), never in the URL, a log or localStorage.
import { HttpClient } from "@mend/client";

const kKeyItem = "mend.counselor.apiKey";
const kLinkPrefix = "mend.counselor.invite.";

/** The key the counselor entered in this tab ("" on a server without keys), or undefined. */
export function storedApiKey(): string | undefined {
  return sessionStorage.getItem(kKeyItem) ?? undefined;
}

export function storeApiKey(key: string): void {
  sessionStorage.setItem(kKeyItem, key);
}

/** Forgets the key and every invite kept with it. */
export function forgetCounselor(): void {
  for (const item of Object.keys(sessionStorage)) {
    if (item === kKeyItem || item.startsWith(kLinkPrefix)) sessionStorage.removeItem(item);
  }
}

/** The counselor's invite token for `roomId`, when they opened it from the dashboard before. */
export function storedInvite(roomId: string): string | undefined {
  return sessionStorage.getItem(kLinkPrefix + roomId) ?? undefined;
}

export function storeInvite(roomId: string, token: string): void {
  sessionStorage.setItem(kLinkPrefix + roomId, token);
}

/** An HTTP client that sends the counselor's key (none when the server has no keys). */
export function counselorHttp(key: string): HttpClient {
  return new HttpClient(key ? { apiKey: key } : {});
}
