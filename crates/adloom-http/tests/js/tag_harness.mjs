// Runs adloom's core.js in a pretend browser page, plays a scenario with
// the pintrk API, and prints what the tag did as JSON: the pixel URLs it
// requested and the cookies it left. The Rust test checks both and sends
// the pixels to adloom.
//
// Usage: node tag_harness.mjs CORE_JS SCENARIO   (scenario: shopper | opt_out | no_webcrypto)
import { readFileSync } from "node:fs";
import vm from "node:vm";
import { webcrypto } from "node:crypto";

const [coreJs, scenario] = process.argv.slice(2);
const source = readFileSync(coreJs, "utf8");
const requested = [];
const jar = new Map();

const document = {
  referrer: "",
  get cookie() {
    return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  },
  set cookie(text) {
    const [pair, ...attrs] = text.split(";").map((s) => s.trim());
    const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
    if (attrs.some((a) => a === "max-age=0")) jar.delete(name);
    else jar.set(name, value);
  },
};
class Image {
  set src(url) { requested.push(url); }
}
const window = {
  location: { href: "https://shoes.example/red-sneaker?epik=click-42", search: "?epik=click-42" },
  navigator: {},
  Image,
  TextEncoder,
  crypto: scenario === "no_webcrypto" ? undefined : webcrypto,
  localStorage: { _adloom_x: "1", other: "2", removeItem(k) { delete this[k]; } },
};
window.window = window;
const context = vm.createContext({ window, document, Promise, Uint8Array, Math, Date, JSON, encodeURIComponent, decodeURIComponent, unescape, Array, Object, String, RegExp });

// The base code an advertiser pastes: a queue before core.js arrives.
vm.runInContext(`window.pintrk = function () { window.pintrk.queue.push(Array.prototype.slice.call(arguments)); }; window.pintrk.queue = [];`, context);
const p = (...args) => context.window.pintrk(...args);
p("load", "TAG", { em: "  Alice@Example.COM " });
p("page");
vm.runInContext(source, context);
p("track", "AddToCart", { value: 72.5, currency: "USD", event_id: "cart-1" });
if (scenario === "opt_out") {
  p("setconsent", false);
  p("track", "checkout", { value: 72.5, event_id: "order-1" });
} else {
  p("track", "checkout", { value: 72.5, order_id: "o-1", event_id: "order-1" });
}
await p("set", {});
console.log(JSON.stringify({ requested, cookies: Object.fromEntries(jar), storage: Object.keys(window.localStorage).filter((k) => typeof window.localStorage[k] !== "function") }));
