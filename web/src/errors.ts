// Words for what went wrong, never blaming: the server's own message when it sent one.
import { ClientError } from "@mend/client";

export function errorWords(error: unknown): string {
  if (error instanceof ClientError) {
    switch (error.code) {
      case "network":
      case "timeout":
        return "We can't reach the mend server right now. Check your connection; we'll keep what you typed.";
      case "http_status":
        return error.message || "The server could not do that just now.";
      default:
        return error.message;
    }
  }
  return "Something went wrong on our side. Please try again.";
}

/** Words for a terminal close of the room connection. */
export function closeWords(error: ClientError): string {
  switch (error.closeCode) {
    case 4501:
      return "This invitation link has expired or isn't valid. Ask the person who invited you for a new one.";
    case 4503:
      return "This conversation is no longer open to you: consent was withdrawn or the room was erased.";
    case 4504:
      return "This conversation doesn't exist any more.";
    case 4529:
      return "Too much was sent too quickly, so the connection was closed. Reload the page to come back.";
    default:
      return error.code === "gave_up"
        ? "We couldn't reach the mend server for a while. Reload the page to try again; what you typed is still here."
        : "The connection to this conversation has ended.";
  }
}
