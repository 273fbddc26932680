// Parse every fenced ```mermaid block of the Markdown files given with the real
// mermaid parser (mermaid.parse, in Node with a jsdom window). Used by
// bench/mermaid_check.sh; prints one line per block and exits 1 if any fails.
import { JSDOM } from "jsdom";
import fs from "node:fs";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
let total = 0, bad = 0;
for (const file of process.argv.slice(2)) {
  const md = fs.readFileSync(file, "utf8");
  for (const [, block] of md.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)) {
    total++;
    try {
      const r = await mermaid.parse(block);
      console.log(`ok   ${file.split("/").pop()}: ${r.diagramType}`);
    } catch (e) {
      bad++;
      console.log(`FAIL ${file.split("/").pop()}: ${String(e.message || e).split("\n").slice(0, 3).join(" | ")}`);
    }
  }
}
console.log(`mermaid ${JSON.parse(fs.readFileSync(new URL(import.meta.resolve("mermaid/package.json")))).version}: `
            + `${total} blocks, ${bad} failed`);
process.exit(bad || !total ? 1 : 0);
