// adloom's feed SDK: renders a promoted pin from a decision (POST
// /v1/decisions) in a platform's web feed, and reports what the person saw
// and did. An ES module without dependencies; adloom serves it at
// /sdk/feed.js.
//
//   import { renderPromotedPin } from "/sdk/feed.js";
//   const pin = renderPromotedPin(decision.ads[0], {
//     settingsUrl: "/settings/ads",
//     onHide: (ad, element, scope) => { ... },    // "Hide this ad"
//     onReport: (ad, element, reason) => { ... }, // "Report this ad"
//   });
//   slot.append(pin.element);            // pin.stop() when the feed unmounts
//
// The impression beacon fires once the ad is viewable by the industry's
// definition (the IAB/MRC display standard): at least half of its pixels on
// screen for one continuous second, in a visible tab. An ad never scrolled
// into view, or scrolled past in under a second, bills nothing. The click
// beacon is the ad's link: clicking it counts the click and goes on to the
// advertiser's page.

/** At least this share of the ad's pixels on screen... */
export const VIEWABLE_SHARE = 0.5;
/** ...for this long without interruption (milliseconds). */
export const VIEWABLE_MS = 1000;

/**
 * Calls `onViewable` once, when `element` has been at least `share`
 * visible for `ms` without interruption while the page was visible.
 * Returns a function that stops watching.
 */
export function watchViewability(element, onViewable, { share = VIEWABLE_SHARE, ms = VIEWABLE_MS } = {}) {
  const doc = element.ownerDocument;
  let inView = false;
  let timer = null;
  let done = false;
  const cancel = () => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  };
  // The clock runs only while both hold; any interruption starts it over.
  // The element says where it stands (`data-in-view` while the clock runs,
  // `data-viewed` once counted), for the platform's tools and tests.
  const update = () => {
    if (done) return;
    if (inView && doc.visibilityState === "visible") {
      element.setAttribute("data-in-view", "");
      if (timer === null) {
        timer = setTimeout(() => {
          stop();
          element.setAttribute("data-viewed", "");
          onViewable();
        }, ms);
      }
    } else {
      element.removeAttribute("data-in-view");
      cancel();
    }
  };
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        inView = entry.isIntersecting && entry.intersectionRatio >= share;
      }
      update();
    },
    // Thresholds just below and at the share, so that crossing it either
    // way is reported.
    { threshold: [0, share] },
  );
  const stop = () => {
    done = true;
    cancel();
    element.removeAttribute("data-in-view");
    observer.disconnect();
    doc.removeEventListener("visibilitychange", update);
  };
  observer.observe(element);
  doc.addEventListener("visibilitychange", update);
  return stop;
}

/**
 * Sends a beacon: a GET that outlives the page, with no cookies. The feed
 * may be on another origin than adloom: the answer is not read (`no-cors`),
 * the request is what counts.
 */
export function fireBeacon(url) {
  return fetch(url, { method: "GET", mode: "no-cors", keepalive: true, credentials: "omit", cache: "no-store" }).catch(() => {});
}

function el(doc, tag, attributes = {}, ...children) {
  const node = doc.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child);
  }
  return node;
}

/** "Report this ad": Pinterest's reasons, as the API takes them. */
const REPORT_REASONS = [
  ["spam", "Spam"],
  ["misleading", "Misleading or a scam"],
  ["offensive", "Offensive or inappropriate"],
  ["not_relevant", "Not relevant to me"],
  ["other", "Something else"],
];

/**
 * Builds the promoted pin for one ad of a decision, and starts watching it
 * for viewability.
 *
 * Options:
 * - `settingsUrl`: the platform's ads settings page ("Use info from our ad
 *   partners"), linked from "Why am I seeing this ad?" (default
 *   `/settings/ads`).
 * - `imageUrl(ad)`: where the feed loads the pin's image from; a platform
 *   serves or proxies pin images itself, so that no advertiser's server
 *   sees who scrolled by (default: the pin's `image_url`).
 * - `onHide(ad, element, scope)`: the platform's "Hide this ad" (`scope`
 *   "ad") and "Hide all ads from ..." ("advertiser"), shown only when
 *   given; the platform sends it to adloom (`POST /v1/people/{user_id}/
 *   hidden_ads`). The pin then leaves the feed.
 * - `onReport(ad, element, reason)`: "Report this ad", shown only when
 *   given: the person picks one of Pinterest's reasons (spam, misleading,
 *   offensive, not_relevant, other) and the platform sends it on
 *   (`POST /v1/people/{user_id}/ad_reports`).
 * - `onImpression(ad)`: told when the impression beacon fires.
 * - `document`: the document to build in (default: the global one).
 *
 * Returns `{ element, stop }`: the `<article>` to place in the feed, and a
 * function that stops watching it (call it when the feed drops the pin).
 */
export function renderPromotedPin(ad, options = {}) {
  const doc = options.document || globalThis.document;
  const settingsUrl = options.settingsUrl || "/settings/ads";
  const title = (ad.pin && ad.pin.title) || "Promoted pin";
  const image = options.imageUrl ? options.imageUrl(ad) : ad.pin && ad.pin.image_url;

  const why = el(doc, "ul", { class: "why" });
  for (const reason of ad.why || []) {
    why.append(el(doc, "li", { "data-kind": reason.kind }, reason.text));
  }
  const menu = el(doc, "details", {},
    el(doc, "summary", {}, "Why am I seeing this ad?"),
    why,
    el(doc, "p", { class: "hint" }, el(doc, "a", { href: settingsUrl }, "Ads settings")),
  );
  const article = el(doc, "article", {
    class: "pin ad",
    "data-ad-id": ad.ad_id,
    "data-ad-group": ad.ad_group_id,
  },
    el(doc, "a", { href: ad.click_url }, el(doc, "img", { src: image, alt: title, width: "240", height: "300" })),
    el(doc, "div", { class: "body" },
      el(doc, "p", { class: "title" }, el(doc, "a", { href: ad.click_url }, title)),
      el(doc, "p", { class: "promoted" }, `Promoted by ${ad.advertiser}`),
      menu,
    ),
  );
  const actions = el(doc, "div", { class: "actions" });
  const stop = watchViewability(article, () => {
    fireBeacon(ad.impression_url);
    if (options.onImpression) options.onImpression(ad);
  });
  const button = (label, onClick) => {
    const b = el(doc, "button", { type: "button" }, label);
    b.addEventListener("click", onClick);
    actions.append(b);
    return b;
  };
  if (options.onHide) {
    const hide = (scope) => () => {
      options.onHide(ad, article, scope);
      stop();
      article.remove();
    };
    button("Hide this ad", hide("ad"));
    button(`Hide all ads from ${ad.advertiser}`, hide("advertiser"));
  }
  if (options.onReport) {
    // Pinterest's reasons, picked in a small form of the menu.
    const form = el(doc, "form", { class: "report", hidden: "" });
    const reasons = el(doc, "fieldset", {}, el(doc, "legend", {}, "Why are you reporting this ad?"));
    REPORT_REASONS.forEach(([value, label], i) => {
      const id = `report-${ad.ad_id}-${value}`;
      const radio = el(doc, "input", { type: "radio", name: "reason", value, id });
      if (i === 0) radio.checked = true;
      reasons.append(el(doc, "div", { class: "option" }, radio, el(doc, "label", { for: id }, label)));
    });
    form.append(reasons, el(doc, "button", { type: "submit" }, "Send report"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      options.onReport(ad, article, form.elements.reason.value);
      form.replaceWith(el(doc, "p", { class: "hint", role: "status" }, "Thanks: the platform will look at this ad."));
    });
    const open = button("Report this ad", () => {
      form.hidden = false;
      open.setAttribute("aria-expanded", "true");
      form.querySelector("input").focus();
    });
    open.setAttribute("aria-expanded", "false");
    actions.append(form);
  }
  if (actions.childElementCount > 0) menu.append(actions);
  return { element: article, stop };
}
