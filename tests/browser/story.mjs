// The help page's story in a real browser (headless Chromium), against a
// running `adloom demo`:
//   pick Alice, look at shoes in the shop without buying, open the feed and
//   see Shoes Inc.'s ad "because you visited their website"; switch "Use
//   info from our ad partners" to No; the shoe ad is gone, other promoted
//   pins stay, and no partner reason is left.
// Screenshots of the feed, the settings page and the console go to OUT_DIR.
//
// Usage: node story.mjs BASE_URL OUT_DIR CONSOLE_TOKEN
// Chromium: $ADLOOM_CHROMIUM, else /usr/bin/chromium (Debian's package).

import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [base, outDir, consoleToken] = process.argv.slice(2);
if (!base || !outDir) {
  console.error("usage: node story.mjs BASE_URL OUT_DIR [CONSOLE_TOKEN]");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.ADLOOM_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  page.setDefaultTimeout(20000);

  // Pick Alice.
  await page.goto(`${base}/demo`);
  await page.selectOption("#person", "alice");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/demo\/shop$/);

  // Look at the Red Runner without buying: the tag sends a page visit.
  const pixel = page.waitForRequest((r) => r.url().includes("/v3/?") && r.url().includes("event=pagevisit"));
  await page.click("a:has-text('Red Runner')");
  await page.waitForURL(/\/demo\/shop\/products\/red-runner$/);
  const sent = await pixel;
  check(/[0-9a-f]{64}/.test(decodeURIComponent(sent.url())), `the tag sent a page visit with a hashed email: ${sent.url()}`);
  check(!sent.url().includes("alice%40") && !sent.url().includes("alice@"), "no plain email in the pixel");

  // The feed shows the shoe ad, saying why.
  await page.goto(`${base}/demo/feed`);
  const shoeAd = page.locator("article.ad", { hasText: "Promoted by Shoes Inc." });
  await shoeAd.first().waitFor();
  await shoeAd.first().locator("summary").click();
  const reasons = await shoeAd.first().locator("ul.why").innerText();
  check(reasons.includes("visited their website"), `the shoe ad says why: ${reasons.trim()}`);
  await page.screenshot({ path: `${outDir}/feed.png`, fullPage: true });

  // "Advertisers who have your info": the shop's tag saw the visit.
  await page.goto(`${base}/settings/ads`);
  const who = await page.locator("section[aria-labelledby=advertisers]").innerText();
  check(who.includes("Shoes Inc.") && who.includes("website tag"), `the settings page names the shop and how it has the info: ${who.trim().slice(0, 160)}`);
  await page.screenshot({ path: `${outDir}/settings-advertisers.png`, fullPage: true });

  // Switch "Use info from our ad partners" to No, with the plain form.
  await page.check("#choice-no");
  await page.click("form[action='/settings/ads'] button[type=submit]");
  await page.waitForURL(/saved=1/);
  const state = await page.locator(".state").innerText();
  check(state.includes("partner info is off for your ads"), "the settings page says partner info is off");
  await page.screenshot({ path: `${outDir}/settings.png`, fullPage: true });

  // The feed again: no shoe ad, other promoted pins, no partner reason.
  await page.goto(`${base}/demo/feed`);
  check((await page.locator("article.ad", { hasText: "Promoted by Shoes Inc." }).count()) === 0, "the shoe ad is gone");
  const others = await page.locator("article.ad").count();
  check(others > 0, `other promoted pins remain (${others})`);
  for (const kind of ["website_visit", "customer_list", "conversion"]) {
    check((await page.locator(`li[data-kind^='${kind}']`).count()) === 0, `no ${kind} reason`);
  }
  await page.locator("article.ad summary").first().click();
  await page.screenshot({ path: `${outDir}/feed-after-no.png`, fullPage: true });

  // "Report this ad" from the ad's menu, with a reason; then "Hide this ad".
  const ad = page.locator("article.ad").first();
  const adId = await ad.getAttribute("data-ad-id");
  await ad.locator("button:has-text('Report this ad')").click();
  await ad.locator("input[value=misleading]").check();
  const reported = page.waitForResponse((r) => r.url().includes(`/demo/ads/${adId}/report`));
  await ad.locator("button:has-text('Send report')").click();
  check((await reported).status() === 204, "the platform sent the report on");
  check((await ad.innerText()).includes("Thanks"), "the menu thanks the person");
  await page.screenshot({ path: `${outDir}/feed-report.png`, fullPage: true });
  const hid = page.waitForResponse((r) => r.url().includes(`/demo/ads/${adId}/hide`));
  await ad.locator("button:has-text('Hide this ad')").click();
  check((await hid).status() === 204, "the platform sent the hide on");
  check((await page.locator(`article.ad[data-ad-id='${adId}']`).count()) === 0, "the hidden ad leaves the feed");
  await page.goto(`${base}/demo/feed`);
  check((await page.locator(`article.ad[data-ad-id='${adId}']`).count()) === 0, "the hidden ad stays gone");
  await page.goto(`${base}/settings/ads`);
  const hiddenList = await page.locator("section[aria-labelledby=hidden]").innerText();
  check(!hiddenList.includes("You have not hidden any ads"), `the settings page lists the hidden ad: ${hiddenList.trim().slice(0, 100)}`);

  // The advertiser console, signed in with the shop's token.
  if (consoleToken) {
    await page.goto(`${base}/console`);
    await page.fill("#token", consoleToken);
    await page.click("form[action='/console/sign_in'] button[type=submit]");
    await page.waitForURL(/\/console\/accounts\//);
    check((await page.locator("svg").count()) > 0, "the console draws its charts");
    await page.screenshot({ path: `${outDir}/console.png`, fullPage: true });
  }
} finally {
  await browser.close();
}
