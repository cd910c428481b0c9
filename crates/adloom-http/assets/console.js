// Ads Manager's script. The customer-list upload: the CSV file is read here, in the
// browser; every email, phone number and mobile ad ID in it is normalized
// as `adloom hash` normalizes it (crates/adloom-core/src/identifier.rs) and
// hashed with Web Crypto (SHA-256). Only the digests are sent, in batches,
// with a progress bar: adloom never receives the file or a plain identifier.

const BATCH = 5000;

/// Trims and lowercases an email, and checks that it looks like one.
export function normalizeEmail(input) {
  const email = input.trim().toLowerCase();
  const at = email.indexOf("@");
  if (at < 1) return null;
  const domain = email.slice(at + 1);
  const ok = domain.length > 0 && !domain.includes("@") && !domain.startsWith(".")
    && !domain.endsWith(".") && email.length <= 254 && !/[\s\p{Cc}]/u.test(email);
  return ok ? email : null;
}

/// The digits of a phone number with its country code: `+`, spaces,
/// dashes, dots, slashes and parentheses dropped, then the leading zeros of
/// an international prefix; letters refuse the number.
export function normalizePhone(input) {
  let digits = "";
  for (const c of input.trim()) {
    if (c >= "0" && c <= "9") digits += c;
    else if (!"+ -./()\t".includes(c)) return null;
  }
  digits = digits.replace(/^0+/, "");
  return digits.length >= 7 && digits.length <= 15 ? digits : null;
}

/// A mobile ad ID as 8-4-4-4-12 upper case; "" for the all-zero ID, which
/// a device reports when its owner limited ad tracking (never sent).
export function normalizeMaid(input) {
  const trimmed = input.trim().replace(/^\{+/, "").replace(/\}+$/, "");
  const hex = trimmed.replaceAll("-", "");
  const dashesInPlace = trimmed.length === 32 || (trimmed.length === 36
    && [...trimmed].every((c, i) => (c === "-") === [8, 13, 18, 23].includes(i)));
  if (hex.length !== 32 || !dashesInPlace || !/^[0-9a-fA-F]+$/.test(hex)) return null;
  if (/^0+$/.test(hex)) return "";
  const h = hex.toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/// The cells of a CSV text, quotes understood.
function* cells(text) {
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === "," || c === ";" || c === "\n" || c === "\r" || c === "\t") { yield cell; cell = ""; }
    else cell += c;
  }
  yield cell;
}

/// What a cell is, normalized: `{kind, value}`, or null.
export function identifier(cell) {
  if (!cell.trim()) return null;
  if (cell.includes("@")) {
    const email = normalizeEmail(cell);
    return email && { kind: "email", value: email };
  }
  const maid = normalizeMaid(cell);
  if (maid !== null) return maid ? { kind: "maid", value: maid } : { kind: "limited", value: "" };
  const phone = normalizePhone(cell);
  return phone && { kind: "phone", value: phone };
}

async function sha256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function show(form, id, message) {
  const p = form.querySelector(`#${id}`);
  p.textContent = message;
  p.hidden = !message;
  const input = document.getElementById(id.replace(/-error$/, ""));
  if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
}

async function upload(form) {
  const account = form.dataset.account;
  const status = document.getElementById("list-status");
  const progress = document.getElementById("list-progress");
  // A list that exists takes the file's people on or off (`operation`);
  // a new one needs a name.
  const existing = form.dataset.list || null;
  const operation = existing ? form.elements.operation.value : "ADD";
  const name = existing ? "" : form.elements.name.value.trim();
  const file = form.elements.file.files[0];
  if (!existing) show(form, "list-name-error", name ? "" : "Give the list a name.");
  show(form, "list-file-error", file ? "" : "Choose a CSV file.");
  if ((!existing && !name) || !file) return;

  status.textContent = "Reading and hashing the file in your browser…";
  const digests = new Set();
  const kinds = new Set();
  let skipped = 0;
  for (const cell of cells(await file.text())) {
    const id = identifier(cell);
    if (!id) { if (cell.trim()) skipped++; continue; }
    if (id.kind === "limited") continue;
    kinds.add(id.kind);
    digests.add(await sha256(id.value));
  }
  if (digests.size === 0) {
    show(form, "list-file-error", "The file has no email, phone number or mobile ad ID.");
    status.textContent = "";
    return;
  }
  const all = [...digests];
  const listType = kinds.size === 1 && kinds.has("maid") ? "MAID" : "EMAIL";
  document.getElementById("list-progress-area").hidden = false;
  let listId = existing;
  for (let at = 0; at < all.length; at += BATCH) {
    const records = all.slice(at, at + BATCH).join(",");
    const [url, body] = listId === null
      ? [`/console/accounts/${account}/customer_lists`, { name, list_type: listType, records }]
      : [`/console/accounts/${account}/customer_lists/${listId}/records`, { records, operation_type: operation }];
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": form.dataset.csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const answer = await res.json().catch(() => ({ message: `the server answered ${res.status}` }));
    if (!res.ok) {
      const message = answer.message || `the server answered ${res.status}`;
      if (message.startsWith("name:")) show(form, "list-name-error", message.slice(5).trim());
      status.textContent = `Not uploaded: ${message}`;
      status.setAttribute("role", "alert");
      return;
    }
    listId = answer.id;
    progress.value = Math.round(100 * Math.min(at + BATCH, all.length) / all.length);
    status.textContent = `Uploaded ${Math.min(at + BATCH, all.length)} of ${all.length} hashed records.`;
  }
  status.textContent = `Uploaded ${all.length} hashed records${skipped ? `; ${skipped} cells were not an identifier and were left out` : ""}.`;
  const saved = existing ? "customer_list_changed" : "customer_lists";
  window.location.assign(`/console/accounts/${account}?saved=${saved}#customer_lists`);
}

// Loaded by Node.js too (the normalization's tests): no page there.
const form = typeof document === "undefined" ? null : document.getElementById("list-upload");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    upload(form).catch((e) => {
      document.getElementById("list-status").textContent = `Not uploaded: ${e.message}`;
    }).finally(() => { button.disabled = false; });
  });
}

// A tag's page: its test events, asked for again every few seconds while
// the page is in view.
const events = typeof document === "undefined" ? null : document.getElementById("tag-events");
if (events) {
  const refresh = async () => {
    const res = await fetch(events.dataset.events, { credentials: "same-origin" });
    if (!res.ok) return;
    const rows = await res.text();
    if (rows !== events.innerHTML) events.innerHTML = rows;
  };
  setInterval(() => {
    if (document.visibilityState === "visible") refresh().catch(() => {});
  }, 3000);
}
