// A page-wide "now" that ticks once a second while a countdown is on screen.
import { signal } from "@preact/signals";
import { useEffect } from "preact/hooks";

export const now = signal(Date.now());
let watchers = 0;
let timer: ReturnType<typeof setInterval> | undefined;

/** Keeps `now` ticking while the calling component is mounted. */
export function useTicking(): void {
  useEffect(() => {
    if (watchers++ === 0) {
      now.value = Date.now();
      timer = setInterval(() => (now.value = Date.now()), 1000);
    }
    return () => {
      if (--watchers === 0) clearInterval(timer);
    };
  }, []);
}
