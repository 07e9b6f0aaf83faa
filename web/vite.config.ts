import { defineConfig } from "vitest/config";

// One JS bundle + one CSS file with fixed names, relative URLs: the server serves them from
// static/, and the report builder inlines both into a single HTML file opened from file://.
// Workers must be imported with `?worker&inline` so they live inside the bundle too.
export default defineConfig({
  base: "./",
  build: {
    outDir: "../src/deepscope/server/static",
    emptyOutDir: true,
    target: "es2022",
    cssCodeSplit: false,
    assetsInlineLimit: 100_000_000,
    modulePreload: false,
    chunkSizeWarningLimit: 4000,
    rolldownOptions: {
      output: {
        codeSplitting: false,
        entryFileNames: "assets/app.js",
        assetFileNames: "assets/app[extname]",
      },
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
