// The feed SDK (/sdk/feed.js) in a real browser (headless Chromium),
// against a running `adloom serve`: three promoted pins of real decisions
// in a long feed page, with the page's clock under the test's control (so
// nothing here depends on how fast the machine is):
//   - an ad never scrolled into view bills nothing;
//   - an ad scrolled past in under a second bills nothing;
//   - an ad in view for a second bills one impression, and only one
//     however often it comes back into view;
//   - a click on it bills the click and lands on the advertiser's page;
//   - "Hide this ad" calls the platform's hook and takes the pin away.
// What adloom billed is read back from the account's analytics.
//
// Usage: node viewability.mjs BASE_URL ADMIN_TOKEN
// Chromium: $ADLOOM_CHROMIUM, else /usr/bin/chromium (Debian's package).

import { chromium } from "playwright-core";

const [base, admin] = process.argv.slice(2);
if (!base || !admin) {
  console.error("usage: node viewability.mjs BASE_URL ADMIN_TOKEN");
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

async function api(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

// One advertiser with one ad that reaches everyone; three people.
await api("POST", "/v1/admin/people", ["v1", "v2", "v3"].map((id) => ({ user_id: id, country: "US" })));
const account = (await api("POST", "/v5/ad_accounts", { name: "Runners" })).id;
const v5 = `/v5/ad_accounts/${account}`;
const first = async (path, item) => (await api("POST", `${v5}/${path}`, [item])).items[0].data.id;
const campaign = await first("campaigns", { name: "Trail", objective_type: "AWARENESS" });
const group = await first("ad_groups", {
  name: "Everyone", campaign_id: campaign, billable_event: "IMPRESSION", bid_in_micro_currency: 5_000_000,
  pacing_delivery_type: "ACCELERATED", adloom_daily_frequency_cap: 100,
});
const pin = (await api("POST", `/v5/pins?ad_account_id=${account}`, {
  title: "Trail runner", link: "https://runners.example/trail",
  media_source: { source_type: "image_url", url: "https://runners.example/trail.jpg" },
})).id;
const ad = await first("ads", { ad_group_id: group, creative_type: "REGULAR", pin_id: pin, destination_url: "https://runners.example/trail" });

// Three decisions, one served ad each: three deliveries with their own beacons.
const deliveries = [];
for (const user of ["v1", "v2", "v3"]) {
  const d = await api("POST", "/v1/decisions", { user_id: user, placement: "home_feed", count: 1 });
  check(d.ads.length === 1 && d.ads[0].ad_id === ad, `a decision serves the ad to ${user}`);
  deliveries.push(d.ads[0]);
}
const [never, glimpsed, seen] = deliveries;

// A feed page on adloom's origin: the SDK renders each ad into its slot,
// far apart, with organic pins between.
const page_html = `<!doctype html><html><head><meta charset="utf-8"><title>Feed</title>
<style>body { margin: 0 } .slot { position: absolute; left: 20px; width: 260px } .pin img { display: block; width: 240px; height: 300px }</style>
</head><body style="height: 9000px">
<div class="slot" id="glimpsed" style="top: 2000px"></div>
<div class="slot" id="seen" style="top: 4000px"></div>
<div class="slot" id="never" style="top: 8000px"></div>
<script type="module">
import { renderPromotedPin } from "/sdk/feed.js";
const ads = ${JSON.stringify({ never, glimpsed, seen })};
window.hidden = [];
for (const [slot, ad] of Object.entries(ads)) {
  const { element } = renderPromotedPin(ad, {
    settingsUrl: "/settings/ads",
    // The platform serves pin images itself; here, a blank one.
    imageUrl: () => "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=",
    onHide: (hid) => window.hidden.push(hid.impression_url),
    onReport: () => {},
  });
  element.id = slot + "-ad";
  document.getElementById(slot).append(element);
}
window.rendered = true;
</script></body></html>`;

const browser = await chromium.launch({
  executablePath: process.env.ADLOOM_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 800 } });
  page.setDefaultTimeout(20000);
  const beacons = [];
  page.on("request", (r) => {
    if (r.url().includes("/v1/beacons/impression/")) beacons.push(r.url());
  });
  await page.route(`${base}/feed-test`, (route) => route.fulfill({ contentType: "text/html", body: page_html }));
  // The advertiser's page, which a click lands on.
  await page.route("https://runners.example/**", (route) => route.fulfill({ contentType: "text/html", body: "<h1>Trail runners</h1>" }));
  await page.clock.install();
  await page.goto(`${base}/feed-test`);
  await page.waitForFunction(() => window.rendered === true);
  // From here the page's time moves only when the test moves it.
  await page.clock.pauseAt(Date.now() + 60_000);
  check((await page.locator("article.ad").count()) === 3, "the SDK rendered three promoted pins");
  const texts = await page.locator("#seen-ad").innerText();
  check(texts.includes("Promoted by Runners") && texts.includes("Why am I seeing this ad?"), `the pin says who and why: ${texts.replace(/\s+/g, " ")}`);
  check((await page.locator("#seen-ad a[href='/settings/ads']").count()) === 1, "it links to the ads settings");

  const scrollTo = (y) => page.evaluate((top) => window.scrollTo(0, top), y);
  const inView = (id) => page.locator(`#${id}-ad[data-in-view]`).waitFor();
  const outOfView = (id) => page.locator(`#${id}-ad:not([data-in-view])`).waitFor();

  // Scrolled past in under a second: 999 ms in view, then away.
  await scrollTo(1900);
  await inView("glimpsed");
  await page.clock.runFor(999);
  await scrollTo(3000);
  await outOfView("glimpsed");
  await page.clock.runFor(5000);
  check(beacons.length === 0, `an ad scrolled past in under a second fired no beacon: ${beacons.map((b) => b === glimpsed.impression_url ? "glimpsed" : b === seen.impression_url ? "seen" : "never")}`);

  // In view for a second: one impression.
  const counted = page.waitForResponse((r) => r.url() === seen.impression_url);
  await scrollTo(3900);
  await inView("seen");
  await page.clock.runFor(999);
  check(beacons.length === 0, "not yet at 999 ms");
  await page.clock.runFor(2);
  await counted;
  check(beacons.length === 1 && beacons[0] === seen.impression_url, "in view for a second: one impression beacon");
  check((await page.locator("#seen-ad[data-viewed]").count()) === 1, "the pin says it was viewed");

  // Away and back again: still one.
  await scrollTo(0);
  await page.clock.runFor(2000);
  await scrollTo(3900);
  await page.clock.runFor(3000);
  check(beacons.length === 1, "back in view: no second beacon");
  check(!beacons.includes(never.impression_url), "the ad never scrolled into view fired nothing");

  // "Hide this ad": the platform's hook is called and the pin leaves.
  await scrollTo(1900);
  await page.locator("#glimpsed-ad summary").click();
  await page.locator("#glimpsed-ad button", { hasText: "Hide this ad" }).click();
  check((await page.evaluate(() => window.hidden)).length === 1, "\"Hide this ad\" called the platform's hook");
  check((await page.locator("#glimpsed-ad").count()) === 0, "and the pin left the feed");
  check((await page.locator("#seen-ad button", { hasText: "Report this ad" }).count()) === 1, "\"Report this ad\" is offered");

  // A click: through the click beacon to the advertiser's page.
  await scrollTo(3900);
  await page.locator("#seen-ad .title a").click();
  await page.waitForURL(/^https:\/\/runners\.example\/trail(\?epik=.*)?$/);
  check(true, "a click went through the click beacon to the advertiser's page");
} finally {
  await browser.close();
}

// What adloom billed: one impression (the ad seen for a second) and one
// click, whatever the others did.
const today = new Date().toISOString().slice(0, 10);
const rows = await api("GET", `${v5}/analytics?start_date=${today}&end_date=${today}&granularity=TOTAL&columns=PAID_IMPRESSION,TOTAL_CLICKTHROUGH`);
check(rows.length === 1 && rows[0].PAID_IMPRESSION === 1, `adloom billed one impression: ${JSON.stringify(rows)}`);
check(rows[0].TOTAL_CLICKTHROUGH === 1, "and one click");
console.log("viewability: passed");
