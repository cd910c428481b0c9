/* The demo shop's use of the adloom tag, as a shop would write it: load the
 * tag with the signed-in customer's email (hashed by the tag before it
 * leaves the page), then report what this page is. */
(function (w, d) {
  "use strict";
  w.pintrk = w.pintrk || function () { (w.pintrk.queue = w.pintrk.queue || []).push(arguments); };
  var b = d.body.dataset;
  if (!b.tag) return;
  w.pintrk("load", b.tag, b.email ? { em: b.email } : {});
  if (b.event === "pagevisit") {
    w.pintrk("page");
  } else if (b.event) {
    var data = {};
    if (b.value) { data.value = b.value; data.currency = "USD"; }
    if (b.order) { data.order_id = b.order; data.event_id = b.order; }
    w.pintrk("track", b.event, data);
  }
})(window, document);
