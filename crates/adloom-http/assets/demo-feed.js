// The demo feed's use of the feed SDK, as a platform would write it: each
// ad slot holds one ad of the decision; the SDK renders it, fires its
// impression beacon once it is viewable, and offers "Hide this ad" and
// "Report this ad", which the demo platform's backend sends on to adloom.
import { renderPromotedPin } from "/sdk/feed.js";

const csrf = document.querySelector(".pins")?.dataset.csrf ?? "";

/// The demo platform's backend, as the person signed in to it.
function send(path, fields) {
  return fetch(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-csrf-token": csrf },
    body: new URLSearchParams(fields),
    credentials: "same-origin",
  });
}

for (const slot of document.querySelectorAll(".ad-slot[data-ad]")) {
  const ad = JSON.parse(slot.dataset.ad);
  const { element } = renderPromotedPin(ad, {
    settingsUrl: "/settings/ads",
    onHide: (ad, _element, scope) => send(`/demo/ads/${ad.ad_id}/hide`, { scope }),
    onReport: (ad, _element, reason) => send(`/demo/ads/${ad.ad_id}/report`, { reason }),
  });
  slot.replaceWith(element);
}
