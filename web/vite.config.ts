// The app is built to web/dist, which mendd serves at / (--web-dir). Hashed file names under
// assets/ are cached as immutable; no inline script or style, so the strict CSP holds.
// `npm run dev` / `npm run preview` proxy the API and the WebSocket to a running mendd
// (MEND_SERVER, default http://127.0.0.1:8480), so the page stays same-origin as in production.
import { defineConfig } from "vite";

const server = process.env.MEND_SERVER ?? "http://127.0.0.1:8480";
const proxy = {
  "/v1/connect": { target: server, ws: true },
  "/v1": { target: server },
};

export default defineConfig({
  server: { proxy },
  preview: { proxy },
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
