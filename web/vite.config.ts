// The app is built to web/dist, which mendd serves at / (--web-dir). Hashed file names under
// assets/ are cached as immutable; no inline script or style, so the strict CSP holds.
import { defineConfig } from "vite";

export default defineConfig({
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
