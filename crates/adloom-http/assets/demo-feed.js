// The demo feed's use of the feed SDK, as a platform would write it: each
// ad slot holds one ad of the decision; the SDK renders it, fires its
// impression beacon once it is viewable, and offers "Hide this ad".
import { renderPromotedPin } from "/sdk/feed.js";

for (const slot of document.querySelectorAll(".ad-slot[data-ad]")) {
  const ad = JSON.parse(slot.dataset.ad);
  const { element } = renderPromotedPin(ad, {
    settingsUrl: "/settings/ads",
    // The demo keeps no record of hidden ads: the pin leaves this page.
    onHide: () => {},
  });
  slot.replaceWith(element);
}
