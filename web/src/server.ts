// The one HTTP client of the page (same origin as the page, through the SDK).
import { HttpClient } from "@mend/client";

export const http = new HttpClient();
