// Ads Manager, ad review and "Hide this ad" in a real browser (headless
// Chromium), against `adloom serve` with `ad_review = "manual"`:
//   an advertiser signs in with the keyboard alone, uploads a customer list
//   from a CSV file (hashed in the page: no plain email or phone number
//   leaves it), makes an audience of it, a campaign (first with a mistake,
//   shown next to its field), an ad group reaching the audience and an ad
//   with an uploaded image, all without the API; the ad waits for review;
//   the operator approves it on /admin; it serves to a person on the list,
//   who hides it; it is gone from their next decision and listed on their
//   ads settings page.
// Every page is scanned with axe-core (no serious or critical violation)
// and walked with Tab: every control takes the focus, with a visible ring.
// Screenshots go to OUT_DIR.
//
// Usage: node ads_manager.mjs BASE_URL ADMIN_TOKEN OUT_DIR
// Chromium: $ADLOOM_CHROMIUM, else /usr/bin/chromium (Debian's package).

import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const [base, admin, outDir] = process.argv.slice(2);
if (!base || !admin || !outDir) {
  console.error("usage: node ads_manager.mjs BASE_URL ADMIN_TOKEN OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

async function api(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}

/// axe-core over the page: fails on any serious or critical violation;
/// and the page works with the keyboard alone.
async function accessible(page, what) {
  await keyboardReachable(page, what);
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  check(violations.length === 0, `${what} has no serious or critical accessibility violation ${violations.join("; ")}`);
}

/// Tabs through the whole page from its top: every visible control (link,
/// button, field, scrollable block) takes the focus in turn, a radio group
/// once (arrows move inside it), and each shows a focus ring when it has
/// it. The controls are the browser's own, so Enter and Space work them.
async function keyboardReachable(page, what) {
  const wanted = await page.evaluate(() => {
    const controls = [...document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]",
    )].filter((el) => !el.disabled && el.tabIndex >= 0 && el.checkVisibility({ visibilityProperty: true }));
    const keys = new Set();
    controls.forEach((el, i) => {
      const key = el.type === "radio" && el.name ? `radio:${el.form?.id ?? ""}:${el.name}` : `#${i}`;
      el.dataset.keyboard = key;
      keys.add(key);
    });
    document.activeElement?.blur();
    window.scrollTo(0, 0);
    return [...keys];
  });
  const reached = new Set();
  const unringed = [];
  for (let presses = 0; presses < wanted.length * 2 + 10 && reached.size < wanted.length; presses++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el?.dataset?.keyboard) return null;
      const style = getComputedStyle(el);
      const ring = (style.outlineStyle !== "none" && style.outlineWidth !== "0px") || style.boxShadow !== "none";
      return { key: el.dataset.keyboard, ring, name: el.id || el.name || el.textContent.trim().slice(0, 30) };
    });
    if (!focused) continue;
    reached.add(focused.key);
    if (!focused.ring) unringed.push(focused.name);
  }
  const missed = wanted.filter((k) => !reached.has(k));
  check(missed.length === 0, `${what}: Tab reaches all ${wanted.length} controls ${missed.join(", ")}`);
  check(unringed.length === 0, `${what}: each shows a focus ring ${unringed.join(", ")}`);
  await page.evaluate(() => document.activeElement?.blur());
}

/// Presses Tab until the element `selector` has the focus.
async function tabTo(page, selector) {
  for (let i = 0; i < 30; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${selector}`);
}

// The platform's people: 140 on the advertiser's newsletter (an audience
// under 100 people does not deliver, and its size carries noise).
const people = Array.from({ length: 140 }, (_, i) => ({
  user_id: `p${i}`, email: `reader${i}@example.com`, country: "US",
}));
await api("POST", "/v1/admin/people", people);
const account = await api("POST", "/v5/ad_accounts", { name: "Garden Co." });
const { access_token: token } = await api("POST", "/v1/admin/access_tokens", { ad_account_ids: [account.id] });

const browser = await chromium.launch({
  executablePath: process.env.ADLOOM_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  // axe is injected into the pages, whose policy allows only their own scripts.
  const context = await browser.newContext({ viewport: { width: 1200, height: 1000 }, bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);

  // Sign in with the keyboard alone.
  await page.goto(`${base}/console`);
  await accessible(page, "the console's sign-in");
  await tabTo(page, "#token");
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/console\/accounts\/\d+$/);
  const home = page.url();
  check((await page.locator("h1").innerText()).includes("Garden Co."), "signed in with the keyboard alone");
  await accessible(page, "an empty ad account");

  // The customer list: hashed in the page, digests only on the wire.
  await page.click("text=Upload a customer list");
  await accessible(page, "the customer-list page");
  await page.fill("#list-name", "Newsletter");
  const csv = "Email,Phone\n" + people
    .map((p, i) => `" ${p.email.toUpperCase()} ",+1 (555) 01${String(i).padStart(5, "0")}`)
    .join("\n");
  await page.setInputFiles("#list-file", { name: "newsletter.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.screenshot({ path: `${outDir}/console-customer-list.png`, fullPage: true });
  const sent = [];
  page.on("request", (r) => sent.push(`${r.url()} ${r.postData() ?? ""}`));
  await page.click("text=Hash and upload");
  await page.waitForURL(/saved=customer_lists/);
  const uploads = sent.filter((s) => s.includes("/customer_lists"));
  check(uploads.length >= 1 && uploads.every((s) => /[0-9a-f]{64}/.test(s)), `the list went up as digests in ${uploads.length} request(s)`);
  const plain = sent.filter((s) => /example\.com|@|%40|1555|555\) 01|5550100/i.test(s));
  check(plain.length === 0, `no plain email or phone number left the page ${plain.join(" | ").slice(0, 300)}`);
  check(await page.locator("#customer_lists ~ table").first().innerText().then((t) => t.includes("Newsletter")), "the list is listed");

  // An audience of the list.
  await page.click("text=New audience");
  await accessible(page, "the audience form");
  await page.fill("#f-name", "Newsletter readers");
  await page.selectOption("#f-audience_type", "CUSTOMER_LIST");
  await page.selectOption("#f-rule-customer_list_id", { label: "Newsletter" });
  await page.click("text=Create audience");
  await page.waitForURL(/saved=audiences/);

  // Both open again: the list takes people off it, the audience a new description.
  await page.click("#customer_lists ~ table >> text=Newsletter");
  await accessible(page, "a customer list's page");
  await page.check("input[name=operation][value=REMOVE]");
  await page.setInputFiles("#list-file", { name: "unsubscribed.csv", mimeType: "text/csv", buffer: Buffer.from("gone@elsewhere.test\n") });
  await page.click("text=Hash and upload");
  await page.waitForURL(/saved=customer_list_changed/);
  const listRow = (await page.locator("#customer_lists ~ table tr", { hasText: "Newsletter" }).innerText()).split("\t");
  check(listRow[2].trim() === "1", `one record was taken off the list: ${listRow.join(" | ")}`);
  check(sent.every((s) => !/elsewhere|%40/.test(s)), "the removed email left the page as a digest only");
  await page.click("text=Newsletter readers");
  await accessible(page, "an audience's page");
  await page.fill("#f-description", "People on the newsletter");
  await page.click("text=Save audience");
  await page.waitForURL(/saved=audiences/);
  const audienceRow = page.locator("tr", { hasText: "Newsletter readers" });
  check((await audienceRow.innerText()).includes("Ready"), `the audience is ready: ${await audienceRow.innerText()}`);

  // A campaign: a mistake first, shown next to its field.
  await page.click("text=New campaign");
  await accessible(page, "the campaign form");
  // With the keyboard alone: Tab from field to field, Enter to send.
  await tabTo(page, "#f-name");
  await page.keyboard.type("Winter garden");
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.id) === "f-objective_type", "Tab reaches the objective");
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.id) === "f-daily_spend_cap", "then the daily cap");
  await page.keyboard.type("lots");
  await page.keyboard.press("Enter");
  await page.waitForLoadState();
  const error = page.locator("#f-daily_spend_cap-error");
  check((await error.innerText()).includes("must be an amount"), "the refusal shows next to its field");
  check(await page.locator("#f-daily_spend_cap").getAttribute("aria-invalid") === "true", "the field is marked invalid");
  await accessible(page, "the campaign form with a refusal");
  await page.screenshot({ path: `${outDir}/console-campaign-error.png`, fullPage: true });
  await page.fill("#f-daily_spend_cap", "100");
  await page.click("button:has-text('Create campaign')");
  await page.waitForURL(/saved=campaigns/);

  // An ad group reaching the audience.
  await page.click("text=New ad group");
  await page.fill("#f-name", "Readers");
  await page.selectOption("#f-campaign_id", { label: "Winter garden" });
  await page.fill("#f-budget_in_micro_currency", "50");
  await page.selectOption("#f-billable_event", "IMPRESSION");
  await page.fill("#f-bid_in_micro_currency", "5");
  await page.selectOption("#f-pacing_delivery_type", "ACCELERATED");
  await page.fill("#f-targeting_spec-GEO", "US");
  await page.check("label:has-text('Newsletter readers') >> nth=0");
  await page.click("button:has-text('Estimate reach')");
  const reach = await page.locator("section[aria-labelledby=reach] [role=status]").innerText();
  check(/About \d+ people/.test(reach), `the reach estimate, coarsened: ${reach}`);
  check(await page.locator("#f-name").inputValue() === "Readers", "estimating keeps what was typed");
  await accessible(page, "the ad group form");
  await page.screenshot({ path: `${outDir}/console-ad-group.png`, fullPage: true });
  await page.click("button:has-text('Create ad group')");
  await page.waitForURL(/saved=ad_groups/);

  // An ad with an image made here and uploaded.
  await page.click('a.button >> text="New ad"');
  const png = await page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 300; canvas.height = 450;
    const g = canvas.getContext("2d");
    g.fillStyle = "#2e7d32"; g.fillRect(0, 0, 300, 450);
    g.fillStyle = "#fff"; g.font = "bold 36px sans-serif"; g.fillText("Seeds", 90, 230);
    return canvas.toDataURL("image/png").split(",")[1];
  });
  await page.fill("#f-name", "Seed kit");
  await page.selectOption("#f-ad_group_id", { label: "Winter garden › Readers" });
  await page.fill("#f-pin-title", "Winter seed kit");
  await page.fill("#f-pin-description", "Twelve kinds of seeds that grow in the cold.");
  await page.fill("#f-pin-link", "https://garden.example/seeds");
  await page.fill("#f-pin-alt_text", "A green card that says Seeds");
  await page.setInputFiles("#f-pin-image", { name: "seeds.png", mimeType: "image/png", buffer: Buffer.from(png, "base64") });
  await accessible(page, "the ad form");
  await page.screenshot({ path: `${outDir}/console-ad.png`, fullPage: true });
  await page.click("button:has-text('Create ad')");
  await page.waitForURL(/saved=ads/);
  const adRow = page.locator("tr", { hasText: "Seed kit" });
  check((await adRow.innerText()).includes("Pending review"), "the new ad waits for review");
  await accessible(page, "the ad account with its objects");
  await page.screenshot({ path: `${outDir}/console-ads.png`, fullPage: true });

  // A tag: made here, installed on the shop, its test events arrive.
  await page.click("text=New tag");
  await page.fill("#tag-name", "Garden shop");
  await page.fill("#tag-sites", "garden.example");
  await page.click("button:has-text('Create tag')");
  await page.waitForURL(/\/tags\/\d+$/);
  const tagId = page.url().split("/").pop();
  check((await page.locator("pre.snippet").innerText()).includes(tagId), "the tag's snippet");
  await accessible(page, "the tag's page");
  await fetch(`${base}/v3/?tid=${tagId}&event=pagevisit&ad%5Bloc%5D=${encodeURIComponent("https://garden.example/seeds")}`, {
    headers: { origin: "https://garden.example" },
  });
  await page.locator("#tag-events", { hasText: "https://garden.example/seeds" }).waitFor();
  check(true, "a test event shows on the open page as it arrives");
  await page.screenshot({ path: `${outDir}/console-tag.png`, fullPage: true });

  // Reports: a range, columns, and the table as CSV.
  await page.goto(home);
  await page.click("text=Reports: any dates, columns, CSV");
  await page.check("#column-CPM_IN_DOLLAR");
  await page.click("button:has-text('Show')");
  await page.waitForURL(/columns=CPM_IN_DOLLAR/);
  await accessible(page, "the reports page");
  const csvHref = await page.locator("a:has-text('Download this table as CSV')").getAttribute("href");
  const csvText = await (await page.request.get(`${base}${csvHref}`)).text();
  check(csvText.startsWith("Name,Id,Spend,Impressions,Clicks,CTR,Cost per 1,000 impressions") || csvText.startsWith("Name,Id,Spend,Impressions,Clicks,CTR,\"Cost per 1,000 impressions\""), `the CSV has the columns on screen: ${csvText.split("\n")[0]}`);
  await page.goto(home);

  // The operator approves it on /admin.
  const operator = await context.newPage();
  await operator.goto(`${base}/admin`);
  await operator.fill("#token", admin);
  await operator.click("button:has-text('Sign in')");
  const waiting = operator.locator("section", { hasText: "Winter seed kit" });
  await waiting.waitFor();
  check(await waiting.locator("img").count() === 1, "the queue shows the pin as people will see it");
  await accessible(operator, "the review queue");
  await operator.screenshot({ path: `${outDir}/admin-review.png`, fullPage: true });
  await waiting.locator("button:has-text('Approve')").click();
  await operator.waitForLoadState();
  check(await operator.locator("section", { hasText: "Winter seed kit" }).count() === 0, "approved: the queue is empty");
  for (const path of ["/admin/reports", "/admin/accounts", "/admin/tokens", "/admin/support", "/admin/health"]) {
    await operator.goto(`${base}${path}`);
    await accessible(operator, `the operator's ${path}`);
  }
  await operator.screenshot({ path: `${outDir}/admin-health.png`, fullPage: true });
  await page.reload();
  check((await page.locator("tr", { hasText: "Seed kit" }).innerText()).includes("Approved"), "the advertiser sees it approved");

  // A person on the list sees it; hides it; it is gone.
  const decide = () => api("POST", "/v1/decisions", { user_id: "p7", placement: "home_feed", count: 3 });
  const served = (await decide()).ads.find((a) => a.pin?.title === "Winter seed kit");
  check(served !== undefined, "the ad serves to a person on the customer list");
  const image = await fetch(served.pin.image_url);
  check(image.ok && image.headers.get("content-type") === "image/png", `its image is served by adloom: ${served.pin.image_url}`);
  await api("POST", "/v1/people/p7/hidden_ads", { ad_id: served.ad_id, scope: "ad" });
  check(!(await decide()).ads.some((a) => a.ad_id === served.ad_id), "hidden: the next decision leaves it out");
  const link = await api("POST", "/v1/admin/people/p7/page_link");
  const person = await context.newPage();
  await person.goto(link.url);
  await person.click("button[type=submit]");
  await person.waitForURL(/\/settings\/ads/);
  const hidden = await person.locator("section[aria-labelledby=hidden]").innerText();
  check(hidden.includes("Garden Co."), `the person's page lists the hidden ad: ${hidden.trim().slice(0, 120)}`);
  await accessible(person, "the ads settings page with a hidden ad");
  await person.screenshot({ path: `${outDir}/settings-hidden.png`, fullPage: true });
  console.log("ads manager: passed");
} finally {
  await browser.close();
}
