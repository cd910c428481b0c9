/* adloom tag: the pintrk API.
 *
 *   pintrk('load', TAG_ID, {em: 'person@example.com'})  identify the tag (and the person)
 *   pintrk('page')                                      a page visit
 *   pintrk('track', 'checkout', {value: 10, order_id: 'o-1', event_id: 'e-1'})
 *   pintrk('set', {em: '...'})                          identify the person later
 *   pintrk('setconsent', false)                         stop sending, forget this browser
 *
 * Emails are normalized (trimmed, lowercased) and SHA-256-hashed here, in the
 * browser: only the hash ever leaves the page. */
(function (w, d) {
  "use strict";
  var BASE = "__ADLOOM_BASE__";
  var CID = "_adloom_cid";
  var EPIK = "_epik";
  var CONSENT = "_adloom_consent";
  var YEAR = 365;

  var tags = [];
  var pd = {};
  var consent = readCookie(CONSENT) !== "0";
  // Commands run in order, each after the hashing of the one before.
  var ready = Promise.resolve();

  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function writeCookie(name, value, days) {
    d.cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=" + days * 86400 + "; SameSite=Lax";
  }
  function randomId() {
    var bytes = new Uint8Array(16);
    if (w.crypto && w.crypto.getRandomValues) {
      w.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  // A browser that sends Global Privacy Control gets no identifying cookie.
  function mayRemember() {
    return consent && !(w.navigator && w.navigator.globalPrivacyControl);
  }
  function remember() {
    if (!mayRemember()) return;
    if (!readCookie(CID)) writeCookie(CID, randomId(), YEAR);
    var m = /[?&]epik=([^&#]*)/.exec(w.location.search || "");
    if (m) writeCookie(EPIK, decodeURIComponent(m[1]), YEAR);
  }

  function utf8(s) {
    if (w.TextEncoder) return Array.prototype.slice.call(new w.TextEncoder().encode(s));
    var bin = unescape(encodeURIComponent(s)), out = [];
    for (var i = 0; i < bin.length; i++) out.push(bin.charCodeAt(i));
    return out;
  }
  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  // SHA-256 for pages without WebCrypto (plain http): round constants are
  // the fractional parts of the cube roots of the first 64 primes.
  function sha256Fallback(s) {
    var primes = [], n = 2;
    while (primes.length < 64) {
      var isPrime = true;
      for (var i = 0; i < primes.length && primes[i] * primes[i] <= n; i++) if (n % primes[i] === 0) isPrime = false;
      if (isPrime) primes.push(n);
      n++;
    }
    var frac = function (x) { return (x - Math.floor(x)) * 4294967296 | 0; };
    var K = primes.map(function (p) { return frac(Math.cbrt(p)); });
    var H = primes.slice(0, 8).map(function (p) { return frac(Math.sqrt(p)); });
    var rotr = function (x, k) { return (x >>> k) | (x << (32 - k)); };
    var bytes = utf8(s), bits = bytes.length * 8;
    bytes.push(0x80);
    while (bytes.length % 64 !== 56) bytes.push(0);
    var hi = Math.floor(bits / 4294967296), lo = bits >>> 0;
    bytes.push(hi >>> 24 & 255, hi >>> 16 & 255, hi >>> 8 & 255, hi & 255, lo >>> 24 & 255, lo >>> 16 & 255, lo >>> 8 & 255, lo & 255);
    var W = new Array(64);
    for (var off = 0; off < bytes.length; off += 64) {
      for (var t = 0; t < 16; t++) {
        W[t] = (bytes[off + 4 * t] << 24) | (bytes[off + 4 * t + 1] << 16) | (bytes[off + 4 * t + 2] << 8) | bytes[off + 4 * t + 3];
      }
      for (t = 16; t < 64; t++) {
        var x = W[t - 15], y = W[t - 2];
        W[t] = (W[t - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[t - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) | 0;
      }
      var a = H[0], b = H[1], c = H[2], e4 = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (t = 0; t < 64; t++) {
        var t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
        var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (e4 + t1) | 0; e4 = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      H = [H[0] + a, H[1] + b, H[2] + c, H[3] + e4, H[4] + e, H[5] + f, H[6] + g, H[7] + h].map(function (v) { return v | 0; });
    }
    return H.map(function (v) { return ("0000000" + (v >>> 0).toString(16)).slice(-8); }).join("");
  }
  function sha256(s) {
    var subtle = w.crypto && w.crypto.subtle;
    if (subtle && w.TextEncoder) {
      return subtle.digest("SHA-256", new w.TextEncoder().encode(s)).then(function (buf) { return hex(new Uint8Array(buf)); });
    }
    return Promise.resolve(sha256Fallback(s));
  }
  function hashEmail(em) {
    if (typeof em !== "string") return Promise.resolve(null);
    var value = em.trim().toLowerCase();
    if (/^[0-9a-f]{64}$/.test(value)) return Promise.resolve(value);
    if (value.indexOf("@") < 1) return Promise.resolve(null);
    return sha256(value);
  }
  function identify(opts) {
    if (!opts || !opts.em) return Promise.resolve();
    return hashEmail(opts.em).then(function (h) { if (h) pd.em = h; });
  }

  function send(event, data) {
    if (!consent || !tags.length) return;
    var user = { em: pd.em };
    if (mayRemember()) {
      user.cid = readCookie(CID) || undefined;
      user.epik = readCookie(EPIK) || undefined;
    }
    var ad = { loc: String(w.location.href), ref: d.referrer || undefined };
    tags.forEach(function (tid) {
      var q = [
        "tid=" + encodeURIComponent(tid),
        "event=" + encodeURIComponent(event),
        "ed=" + encodeURIComponent(JSON.stringify(data || {})),
        "pd=" + encodeURIComponent(JSON.stringify(user)),
        "ad=" + encodeURIComponent(JSON.stringify(ad)),
        "cb=" + Date.now()
      ];
      var img = new w.Image(1, 1);
      img.src = BASE + "/v3/?" + q.join("&");
    });
  }

  function forget() {
    [CID, EPIK].forEach(function (name) { d.cookie = name + "=; path=/; max-age=0"; });
    try {
      Object.keys(w.localStorage || {}).forEach(function (k) { if (k.indexOf("_adloom") === 0) w.localStorage.removeItem(k); });
    } catch (e) { /* storage may be blocked */ }
    pd = {};
  }

  function run(args) {
    var command = args[0];
    switch (command) {
      case "load":
        if (args[1] && tags.indexOf(String(args[1])) < 0) tags.push(String(args[1]));
        remember();
        return identify(args[2]);
      case "set":
        return identify(args[1]);
      case "page":
        send("pagevisit", args[1]);
        return;
      case "track":
        if (args[1]) send(String(args[1]).toLowerCase(), args[2]);
        return;
      case "setconsent":
        consent = args[1] !== false;
        writeCookie(CONSENT, consent ? "1" : "0", YEAR);
        if (!consent) forget();
        else remember();
        return;
    }
  }

  function pintrk() {
    var args = Array.prototype.slice.call(arguments);
    ready = ready.then(function () { return run(args); }).catch(function () { /* never break the page */ });
    return ready;
  }
  var queued = (w.pintrk && w.pintrk.queue) || [];
  w.pintrk = pintrk;
  w.pintrk.version = "3.0";
  w.pintrk.queue = [];
  queued.forEach(function (args) { pintrk.apply(null, args); });
})(window, document);
