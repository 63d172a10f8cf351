// A message about something that went wrong (role=alert) or that the person should know.
import type { ComponentChildren } from "preact";

export function Notice({ tone, children }: { tone: "error" | "info"; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${tone}`} role={tone === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}
