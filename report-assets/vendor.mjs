// Copy the files assets.json names (and their licenses) from node_modules to dist/, keeping each package's
// layout (Font Awesome's CSS finds its fonts at ../webfonts). A missing file fails the copy by name.
import { cpSync, existsSync, readFileSync, rmSync } from "node:fs";

const manifest = JSON.parse(readFileSync(new URL("./assets.json", import.meta.url)));
const paths = [...new Set([...Object.values(manifest.files), ...manifest.with, ...manifest.licenses])];
const missing = paths.filter((path) => !existsSync(`node_modules/${path}`));
if (missing.length) {
  console.error(`report-assets: not in node_modules (run npm ci): ${missing.join(", ")}`);
  process.exit(1);
}
rmSync("dist", { recursive: true, force: true });
for (const path of paths) cpSync(`node_modules/${path}`, `dist/${path}`, { recursive: true });
console.log(`report-assets: ${paths.length} files and folders in dist/`);
